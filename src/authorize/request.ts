// The authorization request once validated (RFC 6749 §4.1.1, OIDC Core §3.1.2.1), and
// the two kinds of error a request can end in.
import type { Client } from '../store/types.js';
import { OAuthError } from '../oauth/errors.js';
import type { ResponseMode } from './response_modes/index.js';
import type { Acr } from '../oauth/acr.js';

export type { ResponseMode };

export type ResponseType = 'code' | 'id_token';
export const PROMPTS = ['none', 'login', 'consent', 'select_account'] as const;
export type Prompt = (typeof PROMPTS)[number];

export interface AuthorizationRequest {
  client: Client;
  redirectUri: string;
  responseType: ResponseType;
  /** query or form_post: a validated request never answers in the fragment. */
  responseMode: ResponseMode;
  state?: string;
  nonce?: string;
  /** User scopes, and the requested resources' scopes as `URI#scope` (oauth/resource.ts). */
  scopes: string[];
  /** RFC 8707: the resources (URIs, registered) the code's tokens may be for. */
  resources: string[];
  /** Requested channels; empty unless `contact` is requested. */
  channels: string[];
  includeGrantedScopes: boolean;
  includeGrantedChannels: boolean;
  prompt: Prompt[];
  maxAge?: number;
  codeChallenge?: string;
  /** RFC 9449 §10: the code is redeemed only with a DPoP proof of this key. */
  dpopJkt?: string;
  /**
   * The `sub` of a verified id_token_hint (OIDC Core §3.1.2.1): the person the client
   * expects to be signed in. Only the subject is kept, never the token.
   */
  idTokenHintSub?: string;
  /**
   * OIDC Core §3.1.2.1 acr_values: the levels Alias supports, in the client's order of
   * preference (values Alias does not know are dropped: the request is voluntary).
   */
  acrValues: Acr[];
  /**
   * OIDC Core §5.5.1.1: `claims` asked for `acr` in the ID token as essential; any of these
   * levels meets it (undefined when not asked for as essential).
   */
  acrEssential?: Acr[];
}

/** Where an authorization error can be sent back safely. */
export interface ReplyTarget {
  redirectUri: string;
  responseMode: ResponseMode;
  state?: string;
}

/** An error that must be shown on Alias's page, never redirected (RFC 6749 §4.1.2.1). */
export class UntrustedRequestError extends OAuthError {}

/** An error to send to the client's redirect URI. */
export class RedirectableError extends Error {
  constructor(readonly oauth: OAuthError, readonly target: ReplyTarget) {
    super(oauth.message);
    this.name = 'RedirectableError';
  }
}
