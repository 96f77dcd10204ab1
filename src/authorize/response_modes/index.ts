// An authorization response, independent of how it travels (RFC 6749 §4.1.2,
// OAuth 2.0 Multiple Response Types §2.1, OAuth 2.0 Form Post Response Mode).
export type ResponseMode = 'query' | 'fragment' | 'form_post';

export interface AuthorizationResponse {
  mode: ResponseMode;
  redirectUri: string;
  params: Record<string, string | undefined>;
}

export { queryRedirect } from './query.js';
export { fragmentRedirect } from './fragment.js';
