// An authorization response, independent of how it travels (RFC 6749 §4.1.2,
// OAuth 2.0 Multiple Response Types §2.1, OAuth 2.0 Form Post Response Mode), and how
// each response mode carries it: a framework-free description that the HTTP layer turns
// into a reply (http/authorization_response.ts).
import { formPost, type FormPost } from './form_post.js';
import { fragmentRedirect } from './fragment.js';
import { queryRedirect } from './query.js';

export type ResponseMode = 'query' | 'fragment' | 'form_post';

export interface AuthorizationResponse {
  mode: ResponseMode;
  redirectUri: string;
  params: Record<string, string | undefined>;
}

/** How the browser is sent back to the client: a 303 redirect, or a page that posts. */
export type ResponseDelivery = { kind: 'redirect'; location: string } | FormPost;

export function deliver(response: AuthorizationResponse): ResponseDelivery {
  switch (response.mode) {
    case 'query': return { kind: 'redirect', location: queryRedirect(response.redirectUri, response.params) };
    case 'fragment': return { kind: 'redirect', location: fragmentRedirect(response.redirectUri, response.params) };
    case 'form_post': return formPost(response.redirectUri, response.params);
  }
}

export { queryRedirect, fragmentRedirect, formPost };
export type { FormPost, FormPostPage } from './form_post.js';
