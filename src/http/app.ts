// The fastify application: one plugin per area, services passed in.
import Fastify, { LogController, type FastifyInstance, type FastifyReply } from 'fastify';
import formbody from '@fastify/formbody';
import cookie from '@fastify/cookie';
import view from '@fastify/view';
import { Eta } from 'eta';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Services } from '../services.js';
import { installErrorHandlers, isApiPath, sendErrorPage, sendOAuthError } from './errors.js';
import { OAuthError } from '../oauth/errors.js';
import { installCors } from './cors.js';
import { fastifyTrustProxy } from './trust_proxy.js';
import { installRequestLog, logSerializers } from './request_log.js';
import { installSecurityHeaders } from './security_headers.js';
import { createPageContext } from './context.js';
import { discoveryEndpoints } from '../endpoints/discovery.js';
import { authorizeEndpoint } from '../endpoints/authorize.js';
import { interactionEndpoints } from '../endpoints/interaction.js';
import { tokenEndpoint } from '../endpoints/token.js';
import { userinfoEndpoint } from '../endpoints/userinfo.js';
import { introspectionEndpoint } from '../endpoints/introspect.js';
import { revocationEndpoint } from '../endpoints/revoke.js';
import { deviceAuthorizationEndpoint } from '../endpoints/device_authorization.js';
import { deviceEndpoints } from '../endpoints/device.js';
import { logoutEndpoints } from '../endpoints/logout.js';
import { messagesEndpoint } from '../endpoints/messages.js';
import { unsubscribeEndpoints } from '../endpoints/unsubscribe.js';
import { accountEndpoints } from '../endpoints/account.js';
import { recoveryEndpoints } from '../endpoints/recovery.js';
import { accountEmailEndpoints } from '../endpoints/account_email.js';
import { accountDataEndpoints } from '../endpoints/account_data.js';
import { accountMfaEndpoints } from '../endpoints/account_mfa.js';
import { secondFactorEndpoints } from '../endpoints/second_factor.js';
import { signupEndpoints } from '../endpoints/signup.js';
import { verifyEmailEndpoints } from '../endpoints/verify_email.js';
import { homeEndpoint } from '../endpoints/home.js';
import { passkeyEndpoints } from '../endpoints/passkeys.js';
import { passkeyAccountEndpoints } from '../endpoints/passkey_accounts.js';
import { IMMUTABLE, passkeyAssets } from './assets.js';
import { registrationEndpoints } from '../endpoints/registration.js';
import { parEndpoint } from '../endpoints/par.js';
import { protectedResourceMetadataEndpoints } from '../endpoints/protected_resource_metadata.js';
import { markArrivals } from './arrivals.js';

export const BODY_LIMIT = 1024 * 1024;
// Templates and static files live in src/ui, found the same way from src/ and dist/.
const UI_DIR = fileURLToPath(new URL('../../src/ui/', import.meta.url));

export interface AppOptions {
  logger?: boolean | Record<string, unknown>;
}

export async function buildApp(s: Services, opts: AppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: BODY_LIMIT,
    // Signed one-click unsubscribe tokens are longer than the default 100 characters.
    routerOptions: { maxParamLength: 512 },
    // RFC 7239 §8: a hop count or the proxies' addresses, never `true` (which would take
    // the left-most X-Forwarded-For entry, the one the client chooses). trust_proxy.ts.
    trustProxy: fastifyTrustProxy(s.config.trustProxy),
    // One line per request at debug, with the route and never the URL (request_log.ts).
    logController: new LogController({ disableRequestLogging: true }),
    logger: opts.logger === undefined || opts.logger === false ? false : {
      level: s.config.logLevel,
      serializers: logSerializers,
      redact: ['req.headers.authorization', 'req.headers.cookie', 'res.headers["set-cookie"]'],
      ...(typeof opts.logger === 'object' ? opts.logger : {}),
    },
    // URLs the router refuses before any route runs (undecodable paths) get the same
    // error shapes as everything else: OAuth JSON on API paths, a page elsewhere.
    frameworkErrors: (_error, request, reply) => {
      const err = new OAuthError('invalid_request', 'the request URL is malformed');
      if (isApiPath(request.url)) {
        void sendOAuthError(reply, err);
        return;
      }
      // Answered before any plugin decorates the reply: sendErrorPage writes the page itself.
      sendErrorPage(reply as FastifyReply, 400, 'Bad request', 'The address of this page is malformed.').catch(() => undefined);
    },
  });

  // The tasks that read requests from their sockets share SQLite read transactions (arrivals.ts).
  markArrivals(app);

  await app.register(formbody, { bodyLimit: BODY_LIMIT });
  // Any other content type is read as text so the endpoint can answer with a proper
  // OAuth error instead of a framework 415.
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_req, body, done) => done(null, body));
  await app.register(cookie);
  await app.register(view, {
    engine: { eta: new Eta({ autoEscape: true, cache: true }) },
    templates: UI_DIR + 'templates',
    layout: 'layout.eta',
    production: true,
  });

  installRequestLog(app);
  installErrorHandlers(app);
  installSecurityHeaders(app, s.config.issuer);
  installCors(app, s);

  const css = readFileSync(UI_DIR + 'static/alias.css', 'utf8');
  app.get('/static/alias.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(css));
  for (const a of Object.values(passkeyAssets())) {
    app.get(a.path, async (_request, reply) => reply.type(a.type).header('cache-control', IMMUTABLE).send(a.body));
  }
  app.get('/healthz', async (_request, reply) => {
    await s.store.ping();
    return reply.header('cache-control', 'no-store').send({ status: 'ok' });
  });

  const page = createPageContext(s);
  homeEndpoint(app, s, page);
  discoveryEndpoints(app, s);
  authorizeEndpoint(app, s, page);
  interactionEndpoints(app, s, page);
  tokenEndpoint(app, s);
  userinfoEndpoint(app, s);
  introspectionEndpoint(app, s);
  revocationEndpoint(app, s);
  deviceAuthorizationEndpoint(app, s);
  deviceEndpoints(app, s, page);
  logoutEndpoints(app, s, page);
  messagesEndpoint(app, s);
  unsubscribeEndpoints(app, s, page);
  accountEndpoints(app, s, page);
  recoveryEndpoints(app, s, page);
  accountEmailEndpoints(app, s, page);
  accountDataEndpoints(app, s, page);
  accountMfaEndpoints(app, s, page);
  secondFactorEndpoints(app, s, page);
  signupEndpoints(app, s, page);
  verifyEmailEndpoints(app, s, page);
  passkeyEndpoints(app, s, page);
  passkeyAccountEndpoints(app, s, page);
  registrationEndpoints(app, s);
  parEndpoint(app, s);
  protectedResourceMetadataEndpoints(app, s);
  return app;
}
