// The peer for side-by-side numbers: oidc-provider, configured as closely to Alias as it
// allows. Started by bench/run.mjs in its own process (pinned to one core); its
// configuration is read from the BENCH_PEER environment variable (JSON).
//
// Differences from Alias that the configuration cannot remove are listed in PEER_NOTES
// and printed by the benchmark.
import http from 'node:http';
import { createHmac, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import Provider from 'oidc-provider';

const cfg = JSON.parse(process.env.BENCH_PEER ?? '{}');
const require = createRequire(import.meta.url);
const pkgDir = require.resolve('oidc-provider').replace(/lib[\\/]index\.js$/, '');

// The default adapter is oidc-provider's in-memory one (lib/adapters/memory_adapter.js).
// Its storage is an LRU of 1000 entries, which evicts pre-minted codes, the session and
// the grant within a second of load; the same adapter class is used with a larger LRU.
const { default: MemoryAdapter } = await import(pathToFileURL(pkgDir + 'lib/adapters/memory_adapter.js').href);
const { default: LRU } = await import(pathToFileURL(pkgDir + 'lib/helpers/lru.js').href);
const LRU_SIZE = Number(cfg.lruSize ?? 200_000);
const storage = new LRU({ maxSize: LRU_SIZE });

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(12).toString('base64url'), alg: 'RS256', use: 'sig' };
const pairwiseSalt = randomBytes(32);

const issuer = `http://localhost:${cfg.port}`;
const provider = new Provider(issuer, {
  adapter: (model) => new MemoryAdapter(model, storage),
  clients: [{
    client_id: cfg.clientId,
    client_secret: cfg.clientSecret,
    client_name: 'bench',
    redirect_uris: [cfg.redirectUri],
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'RS256',
    subject_type: 'pairwise',
    scope: 'openid offline_access nickname reports:read',
  },
  // The key-based client-credentials clients, as Alias registers them (bench/lib/targets.mjs):
  // one whose access tokens are always DPoP-bound (RFC 9449 §5.2 dpop_bound_access_tokens),
  // one that authenticates with private_key_jwt (RFC 7523) against the same public key.
  ...(cfg.dpopClient ? [{
    client_id: cfg.dpopClient.clientId,
    client_secret: cfg.dpopClient.clientSecret,
    client_name: 'bench DPoP',
    redirect_uris: [],
    response_types: [],
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'client_secret_basic',
    dpop_bound_access_tokens: true,
    scope: cfg.scope,
  }] : []),
  ...(cfg.pkjwtClient ? [{
    client_id: cfg.pkjwtClient.clientId,
    client_name: 'bench private_key_jwt',
    redirect_uris: [],
    response_types: [],
    grant_types: ['client_credentials'],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: cfg.jwks,
    scope: cfg.scope,
  }] : [])],
  jwks: { keys: [jwk] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  async findAccount(_ctx, id) {
    return { accountId: id, async claims() { return { sub: id, nickname: cfg.nickname ?? 'Bench' }; } };
  },
  // Alias's scopes: openid, offline_access, nickname (user) and a client-level scope.
  scopes: ['openid', 'offline_access', 'nickname', 'reports:read'],
  claims: { openid: ['sub'], nickname: ['nickname'] },
  // Alias issues pairwise subjects only.
  subjectTypes: ['public', 'pairwise'],
  pairwiseIdentifier: async (_ctx, accountId, client) =>
    createHmac('sha256', pairwiseSalt).update(`${client.sectorIdentifier}\u0000${accountId}`).digest('base64url'),
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    userinfo: { enabled: true },
    // Off, as the bench's Alias clients use neither; they would only cost the peer.
    resourceIndicators: { enabled: false },
    pushedAuthorizationRequests: { enabled: false },
    // As Alias: DPoP with server nonces required at the token endpoint (RFC 9449 §8; Alias
    // always requires one there and nowhere else, docs/dpop.md). Requests without a DPoP
    // header skip the check.
    dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: (ctx) => ctx.oidc?.route === 'token' },
  },
  pkce: { required: () => false },
  // Alias rotates refresh tokens at every use.
  rotateRefreshToken: true,
  // Alias's lifetimes.
  ttl: {
    AccessToken: 1800,
    ClientCredentials: 1800,
    AuthorizationCode: 60,
    IdToken: 3600,
    RefreshToken: 30 * 24 * 3600,
    Interaction: 15 * 60,
    Session: 14 * 24 * 3600,
    Grant: 30 * 24 * 3600,
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError(ctx, out) {
    ctx.type = 'json';
    ctx.body = out;
  },
});
provider.on('server_error', (_ctx, err) => process.stderr.write(`peer server_error: ${err?.stack ?? err}\n`));

// A programmatic interaction (no pages): signs the bench account in and grants what
// was asked. Every consent creates a new grant, so each code (and its tokens) belongs
// to its own grant, like Alias's per-exchange token families; the in-memory adapter
// walks every token of a grant on each write, so one grant for everything would slow
// the peer down as the run goes on.
provider.use(async (ctx, next) => {
  const m = /^\/interaction\/([^/]+)$/.exec(ctx.path);
  if (!m || ctx.method !== 'GET') return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (process.env.BENCH_DEBUG) process.stderr.write(JSON.stringify(details.prompt) + '\n');
  let result;
  if (details.prompt.name === 'login') {
    result = { login: { accountId: cfg.accountId } };
  } else if (details.prompt.name === 'consent') {
    const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
    grant.addOIDCScope(String(details.params.scope ?? 'openid'));
    result = { consent: { grantId: await grant.save() } };
  } else {
    result = { error: 'access_denied', error_description: `unexpected prompt ${details.prompt.name}` };
  }
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(returnTo);
});

const server = http.createServer(provider.callback());
server.keepAliveTimeout = 72_000; // fastify's default, which Alias uses
server.listen(cfg.port, '127.0.0.1', () => process.stdout.write(`peer listening on ${cfg.port}\n`));
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
