// Validates an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1), one named
// step per rule, in this order (the first failing step decides the error):
//
//   findClient → checkRedirectUri                      errors shown on Alias's own page
//   checkResources (async: RFC 8707, requested_resources.ts; before the scopes it defines)
//   → checkState → checkPushRequired → rejectDuplicates → rejectPushedReference → rejectUnsupported
//   → checkResponseType → checkResponseMode → checkGrantType → checkImplicit
//   → checkScopes → checkPrompt → checkMaxAge → checkAcrValues → checkClaims → checkPkce
//   → checkIdTokenHint (async: verifies a signature)           errors go back to the client
//
// Until client_id and redirect_uri are trusted, every error is shown on Alias's page
// (RFC 6749 §4.1.2.1: MUST NOT redirect); after that, errors go back to the client.
// The steps marked [client] depend on the client's registration: recheckClient re-runs
// them, alone, when a parked request resumes (park.ts).
import type { Client, Resource } from '../store/types.js';
import { checkResources, type ResourceLookup } from './requested_resources.js';
import { isJkt } from '../oauth/dpop.js';
import { OAuthError } from '../oauth/errors.js';
import { flag, repeated, single, type RawParams } from '../oauth/params.js';
import { parseList } from '../oauth/scopes.js';
import { matchRedirectUri } from '../oauth/redirect_uri.js';
import { checkChallenge } from '../oauth/pkce.js';
import { checkChannelsKnown, parseUserScopes } from './requested_scopes.js';
import { isAcr, type Acr } from '../oauth/acr.js';
import {
  PROMPTS, RedirectableError, UntrustedRequestError,
  type AuthorizationRequest, type Prompt, type ReplyTarget, type ResponseMode, type ResponseType,
} from './request.js';

export type ClientLookup = (id: string) => Promise<Client | undefined>;
/** The `sub` of an ID token Alias issued to `clientId` (any expiry), or undefined. */
export type HintVerifier = (token: string, clientId: string) => Promise<string | undefined>;

/** Without a verifier, no hint verifies. */
const NO_HINTS: HintVerifier = async () => undefined;

/**
 * How the request arrived. `pushed`: at the PAR endpoint (RFC 9126 §2.1), from a client
 * that authenticated there; `direct`: at the authorization endpoint, where a client that
 * must push its requests (`requirePushed`) is refused (RFC 9126 §6).
 */
export type Arrival = { pushed: true } | { pushed?: false; requirePushed?: (client: Client) => boolean };

export async function validateAuthorizationRequest(params: RawParams, lookup: ClientLookup,
  verifyHint: HintVerifier = NO_HINTS, lookupResource: ResourceLookup = async () => undefined,
  arrival: Arrival = {}): Promise<AuthorizationRequest> {
  // Stage 1: the client and where to answer it.
  const client = await findClient(untrusted(() => single(params, 'client_id')), lookup);
  const redirectUri = checkRedirectUri(client, untrusted(() => single(params, 'redirect_uri')));

  // Stage 2: anything wrong from here on goes back to the client.
  const target = replyTarget(params, redirectUri);
  // RFC 8707 §2: the resources first (a lookup), since they decide which scopes exist.
  const resources = await checkResources(params, lookupResource).catch((err: unknown) => {
    throw err instanceof OAuthError ? new RedirectableError(err, target) : err;
  });
  const req = redirectable(target, (): AuthorizationRequest => {
    const state = checkState(params);
    if (!arrival.pushed) checkPushRequired(client, arrival.requirePushed);
    rejectDuplicates(params);
    if (arrival.pushed) rejectPushedReference(params);
    rejectUnsupported(params);
    const responseType = checkResponseType(params);
    const responseMode = checkResponseMode(params);
    checkGrantType(client, responseType);
    checkImplicit(params, responseType, responseMode);
    if (resources.length && responseType !== 'code') throw new OAuthError('invalid_target', 'resource needs response_type=code (no access token is issued otherwise)');
    const { scopes, channels } = checkScopes(params, client, resources);
    const prompt = checkPrompt(params);
    const maxAge = checkMaxAge(params);
    const acrValues = checkAcrValues(params);
    const acrEssential = checkClaims(params);
    const codeChallenge = checkPkce(params, client, responseType);
    const dpopJkt = checkDpopJkt(params);
    return {
      client,
      redirectUri,
      responseType,
      responseMode: responseMode === 'form_post' ? 'form_post' : 'query',
      state,
      nonce: single(params, 'nonce'),
      scopes,
      resources: resources.map((r) => r.uri),
      channels,
      includeGrantedScopes: flag(params, 'include_granted_scopes'),
      includeGrantedChannels: flag(params, 'include_granted_channels'),
      prompt,
      maxAge,
      codeChallenge,
      ...(dpopJkt !== undefined && responseType === 'code' ? { dpopJkt } : {}),
      idTokenHintSub: undefined,
      acrValues,
      acrEssential,
    };
  });
  const idTokenHintSub = await checkIdTokenHint(params, client, verifyHint).catch((err: unknown) => {
    throw err instanceof OAuthError ? new RedirectableError(err, target) : err;
  });
  return { ...req, idTokenHintSub };
}

