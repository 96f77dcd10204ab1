// Parses and validates an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1).
// Two stages: until client_id and redirect_uri are trusted, every error is shown on
// Alias's own page (RFC 6749 §4.1.2.1: MUST NOT redirect); after that, errors go back
// to the client.
import type { Client } from '../store/store.js';
import { OAuthError } from '../oauth/errors.js';
import { flag, repeated, single, type RawParams } from '../oauth/params.js';
import { parseList } from '../oauth/scopes.js';
import { parseUserScopes } from './requested_scopes.js';
import type { ResponseMode } from './response_modes/index.js';

export type { ResponseMode };
import { matchRedirectUri } from '../oauth/redirect_uri.js';
import { checkChallenge } from '../oauth/pkce.js';

export type ResponseType = 'code' | 'id_token';
export const PROMPTS = ['none', 'login', 'consent', 'select_account'] as const;
export type Prompt = (typeof PROMPTS)[number];

export interface AuthorizationRequest {
  client: Client;
  redirectUri: string;
  responseType: ResponseType;
  responseMode: ResponseMode;
  state?: string;
  nonce?: string;
  scopes: string[];
  /** Requested channels; empty unless `contact` is requested. */
  channels: string[];
  includeGrantedScopes: boolean;
  includeGrantedChannels: boolean;
  prompt: Prompt[];
  maxAge?: number;
  codeChallenge?: string;
  /** The request as received, single-valued, kept for the interaction pages. */
  raw: Record<string, string>;
}

/** Where an authorization error can be sent back safely. */
export interface ReplyTarget {
  redirectUri: string;
  responseMode: ResponseMode;
  state?: string;
}

/** An error that must be shown on Alias's page, never redirected. */
export class UntrustedRequestError extends OAuthError {}

/** An error to send to the client's redirect URI. */
export class RedirectableError extends Error {
  constructor(readonly oauth: OAuthError, readonly target: ReplyTarget) {
    super(oauth.message);
    this.name = 'RedirectableError';
  }
}

export type ClientLookup = (id: string) => Promise<Client | undefined>;

function untrusted(fn: () => string | undefined): string | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof OAuthError) throw new UntrustedRequestError(err.error, err.description);
    throw err;
  }
}

