// POST /api/oauth2/introspect (RFC 7662). Client-authenticated; a client sees only its
// own tokens as active; an inactive token answers exactly {"active": false}.
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import { readClientCredentials } from '../oauth/client_auth.js';
import { OAuthError } from '../oauth/errors.js';
import { repeated, required, single } from '../oauth/params.js';
import { formatList } from '../oauth/scopes.js';
import { findToken } from '../tokens/lookup.js';
import { formBody, noStore } from '../http/api.js';

export function introspectionEndpoint(app: FastifyInstance, s: Services) {
  app.post('/api/oauth2/introspect', async (request, reply) => {
    noStore(reply);
    const body = formBody(request);
    const client = await s.clients.authenticate(readClientCredentials(request.headers.authorization, body));
    // RFC 7662 §2.1: the endpoint MUST require authorization; a public client has no secret.
    if (client.isPublic) throw new OAuthError('invalid_client', 'introspection requires a confidential client', { status: 401 });
    const dupes = repeated(body);
    if (dupes.length) throw new OAuthError('invalid_request', `parameter '${dupes[0]}' is repeated`);
    const token = required(body, 'token');
    const found = await findToken(s, token, single(body, 'token_type_hint'));
    if (!found || !found.active || found.rec.clientId !== client.id) return reply.send({ active: false });
    const r = found.rec;
    return reply.send({
      active: true,
      scope: formatList(found.scopes),
      ...(found.scopes.includes('contact') ? { channels: formatList(found.channels) } : {}),
      client_id: r.clientId,
      ...(found.grant ? { sub: found.grant.sub } : {}),
      token_type: found.kind === 'access_token' ? 'Bearer' : 'refresh_token',
      exp: Math.floor(r.expiresAt / 1000),
      iat: Math.floor(r.createdAt / 1000),
      iss: s.config.issuer,
    });
  });
}