/**
 * The [client] steps again, for a request validated earlier against a client whose
 * registration may have changed since (an admin command takes effect at once).
 */
export function recheckClient(client: Client, req: AuthorizationRequest): void {
  checkRedirectUri(client, req.redirectUri);
  redirectable(req, () => {
    checkGrantType(client, req.responseType);
    checkChannelsKnown(client, req.channels);
    requirePkce(client, req.responseType, req.codeChallenge);
  });
}

// ---- Stage 1 ------------------------------------------------------------------------

/** [client] client_id names a registered client. */
export async function findClient(clientId: string | undefined, lookup: ClientLookup): Promise<Client> {
  if (!clientId) throw new UntrustedRequestError('invalid_request', 'The request does not name an application (client_id is missing).');
  const client = await lookup(clientId);
  if (!client) throw new UntrustedRequestError('invalid_client', 'The application that sent you here is not registered with Alias.');
  return client;
}

/** [client] OIDC Core §3.1.2.1: redirect_uri is REQUIRED, and must be registered. */
export function checkRedirectUri(client: Client, redirectUri: string | undefined): string {
  if (!redirectUri) throw new UntrustedRequestError('invalid_request', 'The request does not say where to return (redirect_uri is missing).');
  if (!matchRedirectUri(client.redirectUris, redirectUri, client.isPublic)) {
    throw new UntrustedRequestError('invalid_request', 'The return address (redirect_uri) is not registered for this application.');
  }
  return redirectUri;
}

/**
 * Where errors from stage 2 go: the response mode the client asked for, else the default
 * of its response type (OAuth 2.0 Multiple Response Types §2.1: fragment for id_token,
 * query for code); with the state when it can be read.
 */
export function replyTarget(params: RawParams, redirectUri: string): ReplyTarget {
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
    /* reported by the steps */
  }
  const modeOk = askedMode === 'query' || askedMode === 'form_post' || askedMode === 'fragment';
  return {
    redirectUri,
    responseMode: modeOk ? askedMode as ResponseMode : askedType === 'id_token' ? 'fragment' : 'query',
    state,
  };
}

// ---- Stage 2 ------------------------------------------------------------------------

/**
 * RFC 6749 §4.1.2: a state that was sent must come back; one that cannot (repeated, too
 * long, malformed) is refused rather than dropped.
 */
export function checkState(params: RawParams): string | undefined {
  return single(params, 'state');
}

/** RFC 6749 §3.1: parameters MUST NOT be included more than once. */
export function rejectDuplicates(params: RawParams): void {
  // RFC 8707 §2: `resource` may be given more than once.
  const dupes = repeated(params).filter((n) => n !== 'resource');
  if (dupes.length) throw new OAuthError('invalid_request', `parameter '${dupes[0]}' is repeated`);
}

/**
 * RFC 9126 §6 require_pushed_authorization_requests (per client, or for every client by
 * `serve --require-par`): an authorization request that was not pushed is refused. The
 * client and redirect URI are registered ones by now, so the error goes back to it.
 */
export function checkPushRequired(client: Client, requirePushed?: (client: Client) => boolean): void {
  if (requirePushed?.(client)) {
    throw new OAuthError('invalid_request', 'this client must push its authorization requests first (RFC 9126 pushed_authorization_request_endpoint)');
  }
}

/** RFC 9126 §2.1: "The request_uri authorization request parameter is one exception, and it MUST NOT be provided." */
export function rejectPushedReference(params: RawParams): void {
  if (params.request_uri !== undefined) throw new OAuthError('invalid_request', 'request_uri must not be sent to the pushed authorization request endpoint');
}

/** OIDC Core §6: request objects are not supported (and discovery says so). */
export function rejectUnsupported(params: RawParams): void {
  if (single(params, 'request') !== undefined) throw new OAuthError('request_not_supported', 'the request parameter (request objects, RFC 9101) is not supported');
  // The request_uri of a pushed request (RFC 9126 §4) never gets here (pipeline.ts start).
  if (single(params, 'request_uri') !== undefined) {
    throw new OAuthError('request_uri_not_supported', 'only request_uri values from the pushed authorization request endpoint are supported');
  }
  if (single(params, 'registration') !== undefined) throw new OAuthError('registration_not_supported', 'the registration parameter is not supported');
}

