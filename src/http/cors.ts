// CORS for single-page apps: discovery, JWKS and the relay API's resource metadata
// (RFC 9728) are public; token, userinfo, revocation and pushed authorization requests
// (RFC 9126, a public client pushes from the browser) answer the origins of registered
// redirect URIs.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import { PATHS } from './paths.js';
import { relayResourceMetadata } from './resource_metadata.js';

const PUBLIC = ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server', '/oauth2/jwks'];
const CREDENTIALED = ['/api/oauth2/token', '/api/oauth2/userinfo', '/api/oauth2/revoke', PATHS.pushedAuthorization];

const pathOf = (url: string) => url.split('?')[0]!;

export function installCors(app: FastifyInstance, s: Services) {
  const everyone = [...PUBLIC, relayResourceMetadata(s.config.issuer).route];
  async function allowed(request: FastifyRequest): Promise<string | undefined> {
    const origin = request.headers.origin;
    if (typeof origin !== 'string' || origin.length > 512) return undefined;
    const path = pathOf(request.url);
    if (everyone.includes(path)) return '*';
    if (CREDENTIALED.includes(path) && (await s.store.clients.hasOrigin(origin))) return origin;
    return undefined;
  }

  function apply(reply: FastifyReply, allow: string) {
    reply.header('access-control-allow-origin', allow);
    // RFC 9449 §8: a browser client reads the server nonce (and the DPoP challenge).
    reply.header('access-control-expose-headers', 'DPoP-Nonce, WWW-Authenticate');
    if (allow !== '*') reply.header('vary', 'Origin');
  }

  // A callback hook: most requests (servers, browsers' navigations) carry no Origin and
  // pass without a promise.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.method === 'OPTIONS' || request.headers.origin === undefined) return done();
    allowed(request).then((allow) => {
      if (allow) apply(reply, allow);
      done();
    }, done);
  });

  // Preflight (Fetch standard §3.2.2).
  app.options('/*', async (request, reply) => {
    const allow = await allowed(request);
    if (!allow) return reply.code(204).header('allow', 'GET, POST, OPTIONS').send();
    apply(reply, allow);
    return reply.code(204)
      .header('access-control-allow-methods', 'GET, POST, OPTIONS')
      .header('access-control-allow-headers', 'Authorization, Content-Type, DPoP')
      .header('access-control-max-age', '600')
      .send();
  });
}
