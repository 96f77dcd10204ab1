// OAuth 2.0 Multiple Response Types §2: parameters in the fragment. Alias uses it only
// to return errors for response_type=id_token requests that did not ask for form_post
// (the fragment is that response type's default mode); ID tokens go by form_post only.
export function fragmentRedirect(redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  const fragment = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) fragment.append(k, v);
  url.hash = fragment.toString();
  return url.href;
}
