// POST /api/oauth2/par: Pushed Authorization Requests (RFC 9126 §2). The client
// authenticates exactly as at the token endpoint (its registered method, RFC 9126 §2:
// "the same rules for client authentication as … the token endpoint"), may send a DPoP
// proof that binds the code (RFC 9449 §10.1), and gets a one-time request_uri (§2.2).
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import { OAuthError } from '../oauth/errors.js';
import { clientForm } from '../http/api.js';
import { PATHS } from '../http/paths.js';
import { pushAuthorizationRequest, reservePush } from '../authorize/pushed.js';

export function parEndpoint(app: FastifyInstance, s: Services) {
  // RFC 9449 §4.3 item 9: the proof's htu is this endpoint's URI as the issuer names it.
  const htu = s.config.issuer + PATHS.pushedAuthorization;
  app.post(PATHS.pushedAuthorization, async (request, reply) => {
    // As at the token endpoint: the proof first, then the client (RFC 9449 §8 nonces).
    const proof = await s.dpop.tokenRequest(request.headers.dpop, 'POST', htu);
    if (proof) reply.header('dpop-nonce', s.dpop.nonce());
    // no-store, form body only, client authentication, no repeated parameters.
    const { client, body } = await clientForm(s, request, reply);
    // RFC 9126 §2.3: 429 for "too many requests".
    const wait = await reservePush(s.throttle, request.ip);
    if (wait > 0) throw new OAuthError('too_many_requests', 'too many pushed authorization requests from this address', { retryAfter: wait });
    const pushed = await pushAuthorizationRequest(s, client, body, { dpopJkt: proof?.jkt });
    // RFC 9126 §2.2: 201 Created, request_uri and expires_in.
    return reply.code(201).send({ request_uri: pushed.requestUri, expires_in: pushed.expiresIn });
  });
  // RFC 9126 §2.3: "If the request did not use the POST method, the authorization server
  // responds with an HTTP 405 (Method Not Allowed)" (RFC 9110 §15.5.6: with Allow).
  app.route({ method: ['GET', 'PUT', 'DELETE', 'PATCH'], url: PATHS.pushedAuthorization, handler: async (_request, reply) => {
    reply.header('allow', 'POST');
    throw new OAuthError('invalid_request', 'pushed authorization requests are POSTed', { status: 405 });
  } });
}