/** RFC 6749 §3.1.1: response_type is REQUIRED; Alias supports code and id_token. */
export function checkResponseType(params: RawParams): ResponseType {
  const responseType = single(params, 'response_type');
  if (!responseType) throw new OAuthError('invalid_request', "missing required parameter 'response_type'");
  if (responseType !== 'code' && responseType !== 'id_token') {
    throw new OAuthError('unsupported_response_type', `response_type '${responseType}' is not supported`);
  }
  return responseType;
}

/** response_mode: query or form_post (fragment is never asked for: no token in a URL). */
export function checkResponseMode(params: RawParams): 'query' | 'form_post' | undefined {
  const responseMode = single(params, 'response_mode');
  if (responseMode !== undefined && responseMode !== 'query' && responseMode !== 'form_post') {
    throw new OAuthError('invalid_request', `response_mode '${responseMode}' is not supported`);
  }
  return responseMode;
}

/** [client] The client was given the grant type behind this response type. */
export function checkGrantType(client: Client, responseType: ResponseType): void {
  if (responseType === 'code' && !client.grantTypes.includes('authorization_code')) {
    throw new OAuthError('unauthorized_client', 'this client may not use the authorization code flow');
  }
  if (responseType === 'id_token' && !client.grantTypes.includes('implicit')) {
    throw new OAuthError('unauthorized_client', 'this client may not use the implicit flow');
  }
}

/** The implicit flow (response_type=id_token): form_post only, with a nonce. */
export function checkImplicit(params: RawParams, responseType: ResponseType, responseMode: string | undefined): void {
  if (responseType !== 'id_token') return;
  // No token ever travels in a URL: the implicit flow is form_post only.
  if (responseMode !== 'form_post') throw new OAuthError('invalid_request', "response_type 'id_token' requires response_mode 'form_post'");
  // OIDC Core §3.2.2.1: nonce is REQUIRED in the implicit flow.
  if (single(params, 'nonce') === undefined) throw new OAuthError('invalid_request', "the implicit flow requires a 'nonce'");
}

/** [client, for channels] openid required, user scopes only, the client's channels only with contact. */
export function checkScopes(params: RawParams, client: Client, resources: readonly Resource[] = []): { scopes: string[]; channels: string[] } {
  return parseUserScopes(client, single(params, 'scope'), single(params, 'channels'), resources);
}

/** OIDC Core §3.1.2.1: prompt values, none alone. */
export function checkPrompt(params: RawParams): Prompt[] {
  const prompt = parseList(single(params, 'prompt'), 'prompt') as Prompt[];
  const badPrompt = prompt.find((p) => !(PROMPTS as readonly string[]).includes(p));
  if (badPrompt) throw new OAuthError('invalid_request', `unsupported prompt value '${badPrompt}'`);
  // OIDC Core §3.1.2.1: none with any other value is an error.
  if (prompt.includes('none') && prompt.length > 1) throw new OAuthError('invalid_request', "prompt 'none' cannot be combined with other values");
  return prompt;
}

/** RFC 9449 §10: dpop_jkt, the SHA-256 JWK thumbprint (RFC 7638) the code is bound to. */
function checkDpopJkt(params: RawParams): string | undefined {
  const jkt = single(params, 'dpop_jkt');
  if (jkt !== undefined && !isJkt(jkt)) throw new OAuthError('invalid_request', 'dpop_jkt must be a base64url SHA-256 JWK thumbprint');
  return jkt;
}

/** OIDC Core §3.1.2.1: max_age, in seconds. */
export function checkMaxAge(params: RawParams): number | undefined {
  const maxAgeText = single(params, 'max_age');
  if (maxAgeText === undefined) return undefined;
  if (!/^\d{1,10}$/.test(maxAgeText)) throw new OAuthError('invalid_request', 'max_age must be a non-negative integer');
  return Number(maxAgeText);
}

/**
 * OIDC Core §3.1.2.1 acr_values: "Requested Authentication Context Class Reference
 * values", space-separated, in order of preference, a voluntary request. Values Alias does
 * not define are ignored (never an error); interaction_policy.ts acts on the first known one.
 */
export function checkAcrValues(params: RawParams): Acr[] {
  return parseList(single(params, 'acr_values'), 'acr_values').filter(isAcr);
}

