// GET/POST /api/oauth2/userinfo (OIDC Core §5.3), Bearer tokens per RFC 6750.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import { activeUserToken } from '../tokens/lookup.js';
import { bearerError } from '../http/bearer.js';
import { checkSenderConstraint, dpopError, readAuthorization, type TokenScheme } from '../http/sender_constrained.js';
import { PATHS } from '../http/paths.js';

/** RFC 6750 §2.1 header or §2.2 form body; never both (§2: one method only). */
function bearerToken(request: FastifyRequest): { token?: string; scheme?: TokenScheme; error?: string } {
  const header = request.headers.authorization;
  const body = request.body && typeof request.body === 'object' ? (request.body as Record<string, unknown>) : {};
  const inBody = body.access_token;
  if (header !== undefined && inBody !== undefined) return { error: 'more than one method used to send the token' };
  if (header !== undefined) {
    // RFC 6750 §2.1 Bearer, or RFC 9449 §7.1 DPoP.
    const presented = readAuthorization(header);
    return presented?.token ? { token: presented.token, scheme: presented.scheme } : { error: 'malformed Authorization header' };
  }
  if (inBody !== undefined) {
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (typeof inBody !== 'string' || type !== 'application/x-www-form-urlencoded') return { error: 'malformed access_token' };
    return { token: inBody, scheme: 'Bearer' };
  }
  return {};
}

export function userinfoEndpoint(app: FastifyInstance, s: Services) {
  // RFC 9449 §4.3 item 9: the URI a proof's htu must name.
  const url = s.config.issuer + PATHS.userinfo;
  async function handle(request: FastifyRequest, reply: FastifyReply) {
    const { token, scheme, error } = bearerToken(request);
    if (error) return bearerError(reply, 'invalid_request', error);
    if (!token || !scheme) return bearerError(reply, undefined);
    const active = await activeUserToken(s, token);
    if (!active) {
      const why = 'the access token is invalid, expired or revoked';
      return scheme === 'DPoP' ? dpopError(reply, 'invalid_token', why) : bearerError(reply, 'invalid_token', why);
    }
    if (!(await checkSenderConstraint(s, request, reply, { scheme, token }, active.token, url))) return reply;
    if (!active.scopes.includes('openid')) return bearerError(reply, 'insufficient_scope', 'the token lacks the openid scope');
    const claims: Record<string, unknown> = { sub: active.grant.sub };
    // The nickname was read with the token (one round trip per request).
    if (active.scopes.includes('nickname') && active.nickname) claims.nickname = active.nickname;
    reply.header('cache-control', 'no-store');
    return reply.send(claims);
  }
  app.get('/api/oauth2/userinfo', handle);
  app.post('/api/oauth2/userinfo', handle);
}
