// GET/POST /api/oauth2/userinfo (OIDC Core §5.3), Bearer tokens per RFC 6750.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import { activeUserToken } from '../tokens/lookup.js';
import { bearerError } from '../http/bearer.js';

/** RFC 6750 §2.1 header or §2.2 form body; never both (§2: one method only). */
function bearerToken(request: FastifyRequest): { token?: string; error?: string } {
  const header = request.headers.authorization;
  const body = request.body && typeof request.body === 'object' ? (request.body as Record<string, unknown>) : {};
  const inBody = body.access_token;
  if (header !== undefined && inBody !== undefined) return { error: 'more than one method used to send the token' };
  if (header !== undefined) {
    const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
    return m ? { token: m[1] } : { error: 'malformed Authorization header' };
  }
  if (inBody !== undefined) {
    const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (typeof inBody !== 'string' || type !== 'application/x-www-form-urlencoded') return { error: 'malformed access_token' };
    return { token: inBody };
  }
  return {};
}

export function userinfoEndpoint(app: FastifyInstance, s: Services) {
  async function handle(request: FastifyRequest, reply: FastifyReply) {
    const { token, error } = bearerToken(request);
    if (error) return bearerError(reply, 'invalid_request', error);
    if (!token) return bearerError(reply, undefined);
    const active = await activeUserToken(s, token);
    if (!active) return bearerError(reply, 'invalid_token', 'the access token is invalid, expired or revoked');
    if (!active.scopes.includes('openid')) return bearerError(reply, 'insufficient_scope', 'the token lacks the openid scope');
    const claims: Record<string, unknown> = { sub: active.grant.sub };
    if (active.scopes.includes('nickname')) {
      const user = await s.accounts.get(active.grant.userId);
      if (user?.nickname) claims.nickname = user.nickname;
    }
    reply.header('cache-control', 'no-store');
    return reply.send(claims);
  }
  app.get('/api/oauth2/userinfo', handle);
  app.post('/api/oauth2/userinfo', handle);
}