/**
 * OIDC Core §5.5: the `claims` parameter, a JSON object. Alias acts on one member only,
 * `id_token.acr` (§5.5.1.1): asked for as essential, its `value` or `values` must be met
 * (an ID token whose acr meets none of them is never issued). Other requested claims are
 * ignored, as §5.5.1 allows. Essential acr values Alias does not define, and nothing it
 * does: unmet_authentication_requirements (OpenID Connect Unmet Authentication
 * Requirements 1.0), since no sign-in could meet them.
 */
export function checkClaims(params: RawParams): Acr[] | undefined {
  const text = single(params, 'claims');
  if (text === undefined) return undefined;
  let claims: unknown;
  try {
    claims = JSON.parse(text);
  } catch {
    throw new OAuthError('invalid_request', 'claims must be a JSON object');
  }
  if (!claims || typeof claims !== 'object' || Array.isArray(claims)) throw new OAuthError('invalid_request', 'claims must be a JSON object');
  const idToken = (claims as Record<string, unknown>).id_token;
  if (idToken === undefined || idToken === null) return undefined;
  if (typeof idToken !== 'object' || Array.isArray(idToken)) throw new OAuthError('invalid_request', 'claims.id_token must be a JSON object');
  const acr = (idToken as Record<string, unknown>).acr;
  if (acr === undefined || acr === null) return undefined;
  if (typeof acr !== 'object' || Array.isArray(acr)) throw new OAuthError('invalid_request', 'claims.id_token.acr must be null or a JSON object');
  const { essential, value, values } = acr as Record<string, unknown>;
  if (essential !== undefined && typeof essential !== 'boolean') throw new OAuthError('invalid_request', 'claims.id_token.acr.essential must be a boolean');
  if (value !== undefined && typeof value !== 'string') throw new OAuthError('invalid_request', 'claims.id_token.acr.value must be a string');
  if (values !== undefined && (!Array.isArray(values) || values.some((v) => typeof v !== 'string'))) {
    throw new OAuthError('invalid_request', 'claims.id_token.acr.values must be an array of strings');
  }
  if (essential !== true) return undefined;
  const asked = [...(value !== undefined ? [value] : []), ...((values as string[] | undefined) ?? [])];
  // Essential without values: any acr at all (every sign-in has one).
  if (!asked.length) return undefined;
  const known = asked.filter(isAcr);
  if (!known.length) throw new OAuthError('unmet_authentication_requirements', 'none of the essential acr values is supported');
  return known;
}

/** [client] RFC 7636: S256 challenges only; required for public clients. */
export function checkPkce(params: RawParams, client: Client, responseType: ResponseType): string | undefined {
  const codeChallenge = single(params, 'code_challenge');
  checkChallenge(codeChallenge, single(params, 'code_challenge_method'));
  requirePkce(client, responseType, codeChallenge);
  return codeChallenge;
}

/**
 * OIDC Core §3.1.2.1 id_token_hint: an ID token Alias issued to this client (signature,
 * issuer and audience checked; it may have expired). Its `sub` is who the client expects
 * to be signed in (interaction_policy.ts answers login_required for anybody else).
 * A hint that does not verify is refused with invalid_request: OIDC Core §3.1.2.2 says
 * the OP MUST validate every parameter, and RFC 6749 §4.1.2.1 names an invalid parameter
 * value invalid_request. Ignoring it instead would let prompt=none issue a code for
 * whoever is signed in, which is what the client's hint was meant to rule out.
 */
export async function checkIdTokenHint(params: RawParams, client: Client, verifyHint: HintVerifier): Promise<string | undefined> {
  const hint = single(params, 'id_token_hint');
  if (hint === undefined) return undefined;
  const sub = await verifyHint(hint, client.id);
  if (sub === undefined) throw new OAuthError('invalid_request', 'id_token_hint is not an ID token that Alias issued to this client');
  return sub;
}

/** RFC 9700 §2.1.1 / DESIGN: PKCE is required for public clients. */
function requirePkce(client: Client, responseType: ResponseType, codeChallenge: string | undefined): void {
  if (responseType === 'code' && client.isPublic && !codeChallenge) throw new OAuthError('invalid_request', 'public clients must use PKCE (code_challenge with S256)');
}

// ---- The two error stages -----------------------------------------------------------

function untrusted(fn: () => string | undefined): string | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof OAuthError) throw new UntrustedRequestError(err.error, err.description);
    throw err;
  }
}

function redirectable<T>(target: ReplyTarget, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof OAuthError) throw new RedirectableError(err, target);
    throw err;
  }
}
