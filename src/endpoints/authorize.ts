// GET/POST /oauth2/authorize (RFC 6749 §3.1: GET MUST be supported; OIDC Core §3.1.2.1:
// POST too).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import type { Services } from '../services.js';
import type { PageContext } from '../http/context.js';
import { sendErrorPage } from '../http/errors.js';
import { formBody } from '../http/api.js';
import { parseAuthorizationRequest, RedirectableError, UntrustedRequestError } from '../authorize/request.js';
import { errorResponse, proceed } from '../authorize/proceed.js';
import { sendAuthorizationResponse } from '../http/authorization_response.js';
import { digest } from '../tokens/opaque.js';
import type { RawParams } from '../oauth/params.js';

export const INTERACTION_TTL_MS = 15 * 60_000;

export async function untrustedPage(reply: FastifyReply, err: UntrustedRequestError) {
  return sendErrorPage(reply, 400, 'This sign-in link is not valid', err.description,
    'Go back to the application and try again. If this keeps happening, tell the application’s developers.');
}

export function authorizeEndpoint(app: FastifyInstance, s: Services, page: PageContext) {
  async function handle(request: FastifyRequest, reply: FastifyReply, params: RawParams) {
    reply.header('cache-control', 'no-store');
    let req;
    try {
      req = await parseAuthorizationRequest(params, s.clients.get);
    } catch (err) {
      if (err instanceof UntrustedRequestError) return untrustedPage(reply, err);
      if (err instanceof RedirectableError) return sendAuthorizationResponse(reply, errorResponse(s.config.issuer, err.target, err.oauth));
      throw err;
    }
    const session = await page.session(request);
    const outcome = await proceed(s, req, session, false, request.ip);
    if (outcome.kind === 'respond') return sendAuthorizationResponse(reply, outcome.response);
    // The user has to see a page: park the request, bound to this browser.
    const browserId = page.browserId(request, reply);
    const id = randomBytes(24).toString('base64url');
    const t = s.now();
    await s.store.interactions.insert({
      id, browserDigest: digest(browserId), clientId: req.client.id, params: req.raw,
      authenticatedSession: null, createdAt: t, expiresAt: t + INTERACTION_TTL_MS,
    });
    return reply.redirect(`/interaction/${id}`, 303);
  }

  app.get('/oauth2/authorize', (request, reply) => handle(request, reply, request.query as RawParams));
  // OIDC Core §3.1.2.1: POSTed requests use form serialization; anything else (JSON) is
  // refused as malformed instead of being read as parameters.
  app.post('/oauth2/authorize', (request, reply) => handle(request, reply, formBody(request)));
}
