// OAuth 2.0 Form Post Response Mode §2: the parameters travel in an HTML form that the
// browser posts to the redirect URI. This module only describes that page; the HTTP
// layer renders it (template `form_post`: a script submits it, allowed by a per-response
// CSP nonce, and a button does for browsers without JavaScript).
export interface FormPostPage {
  title: string;
  /** Where the form posts: the redirect URI. */
  action: string;
  fields: { name: string; value: string }[];
}

export interface FormPost {
  kind: 'form_post';
  page: FormPostPage;
  /** The CSP `form-action` source the page needs (formActionSource). */
  formAction: string;
}

/**
 * The CSP source that allows posting to the redirect URI (CSP Level 3 §6.3.2): its origin
 * for http and https; for a native app's private-use URI scheme (RFC 8252 §7.1,
 * `com.example.app:/cb`) the origin is opaque and serialises as `null`, which matches
 * nothing (`form-action null` blocked the post), so the page names the scheme instead,
 * as a scheme-source (`com.example.app:`).
 */
export function formActionSource(redirectUri: string): string {
  const url = new URL(redirectUri);
  if (url.protocol === 'https:' || url.protocol === 'http:') return url.origin;
  return url.protocol;
}

export function formPost(redirectUri: string, params: Record<string, string | undefined>): FormPost {
  const formAction = formActionSource(redirectUri);
  const fields = Object.entries(params)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([name, value]) => ({ name, value }));
  return { kind: 'form_post', page: { title: 'Returning to the application', action: redirectUri, fields }, formAction };
}
