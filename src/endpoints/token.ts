// POST /api/oauth2/token (RFC 6749 §3.2, §5).
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import { OAuthError } from '../oauth/errors.js';
import { required } from '../oauth/params.js';
import { grants } from '../grants/index.js';
import type { GrantServices } from '../grants/types.js';
import { clientForm } from '../http/api.js';

export function tokenEndpoint(app: FastifyInstance, s: Services) {
  // Once, here: each request passes the handlers this narrow view, not the services.
  const deps: GrantServices = { store: s.store, tokens: s.tokens, audit: s.audit, now: s.now, accounts: s.accounts,
    consent: s.consent };
  app.post('/api/oauth2/token', async (request, reply) => {
    const { client, body } = await clientForm(s, request, reply);
    const grantType = required(body, 'grant_type');
    const handler = grants.get(grantType);
    if (!handler) throw new OAuthError('unsupported_grant_type', `grant_type '${grantType}' is not supported`);
    if (!client.grantTypes.includes(grantType)) {
      throw new OAuthError('unauthorized_client', `this client may not use the '${grantType}' grant type`);
    }
    return reply.send(await handler.handle({ s: deps, client, params: body, source: request.ip }));
  });
}
