// POST /api/oauth2/introspect (RFC 7662). Client-authenticated; a client sees only its
// own tokens as active; an inactive token answers exactly {"active": false}. RFC 7662 §4
// lets the AS decide which tokens a caller may introspect: Alias has no separate resource
// servers or audiences, so another client's token is answered exactly like an unknown one
// (nothing about it leaks), and every such answer counts as a miss (src/tokens/scanning.ts).
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import { required, single } from '../oauth/params.js';
import { formatList } from '../oauth/scopes.js';
import { findToken } from '../tokens/lookup.js';
import { clientForm } from '../http/api.js';
import { sourceOf } from '../http/context.js';
import { countMiss, refuseWhileBlocked, scanCounter } from '../tokens/scanning.js';

export function introspectionEndpoint(app: FastifyInstance, s: Services) {
  app.post('/api/oauth2/introspect', async (request, reply) => {
    // RFC 7662 §2.1: the endpoint MUST require authorization; a public client has no secret.
    const { client, body } = await clientForm(s, request, reply, { confidentialOnly: 'introspection requires a confidential client' });
    const scan = scanCounter(client, sourceOf(request));
    await refuseWhileBlocked(s.throttle, scan);
    const token = required(body, 'token');
    const found = await findToken(s, token, single(body, 'token_type_hint'));
    if (!found || !found.active || found.rec.clientId !== client.id) {
      await countMiss(s.throttle, scan);
      return reply.send({ active: false });
    }
    const r = found.rec;
    return reply.send({
      active: true,
      scope: formatList(found.scopes),
      ...(found.scopes.includes('contact') ? { channels: formatList(found.channels) } : {}),
      client_id: r.clientId,
      ...(found.grant ? { sub: found.grant.sub } : {}),
      // RFC 7662 §2.2 aud: the resource (RFC 8707) an access token is for.
      ...(found.kind === 'access_token' && found.rec.resource ? { aud: found.rec.resource } : {}),
      // RFC 9449 §6.2: a bound access token is a DPoP token, with its key's thumbprint.
      token_type: found.kind === 'access_token' ? (r.dpopJkt ? 'DPoP' : 'Bearer') : 'refresh_token',
      ...(r.dpopJkt ? { cnf: { jkt: r.dpopJkt } } : {}),
      exp: Math.floor(r.expiresAt / 1000),
      iat: Math.floor(r.createdAt / 1000),
      iss: s.config.issuer,
    });
  });
}
