// RFC 6749 §4.1.2: the response parameters are added to the redirect URI's query,
// keeping any query it already has.
export function queryRedirect(redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.append(k, v);
  return url.href;
}