export async function parseAuthorizationRequest(params: RawParams, lookup: ClientLookup): Promise<AuthorizationRequest> {
  // Stage 1: the client and where to answer it.
  const clientId = untrusted(() => single(params, 'client_id'));
  if (!clientId) throw new UntrustedRequestError('invalid_request', 'The request does not name an application (client_id is missing).');
  const client = await lookup(clientId);
  if (!client) throw new UntrustedRequestError('invalid_client', 'The application that sent you here is not registered with Alias.');
  const redirectUri = untrusted(() => single(params, 'redirect_uri'));
  // OIDC Core §3.1.2.1: redirect_uri is REQUIRED.
  if (!redirectUri) throw new UntrustedRequestError('invalid_request', 'The request does not say where to return (redirect_uri is missing).');
  if (!matchRedirectUri(client.redirectUris, redirectUri, client.isPublic)) {
    throw new UntrustedRequestError('invalid_request', 'The return address (redirect_uri) is not registered for this application.');
  }

  // Stage 2: anything wrong from here on goes back to the client, in the response mode
  // it asked for, else the default of its response type (OAuth 2.0 Multiple Response
  // Types §2.1: fragment for id_token, query for code).
  let state: string | undefined;
  let askedMode: string | undefined;
  let askedType: string | undefined;
  try {
    state = single(params, 'state');
  } catch {
    state = undefined;
  }
  try {
    askedMode = single(params, 'response_mode');
    askedType = single(params, 'response_type');
  } catch {
    /* reported below */
  }
  const modeOk = askedMode === 'query' || askedMode === 'form_post' || askedMode === 'fragment';
  const target: ReplyTarget = {
    redirectUri,
    responseMode: modeOk ? askedMode as ResponseMode : askedType === 'id_token' ? 'fragment' : 'query',
    state,
  };
  try {
    // RFC 6749 §4.1.2: a state that was sent must come back; one that cannot (repeated,
    // too long, malformed) is refused rather than dropped.
    single(params, 'state');
    const dupes = repeated(params);
    if (dupes.length) throw new OAuthError('invalid_request', `parameter '${dupes[0]}' is repeated`);
    // OIDC Core §6: request objects are not supported (and discovery says so).
    if (single(params, 'request') !== undefined) throw new OAuthError('request_not_supported', 'the request parameter is not supported');
    if (single(params, 'request_uri') !== undefined) throw new OAuthError('request_uri_not_supported', 'the request_uri parameter is not supported');
    if (single(params, 'registration') !== undefined) throw new OAuthError('registration_not_supported', 'the registration parameter is not supported');

    const responseType = single(params, 'response_type');
    if (!responseType) throw new OAuthError('invalid_request', "missing required parameter 'response_type'");
    if (responseType !== 'code' && responseType !== 'id_token') {
      throw new OAuthError('unsupported_response_type', `response_type '${responseType}' is not supported`);
    }
    const responseMode = single(params, 'response_mode');
    if (responseMode !== undefined && responseMode !== 'query' && responseMode !== 'form_post') {
      throw new OAuthError('invalid_request', `response_mode '${responseMode}' is not supported`);
    }
    if (responseType === 'code' && !client.grantTypes.includes('authorization_code')) {
      throw new OAuthError('unauthorized_client', 'this client may not use the authorization code flow');
    }
    if (responseType === 'id_token') {
      if (!client.grantTypes.includes('implicit')) throw new OAuthError('unauthorized_client', 'this client may not use the implicit flow');
      // No token ever travels in a URL: the implicit flow is form_post only.
      if (responseMode !== 'form_post') throw new OAuthError('invalid_request', "response_type 'id_token' requires response_mode 'form_post'");
      // OIDC Core §3.2.2.1: nonce is REQUIRED in the implicit flow.
      if (single(params, 'nonce') === undefined) throw new OAuthError('invalid_request', "the implicit flow requires a 'nonce'");
    }

    const { scopes, channels } = parseUserScopes(client, single(params, 'scope'), single(params, 'channels'));

    const prompt = parseList(single(params, 'prompt'), 'prompt') as Prompt[];
    const badPrompt = prompt.find((p) => !(PROMPTS as readonly string[]).includes(p));
    if (badPrompt) throw new OAuthError('invalid_request', `unsupported prompt value '${badPrompt}'`);
    // OIDC Core §3.1.2.1: none with any other value is an error.
    if (prompt.includes('none') && prompt.length > 1) throw new OAuthError('invalid_request', "prompt 'none' cannot be combined with other values");

    const maxAgeText = single(params, 'max_age');
    let maxAge: number | undefined;
    if (maxAgeText !== undefined) {
      if (!/^\d{1,10}$/.test(maxAgeText)) throw new OAuthError('invalid_request', 'max_age must be a non-negative integer');
      maxAge = Number(maxAgeText);
    }

    const codeChallenge = single(params, 'code_challenge');
    checkChallenge(codeChallenge, single(params, 'code_challenge_method'));
    // RFC 9700 §2.1.1 / DESIGN: PKCE is required for public clients.
    if (responseType === 'code' && client.isPublic && !codeChallenge) throw new OAuthError('invalid_request', 'public clients must use PKCE (code_challenge with S256)');

    const raw: Record<string, string> = {};
    for (const [k, v] of Object.entries(params)) if (typeof v === 'string') raw[k] = v;
    return {
      client,
      redirectUri,
      responseType,
      responseMode: responseMode === 'form_post' ? 'form_post' : 'query',
      state,
      nonce: single(params, 'nonce'),
      scopes,
      channels,
      includeGrantedScopes: flag(params, 'include_granted_scopes'),
      includeGrantedChannels: flag(params, 'include_granted_channels'),
      prompt,
      maxAge,
      codeChallenge,
      raw,
    };
  } catch (err) {
    if (err instanceof OAuthError) throw new RedirectableError(err, target);
    throw err;
  }
}
