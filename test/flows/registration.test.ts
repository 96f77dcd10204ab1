// Dynamic client registration (RFC 7591) and its management (RFC 7592) over HTTP, with
// openid-client (dynamicClientRegistration) and oauth4webapi as the independent clients,
// on SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import * as oidc from 'openid-client';
import * as oauth from 'oauth4webapi';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { digest } from '../../src/tokens/opaque.js';
import { Browser, checkboxes } from '../helpers/browser.js';
import { POLICIES } from '../../src/throttle/throttle.js';

const insecure = { execute: [oidc.allowInsecureRequests] };
const META = { client_name: 'Agent', redirect_uris: ['https://agent.example/cb'], grant_types: ['authorization_code', 'client_credentials'],
  scope: 'openid reports.read', alias_channels: [{ name: 'news', description: 'Weekly news' }] };

for (const kind of databaseKinds()) {
  describe(`dynamic client registration, --registration token (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => { alias = await startAlias(kind); });
    after(() => alias?.close());

    const endpoint = () => `${alias.issuer}/api/oauth2/register`;
    const send = (method: string, url: string, body?: unknown, token?: string, type = 'application/json') => fetch(url, {
      method, headers: { ...(body !== undefined ? { 'content-type': type } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const iat = async (uses = 5) => (await alias.s.registration.createToken({ uses })).token;
    async function expectError(res: Response, status: number, error: string) {
      const text = await res.text();
      assert.equal(res.status, status, text);
      assert.equal(JSON.parse(text).error, error, text);
      assert.match(res.headers.get('cache-control') ?? '', /no-store/);
      return JSON.parse(text) as { error: string; error_description: string };
    }

    it('discovery names the registration endpoint (RFC 8414 §2)', async () => {
      const doc = await (await fetch(`${alias.issuer}/.well-known/openid-configuration`)).json();
      assert.equal(doc.registration_endpoint, endpoint());
    });

    it('openid-client registers with an initial access token, then uses the client (client credentials); 201, no-store (RFC 7591 §3.2.1)', async () => {
      const token = await iat();
      let raw: Response | undefined;
      const config = await oidc.dynamicClientRegistration(new URL(alias.issuer), META, undefined, {
        ...insecure, initialAccessToken: token,
        [oidc.customFetch]: async (url, options) => { const r = await fetch(url, options as RequestInit); if (String(url).endsWith('/register')) raw = r.clone(); return r; },
      });
      assert.equal(raw!.status, 201);
      assert.match(raw!.headers.get('cache-control') ?? '', /no-store/);
      const meta = config.clientMetadata();
      assert.equal(meta.token_endpoint_auth_method, 'client_secret_basic', 'the RFC 7591 §2 default');
      assert.equal(typeof meta.client_secret, 'string');
      assert.equal(meta.client_secret_expires_at, 0);
      assert.deepEqual(meta.alias_channels, [{ name: 'news', description: 'Weekly news' }]);
      assert.equal(meta.scope, 'reports.read', 'user scopes need no registration');
      assert.match(String(meta.registration_client_uri), new RegExp(`/api/oauth2/register/${meta.client_id}$`));
      assert.equal(typeof meta.registration_access_token, 'string');
      // Used at once, authenticating the way it registered (Basic).
      const basicConfig = new oidc.Configuration(config.serverMetadata(), meta.client_id, meta, oidc.ClientSecretBasic(meta.client_secret as string));
      oidc.allowInsecureRequests(basicConfig);
      const tokens = await oidc.clientCredentialsGrant(basicConfig, { scope: 'reports.read' });
      assert.ok(tokens.access_token);
      const stored = await alias.s.clients.get(meta.client_id);
      assert.equal(stored!.name, 'Agent');
      assert.deepEqual(stored!.channels, [{ name: 'news', description: 'Weekly news' }]);
    });

    it('oauth4webapi registers a public client and runs the code flow with PKCE against it', async () => {
      const as = await oauth.processDiscoveryResponse(new URL(alias.issuer), await oauth.discoveryRequest(new URL(alias.issuer), { [oauth.allowInsecureRequests]: true }));
      const res = await oauth.dynamicClientRegistrationRequest(as, { client_name: 'Native agent', redirect_uris: ['http://127.0.0.1/cb'],
        token_endpoint_auth_method: 'none', logo_uri: 'https://agent.example/logo.png', policy_uri: 'https://agent.example/privacy' },
      { initialAccessToken: await iat(), [oauth.allowInsecureRequests]: true });
      const client = await oauth.processDynamicClientRegistrationResponse(res);
      assert.equal(client.token_endpoint_auth_method, 'none');
      assert.equal(client.client_secret, undefined);
      assert.equal(client.logo_uri, 'https://agent.example/logo.png');
      const stored = await alias.s.clients.get(client.client_id);
      assert.equal(stored!.isPublic, true);
      assert.equal(stored!.policyUri, 'https://agent.example/privacy');
      // The authorization request is accepted (a sign-in page, not an error page).
      const verifier = oauth.generateRandomCodeVerifier();
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({ client_id: client.client_id, response_type: 'code', scope: 'openid', redirect_uri: 'http://127.0.0.1/cb',
        code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 's' }).toString();
      const page = await fetch(url, { redirect: 'manual' });
      assert.ok(page.status === 200 || page.status === 302 || page.status === 303, `authorize: ${page.status}`);
      if (page.status !== 200) assert.doesNotMatch(page.headers.get('location') ?? '', /error=/);
    });

    it('the consent page shows what the app registered: its logo (alt text, CSP allows only its origin) and its links (rel=noopener); the form is unchanged', async () => {
      const res = await send('POST', endpoint(), { client_name: 'Logo agent', redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none',
        logo_uri: 'https://cdn.agent.example/logo.png', client_uri: 'https://agent.example/', policy_uri: 'https://agent.example/privacy',
        tos_uri: 'https://agent.example/tos', alias_channels: [{ name: 'news', description: 'Weekly news' }] }, await iat());
      const reg = await res.json();
      const user = await alias.user();
      const verifier = oauth.generateRandomCodeVerifier();
      const url = new URL(`${alias.issuer}/oauth2/authorize`);
      url.search = new URLSearchParams({ client_id: reg.client_id, response_type: 'code', scope: 'openid nickname contact', channels: 'news',
        redirect_uri: 'http://127.0.0.1/cb', code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state: 's' }).toString();
      const browser = new Browser(alias.issuer);
      const login = await browser.follow(url.href);
      const consent = await browser.submit(login, { email: user.email, password: user.password });
      assert.equal(consent.status, 200, consent.html);
      assert.match(consent.html, /<img class="app-logo" src="https:\/\/cdn\.agent\.example\/logo\.png" alt="Logo of Logo agent"/);
      for (const href of ['https://agent.example/', 'https://agent.example/privacy', 'https://agent.example/tos']) {
        assert.match(consent.html, new RegExp(`<a href="${href.replace(/[./]/g, '\\$&')}" rel="noopener noreferrer"`), href);
      }
      const csp = consent.headers.get('content-security-policy') ?? '';
      assert.match(csp, /img-src 'self' data: https:\/\/cdn\.agent\.example(;|$)/);
      assert.match(csp, /default-src 'none'/);
      assert.deepEqual(checkboxes(consent.html, 'scope').map((c) => c.value).sort(), ['contact', 'nickname']);
      assert.deepEqual(checkboxes(consent.html, 'channel').map((c) => c.value), ['news'], 'its self-registered channel, like a CLI-made one');
      assert.match(consent.html, /name="csrf"/);
      assert.match(consent.html, /name="decision" value="allow"/);
      // Other pages keep the strict policy.
      const plain = await fetch(`${alias.issuer}/login-nowhere`);
      assert.match(plain.headers.get('content-security-policy') ?? '', /img-src 'self' data:;/);
    });

    it('RFC 7592: read, replace (full), delete with the registration access token; delete stops its tokens at once', async () => {
      const reg = await (await send('POST', endpoint(), META, await iat())).json();
      const uri = reg.registration_client_uri as string;
      const rat = reg.registration_access_token as string;
      const read = await send('GET', uri, undefined, rat);
      assert.equal(read.status, 200);
      assert.match(read.headers.get('cache-control') ?? '', /no-store/);
      const info = await read.json();
      assert.equal(info.client_id, reg.client_id);
      assert.equal(info.client_secret, undefined, 'only the digest is kept');
      assert.equal(info.registration_access_token, rat);
      // PUT replaces everything: what is left out goes back to its default.
      const put = await send('PUT', uri, { client_id: reg.client_id, client_name: 'Agent 2', redirect_uris: ['https://agent.example/cb2'],
        grant_types: ['authorization_code', 'client_credentials'], token_endpoint_auth_method: 'client_secret_post', client_secret: reg.client_secret,
        registration_access_token: 'ignored', client_id_issued_at: 1 }, rat);
      const replaced = await put.json();
      assert.equal(put.status, 200, JSON.stringify(replaced));
      assert.equal(replaced.client_name, 'Agent 2');
      assert.deepEqual(replaced.redirect_uris, ['https://agent.example/cb2']);
      assert.deepEqual(replaced.alias_channels, [], 'channels left out are gone (full replacement)');
      assert.equal(replaced.token_endpoint_auth_method, 'client_secret_post');
      // The secret is unchanged, and now goes in the body.
      const tok = await fetch(`${alias.issuer}/api/oauth2/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: reg.client_id, client_secret: reg.client_secret }) });
      assert.equal(tok.status, 200);
      const access = (await tok.json()).access_token as string;
      const introspect = () => fetch(`${alias.issuer}/api/oauth2/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: access, client_id: reg.client_id, client_secret: reg.client_secret }) });
      assert.equal((await (await introspect()).json()).active, true);
      // A PUT naming another client_id, or a wrong secret → invalid_client_metadata; nothing changes.
      await expectError(await send('PUT', uri, { ...META, client_id: 'other' }, rat), 400, 'invalid_client_metadata');
      await expectError(await send('PUT', uri, { ...META, client_id: reg.client_id, client_secret: 'guess' }, rat), 400, 'invalid_client_metadata');
      await expectError(await send('PUT', uri, { ...META, client_id: reg.client_id, token_endpoint_auth_method: 'none', grant_types: ['authorization_code'] }, rat),
        400, 'invalid_client_metadata');
      assert.equal((await alias.s.clients.get(reg.client_id))!.name, 'Agent 2');
      // DELETE: 204; the client and its tokens are gone at once; the token no longer works.
      const del = await send('DELETE', uri, undefined, rat);
      assert.equal(del.status, 204);
      assert.equal(await alias.s.clients.get(reg.client_id), undefined);
      assert.equal((await introspect()).status, 401, 'the client cannot authenticate any more');
      assert.equal(await alias.s.store.accessTokens.get(digest(access)), undefined, 'its access token is gone with it');
      await expectError(await send('GET', uri, undefined, rat), 401, 'invalid_token');
      const events = await alias.s.store.audit.query({ clientId: reg.client_id, limit: 10 });
      assert.deepEqual(events.map((e) => e.type).filter((t) => t.startsWith('client.')).sort(), ['client.registered', 'client.registration_deleted', 'client.registration_updated']);
    });

    it('a bad, missing, expired or used-up initial access token → 401 invalid_token with WWW-Authenticate: Bearer; nothing stored', async () => {
      const before = (await alias.s.clients.list()).length;
      const bad = await expectError(await send('POST', endpoint(), META, 'not-a-token'), 401, 'invalid_token');
      assert.ok(bad.error_description);
      const none = await send('POST', endpoint(), META);
      assert.match(none.headers.get('www-authenticate') ?? '', /^Bearer/);
      await expectError(none, 401, 'invalid_token');
      const once = await iat(1);
      assert.equal((await send('POST', endpoint(), META, once)).status, 201);
      const used = await send('POST', endpoint(), META, once);
      assert.match(used.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
      await expectError(used, 401, 'invalid_token');
      const expiring = (await alias.s.registration.createToken({ expiresInMs: 60_000 })).token;
      alias.advance(61_000);
      await expectError(await send('POST', endpoint(), META, expiring), 401, 'invalid_token');
      await expectError(await send('GET', `${endpoint()}/nobody`, undefined, 'x'), 401, 'invalid_token');
      assert.equal((await alias.s.clients.list()).length, before + 1, 'only the one good registration');
    });

    it('parallel registrations with a 3-use token: exactly 3 succeed', async () => {
      const token = await iat(3);
      const results = await Promise.all(Array.from({ length: 8 }, () => send('POST', endpoint(), META, token)));
      assert.equal(results.filter((r) => r.status === 201).length, 3);
      assert.ok(results.every((r) => r.status === 201 || r.status === 401));
    });

    it('bad metadata gets its RFC 7591 §3.2.2 error and stores nothing', async () => {
      const token = await iat(100);
      const before = (await alias.s.clients.list()).length;
      const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const privateJwk = privateKey.export({ format: 'jwk' });
      const cases: [unknown, string][] = [
        [{ ...META, redirect_uris: ['http://agent.example/cb'] }, 'invalid_redirect_uri'],
        [{ ...META, redirect_uris: ['https://agent.example/cb#frag'] }, 'invalid_redirect_uri'],
        [{ ...META, redirect_uris: [] }, 'invalid_redirect_uri'],
        [{ ...META, redirect_uris: 'https://agent.example/cb' }, 'invalid_client_metadata'],
        [{ ...META, client_name: undefined }, 'invalid_client_metadata'],
        [{ ...META, client_name: 'A\u202Eb' }, 'invalid_client_metadata'],
        [{ ...META, grant_types: ['magic'] }, 'invalid_client_metadata'],
        [{ ...META, response_types: ['token'] }, 'invalid_client_metadata'],
        [{ ...META, response_types: ['id_token'] }, 'invalid_client_metadata'],
        [{ ...META, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [] } }, 'invalid_client_metadata'],
        [{ ...META, token_endpoint_auth_method: 'tls_client_auth' }, 'invalid_client_metadata'],
        [{ ...META, token_endpoint_auth_method: 'none' }, 'invalid_client_metadata'],
        [{ ...META, jwks: { keys: [privateJwk] } }, 'invalid_client_metadata'],
        [{ ...META, jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, 'invalid_client_metadata'],
        [{ ...META, jwks_uri: 'http://agent.example/jwks' }, 'invalid_client_metadata'],
        [{ ...META, jwks: { keys: [] }, jwks_uri: 'https://agent.example/jwks' }, 'invalid_client_metadata'],
        [{ ...META, logo_uri: 'javascript:alert(1)' }, 'invalid_client_metadata'],
        [{ ...META, tos_uri: 'http://agent.example/tos' }, 'invalid_client_metadata'],
        [{ ...META, alias_channels: [{ name: '_meta' }] }, 'invalid_client_metadata'],
        [{ ...META, alias_channels: 'news' }, 'invalid_client_metadata'],
        [{ ...META, id_token_signed_response_alg: 'none' }, 'invalid_client_metadata'],
        [{ ...META, backchannel_logout_session_required: true, backchannel_logout_uri: 'https://agent.example/bc' }, 'invalid_client_metadata'],
        [{ ...META, software_statement: 'eyJhbGciOiJub25lIn0.eyJ9.' }, 'unapproved_software_statement'],
        [{ ...META, software_statement: 42 }, 'invalid_software_statement'],
        [[META], 'invalid_client_metadata'],
        [{ ...META, require_pushed_authorization_requests: 'yes' }, 'invalid_client_metadata'],
        [{ ...META, dpop_bound_access_tokens: 'yes' }, 'invalid_client_metadata'],
        ['null', 'invalid_client_metadata'],
      ];
      for (const [body, error] of cases) {
        const res = await send('POST', endpoint(), typeof body === 'string' ? body : body, token);
        await expectError(res, 400, error);
      }
      await expectError(await send('POST', endpoint(), 'client_name=x', token, 'application/x-www-form-urlencoded'), 400, 'invalid_client_metadata');
      assert.equal((await alias.s.clients.list()).length, before);
      // Unknown members are ignored (RFC 7591 §2); require_pushed_authorization_requests
      // (RFC 9126 §6) and dpop_bound_access_tokens (RFC 9449 §5.2) are stored.
      const ok = await send('POST', endpoint(), { ...META, require_pushed_authorization_requests: true, dpop_bound_access_tokens: true, contacts: ['a@b.example'] }, token);
      assert.equal(ok.status, 201);
      const made = await alias.s.clients.get((await ok.json()).client_id);
      assert.equal(made!.requirePushedAuthorizationRequests, true);
      assert.equal(made!.dpopBoundAccessTokens, true);
    });

    it('a public JWK Set and https display URLs are stored and returned', async () => {
      const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'k1', use: 'sig' };
      const res = await send('POST', endpoint(), { ...META, jwks: { keys: [jwk] }, client_uri: 'https://agent.example/', tos_uri: 'https://agent.example/tos' }, await iat());
      const body = await res.json();
      assert.equal(res.status, 201, JSON.stringify(body));
      assert.deepEqual(body.jwks, { keys: [jwk] });
      assert.equal(body.tos_uri, 'https://agent.example/tos');
    });

    it('anonymous registration is refused in token mode, even for a public client', async () => {
      await expectError(await send('POST', endpoint(), { ...META, token_endpoint_auth_method: 'none', grant_types: ['authorization_code'] }), 401, 'invalid_token');
    });
  });

  describe(`dynamic client registration, --registration open and closed (${kind.name})`, { skip: kind.skip }, () => {
    let open: Alias;
    let closed: Alias;
    before(async () => {
      open = await startAlias(kind, { env: { ALIAS_REGISTRATION: 'open' } });
      closed = await startAlias(kind, { env: { ALIAS_REGISTRATION: 'closed' } });
    });
    after(async () => { await open?.close(); await closed?.close(); });
    const PUBLIC = { client_name: 'MCP agent', redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'none' };
    const register = (a: Alias, body: unknown, ip: string) => a.app.inject({ method: 'POST', url: '/api/oauth2/register', payload: body as object,
      headers: { 'content-type': 'application/json' }, remoteAddress: ip });

    it('open: anyone registers a public client (openid-client, no token); a confidential one needs a token', async () => {
      const config = await oidc.dynamicClientRegistration(new URL(open.issuer), PUBLIC, oidc.None(), insecure);
      assert.equal(config.clientMetadata().token_endpoint_auth_method, 'none');
      const conf = await register(open, { ...PUBLIC, token_endpoint_auth_method: 'client_secret_basic' }, '192.0.2.50');
      assert.equal(conf.statusCode, 400);
      assert.equal(conf.json().error, 'invalid_client_metadata');
      const omitted = await register(open, { client_name: 'x', redirect_uris: ['https://a.example/cb'] }, '192.0.2.50');
      assert.equal(omitted.json().error, 'invalid_client_metadata', 'RFC 7591 default client_secret_basic is not public');
      const { token } = await open.s.registration.createToken();
      const withToken = await open.app.inject({ method: 'POST', url: '/api/oauth2/register', payload: { ...PUBLIC, token_endpoint_auth_method: 'client_secret_basic' },
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
      assert.equal(withToken.statusCode, 201);
    });

    it('open: the per-address limit is reserved before any work: a burst gets at most the allowance, then 429 + Retry-After; other addresses are not held back', async () => {
      const before = (await open.s.clients.list()).length;
      const results = await Promise.all(Array.from({ length: POLICIES.openRegistration.allowed + 10 }, () => register(open, PUBLIC, '198.51.100.77')));
      const made = results.filter((r) => r.statusCode === 201).length;
      assert.ok(made <= POLICIES.openRegistration.allowed, `${made} registered`);
      const throttled = results.filter((r) => r.statusCode === 429);
      assert.ok(throttled.length >= 10);
      assert.ok(Number(throttled[0]!.headers['retry-after']) > 0);
      assert.equal(throttled[0]!.json().error, 'too_many_requests');
      assert.equal((await open.s.clients.list()).length, before + made, 'a refused request stored nothing');
      // Bad metadata counts too: it is work (the limit is on attempts, before any check).
      assert.equal((await register(open, { nonsense: true }, '198.51.100.77')).statusCode, 429);
      assert.equal((await register(open, PUBLIC, '198.51.100.78')).statusCode, 201);
    });

    it('closed: no registration_endpoint in discovery; POST → 403 access_denied; nothing stored', async () => {
      const doc = (await closed.app.inject('/.well-known/openid-configuration')).json();
      assert.equal(doc.registration_endpoint, undefined);
      const res = await register(closed, PUBLIC, '192.0.2.9');
      assert.equal(res.statusCode, 403);
      assert.equal(res.json().error, 'access_denied');
      assert.equal((await closed.s.clients.list()).length, 0);
    });
  });
}
