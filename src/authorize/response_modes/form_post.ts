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
  /** The CSP `form-action` source the page needs: the redirect URI's origin. */
  formAction: string;
}

export function formPost(redirectUri: string, params: Record<string, string | undefined>): FormPost {
  const formAction = new URL(redirectUri).origin;
  const fields = Object.entries(params)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([name, value]) => ({ name, value }));
  return { kind: 'form_post', page: { title: 'Returning to the application', action: redirectUri, fields }, formAction };
}
