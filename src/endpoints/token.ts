// POST /api/oauth2/token (RFC 6749 §3.2, §5; RFC 9449 §5 DPoP).
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import { OAuthError } from '../oauth/errors.js';
import { required } from '../oauth/params.js';
import { grants } from '../grants/index.js';
import type { GrantServices } from '../grants/types.js';
import { clientForm } from '../http/api.js';
import { PATHS } from '../http/paths.js';

export function tokenEndpoint(app: FastifyInstance, s: Services) {
  // Once, here: each request passes the handlers this narrow view, not the services.
  const deps: GrantServices = { store: s.store, tokens: s.tokens, audit: s.audit, now: s.now, accounts: s.accounts,
    consent: s.consent, keys: s.keys, issuer: s.config.issuer, refreshReuseGraceMs: s.config.refreshReuseGraceMs };
  // RFC 9449 §4.3 item 9: htu is this endpoint's URI as the issuer names it.
  const htu = s.config.issuer + PATHS.token;
  app.post(PATHS.token, async (request, reply) => {
    // The proof first: a missing nonce costs the client no assertion (RFC 9449 §8).
    const proof = await s.dpop.tokenRequest(request.headers.dpop, 'POST', htu);
    // §8: the current nonce with every answer to a DPoP request, so clients keep it fresh.
    if (proof) reply.header('dpop-nonce', s.dpop.nonce());
    const { client, body } = await clientForm(s, request, reply, { repeatable: ['resource'] });
    const grantType = required(body, 'grant_type');
    const handler = grants.get(grantType);
    if (!handler) throw new OAuthError('unsupported_grant_type', `grant_type '${grantType}' is not supported`);
    // RFC 8707 §2: a grant that cannot audience-restrict its token refuses `resource`
    // rather than issue a token the client would take for a restricted one.
    if (body.resource !== undefined && !handler.params.includes('resource')) {
      throw new OAuthError('invalid_target', `the resource parameter is not supported with grant_type '${grantType}'`);
    }
    if (!client.grantTypes.includes(grantType)) {
      throw new OAuthError('unauthorized_client', `this client may not use the '${grantType}' grant type`);
    }
    // RFC 9449 §5.2 (dpop_bound_access_tokens): this client's tokens are always bound.
    if (client.dpopBoundAccessTokens && !proof) {
      throw new OAuthError('invalid_dpop_proof', 'this client must send a DPoP proof: its access tokens are DPoP-bound');
    }
    return reply.send(await handler.handle({ s: deps, client, params: body, source: request.ip, dpopJkt: proof?.jkt }));
  });
}
