// Parses and validates an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1).
// Two stages: until client_id and redirect_uri are trusted, every error is shown on
// Alias's own page (RFC 6749 §4.1.2.1: MUST NOT redirect); after that, errors go back
// to the client.
import type { Client } from '../store/store.js';
import { OAuthError } from '../oauth/errors.js';
import { flag, repeated, single, type RawParams } from '../oauth/params.js';
import { isUserScope, META_CHANNEL, parseList } from '../oauth/scopes.js';
import { matchRedirectUri } from '../oauth/redirect_uri.js';
import { checkChallenge } from '../oauth/pkce.js';

export type ResponseMode = 'query';
export const PROMPTS = ['none', 'login', 'consent', 'select_account'] as const;
export type Prompt = (typeof PROMPTS)[number];

export interface AuthorizationRequest {
  client: Client;
  redirectUri: string;
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

  // Stage 2: anything wrong from here on goes back to the client.
  let state: string | undefined;
  try {
    state = single(params, 'state');
  } catch {
    state = undefined;
  }
  const target: ReplyTarget = { redirectUri, responseMode: 'query', state };
  try {
    // RFC 6749 §4.1.2: a state that was sent must come back; one that cannot (repeated,
    // too long, malformed) is refused rather than dropped.
    single(params, 'state');
    const dupes = repeated(params);
    if (dupes.length) throw new OAuthError('invalid_request', `parameter '${dupes[0]}' is repeated`);
    const responseMode = single(params, 'response_mode');
    if (responseMode !== undefined && responseMode !== 'query') {
      throw new OAuthError('invalid_request', `response_mode '${responseMode}' is not supported`);
    }
    // OIDC Core §6: request objects are not supported (and discovery says so).
    if (single(params, 'request') !== undefined) throw new OAuthError('request_not_supported', 'the request parameter is not supported');
    if (single(params, 'request_uri') !== undefined) throw new OAuthError('request_uri_not_supported', 'the request_uri parameter is not supported');
    if (single(params, 'registration') !== undefined) throw new OAuthError('registration_not_supported', 'the registration parameter is not supported');

    const responseType = single(params, 'response_type');
    if (!responseType) throw new OAuthError('invalid_request', "missing required parameter 'response_type'");
    if (responseType !== 'code') throw new OAuthError('unsupported_response_type', `response_type '${responseType}' is not supported`);
    if (!client.grantTypes.includes('authorization_code')) {
      throw new OAuthError('unauthorized_client', 'this client may not use the authorization code flow');
    }

    const scopes = parseList(single(params, 'scope'));
    if (!scopes.includes('openid')) throw new OAuthError('invalid_scope', "the 'openid' scope is required");
    const unknown = scopes.filter((s) => !isUserScope(s));
    if (unknown.length) throw new OAuthError('invalid_scope', `unknown scope '${unknown[0]}'`);

    let channels: string[] = [];
    if (scopes.includes('contact')) {
      channels = parseList(single(params, 'channels'), 'channels');
      if (channels.includes(META_CHANNEL)) throw new OAuthError('invalid_scope', `'${META_CHANNEL}' cannot be requested; it comes with contact`);
      const bad = channels.find((c) => !client.channels.some((x) => x.name === c));
      if (bad) throw new OAuthError('invalid_scope', `unknown channel '${bad}'`);
    }

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
    if (client.isPublic && !codeChallenge) throw new OAuthError('invalid_request', 'public clients must use PKCE (code_challenge with S256)');

    const raw: Record<string, string> = {};
    for (const [k, v] of Object.entries(params)) if (typeof v === 'string') raw[k] = v;
    return {
      client,
      redirectUri,
      responseMode: 'query',
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
