// RFC 9126 Pushed Authorization Requests. A client POSTs its authorization request to the
// PAR endpoint (authenticated as at the token endpoint); it is validated there, in full, by
// the authorization endpoint's own steps (validate.ts), and kept in the canonical form a
// parked request has (park.ts) under a one-time `request_uri`. The authorization endpoint
// then takes it with `client_id` + `request_uri` and goes on as with any request.
import type { Client } from '../store/types.js';
import type { AuthorizeServices } from './services.js';
import { OAuthError } from '../oauth/errors.js';
import { single, type RawParams } from '../oauth/params.js';
import { digest, mintOpaque } from '../tokens/opaque.js';
import { verifyIdTokenHint } from '../tokens/id_token_hint.js';
import { RedirectableError, UntrustedRequestError, type AuthorizationRequest } from './request.js';
import { findClient, validateAuthorizationRequest } from './validate.js';
import { addressBlock, PARK_POLICY, restore, toParams } from './park.js';
import { countEvent, type Throttler } from '../throttle/throttle.js';

/** RFC 9126 §2.2: "a URN … using the urn:ietf:params:oauth:request_uri namespace" is suggested. */
export const REQUEST_URI_PREFIX = 'urn:ietf:params:oauth:request_uri:';
/** RFC 9126 §2.2 expires_in; the request_uri is good this long (the RFC's example is 60 s). */
export const PUSHED_REQUEST_TTL_S = 60;

/**
 * A push stores a request (up to about 13 KB) and a public client's push needs no secret,
 * so pushes are counted per source address like parked requests (park.ts PARK_POLICY: 300
 * in 10 minutes, then 429), on a counter of their own: a sign-in that is pushed and then
 * parked counts once on each. Never per client_id alone (a public client_id is public: a
 * stranger could otherwise lock it out for everyone). Returns the seconds to wait, or 0.
 */
export async function reservePush(throttle: Throttler, source: string): Promise<number> {
  const counted = await countEvent(throttle, [{ key: `par-source:${digest(addressBlock(source))}`, policy: PARK_POLICY }]);
  return counted.ok ? 0 : counted.retryAfter;
}

export interface Pushed {
  requestUri: string;
  expiresIn: number;
}

/**
 * RFC 9126 §2.1: validates the pushed request of an authenticated client exactly as the
 * authorization endpoint would, and stores it. Every refusal is an OAuthError for a JSON
 * answer (§2.3): where the authorization endpoint would show its own page (a bad
 * redirect_uri), invalid_request. `dpopJkt`: the key of a DPoP proof sent with the push
 * (RFC 9449 §10.1), which binds the code as dpop_jkt would.
 */
export async function pushAuthorizationRequest(s: AuthorizeServices, client: Client, body: RawParams,
  opts: { dpopJkt?: string } = {}): Promise<Pushed> {
  // The client is the authenticated one; a client_id that names another was refused by
  // client authentication (oauth/client_auth.ts), and one left out is this client's.
  const params: RawParams = { ...body, client_id: client.id };
  for (const secret of ['client_secret', 'client_assertion', 'client_assertion_type']) delete params[secret];
  let req: AuthorizationRequest;
  try {
    const verifyHint = async (token: string, clientId: string) =>
      (await verifyIdTokenHint(s.keys, s.config.issuer, token, { audience: clientId }))?.sub;
    req = await validateAuthorizationRequest(params, async (id) => (id === client.id ? client : undefined), verifyHint,
      (uri) => s.store.resources.get(uri), { pushed: true });
  } catch (err) {
    // §2.3: "the invalid_request error code can be used as the default error code" where
    // RFC 6749 §4.1.2.1 forbids a redirect (missing, invalid or mismatching redirect URI).
    if (err instanceof UntrustedRequestError) throw new OAuthError('invalid_request', err.description);
    if (err instanceof RedirectableError) throw err.oauth;
    throw err;
  }
  if (opts.dpopJkt !== undefined && req.responseType === 'code') {
    // RFC 9449 §10.1: with both, the dpop_jkt parameter must name the proof's key.
    if (req.dpopJkt !== undefined && req.dpopJkt !== opts.dpopJkt) {
      throw new OAuthError('invalid_dpop_proof', 'dpop_jkt does not match the key of the DPoP proof');
    }
    req = { ...req, dpopJkt: opts.dpopJkt };
  }
  const requestUri = REQUEST_URI_PREFIX + mintOpaque(32);
  const now = s.now();
  await s.store.pushedRequests.insert({
    digest: digest(requestUri), clientId: client.id, params: toParams(req),
    createdAt: now, expiresAt: now + PUSHED_REQUEST_TTL_S * 1000,
  });
  return { requestUri, expiresIn: PUSHED_REQUEST_TTL_S };
}

const gone = () => new UntrustedRequestError('invalid_request_uri',
  'This sign-in request has expired or was already used (request_uri).');

/**
 * RFC 9126 §4: the authorization endpoint with `client_id` and `request_uri`. The pushed
 * request is taken (one-time use) and its parameters are the request; any other query
 * parameters are ignored. An unknown, used, expired or another client's request_uri
 * names no redirect URI Alias could trust, so it ends on Alias's own page.
 */
export async function takePushedRequest(s: AuthorizeServices, params: RawParams): Promise<AuthorizationRequest> {
  let clientId: string | undefined;
  let requestUri: string | undefined;
  try {
    clientId = single(params, 'client_id');
    requestUri = single(params, 'request_uri');
  } catch (err) {
    if (err instanceof OAuthError) throw new UntrustedRequestError('invalid_request', err.description);
    throw err;
  }
  // §4: "the client_id … MUST" be sent, and be the client that pushed the request.
  const client = await findClient(clientId, s.clients.get);
  if (!requestUri?.startsWith(REQUEST_URI_PREFIX)) throw gone();
  const pushed = await s.store.pushedRequests.take(digest(requestUri), client.id, s.now());
  if (!pushed) throw gone();
  return restore(client, pushed.params);
}
