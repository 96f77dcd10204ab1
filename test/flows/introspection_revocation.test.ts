// Token introspection (RFC 7662) and revocation (RFC 7009) over HTTP, checked by an
// independent client library (openid-client), on SQLite and PostgreSQL. User tokens
// come from the authorization code flow through Alias's real pages.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { Browser, checkboxes } from '../helpers/browser.js';
import { basic } from '../helpers/bad_input.js';

const REDIRECT = 'http://127.0.0.1:9/cb';
const words = (s: unknown) => new Set(String(s ?? '').split(' ').filter(Boolean));
const form = (fields: Record<string, string>) => new URLSearchParams(fields);

for (const kind of databaseKinds()) {
  describe(`introspection and revocation (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let introspectUrl: string;
    let revokeUrl: string;
    before(async () => {
      alias = await startAlias(kind);
      const meta = await (await fetch(`${alias.issuer}/.well-known/openid-configuration`)).json();
      introspectUrl = meta.introspection_endpoint;
      revokeUrl = meta.revocation_endpoint;
      assert.ok(introspectUrl && revokeUrl, 'discovery lists both endpoints');
    });
    after(() => alias?.close());

    // The harness registers confidential clients for client_secret_basic (the default).
    const configFor = (clientId: string, secret?: string) => oidc.discovery(new URL(alias.issuer), clientId, secret,
      secret ? oidc.ClientSecretBasic(secret) : oidc.None(), { execute: [oidc.allowInsecureRequests] });

    /** A confidential client with channels; a user signs in and consents on the real pages. */
    async function signIn(scope = 'openid nickname contact offline_access', channels = 'news', isPublic = false) {
      const { client, secret } = await alias.client({
        redirectUris: [REDIRECT], grantTypes: isPublic ? ['authorization_code'] : ['authorization_code', 'refresh_token'],
        channels: ['news:Product news', 'billing:Invoices'], isPublic,
      });
      const config = await configFor(client.id, secret);
      const user = await alias.user();
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const nonce = oidc.randomNonce();
      const url = oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT, scope, state, nonce, channels,
        code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256',
      });
      const browser = new Browser(alias.issuer);
      const login = await browser.follow(url.href);
      assert.match(login.html, /name="email"/);
      const consent = await browser.submit(login, { email: user.email, password: user.password });
      assert.equal(consent.status, 200, consent.html);
      const done = await browser.submit(consent, {
        decision: 'allow',
        scope: checkboxes(consent.html, 'scope').map((c) => c.value),
        channel: checkboxes(consent.html, 'channel').map((c) => c.value),
      });
      const tokens = await oidc.authorizationCodeGrant(config, new URL(done.url),
        { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: scope.includes('openid') });
      return { client, secret: secret!, config, user, tokens, sub: tokens.claims()?.sub };
    }

    /** Another confidential client, for cross-client checks. */
    async function otherClient() {
      const { client, secret } = await alias.client({ grantTypes: ['client_credentials'] });
      return { client, secret: secret!, config: await configFor(client.id, secret) };
    }

    async function rawIntrospect(auth: string | undefined, fields: Record<string, string>) {
      return fetch(introspectUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth ? { authorization: auth } : {}) },
        body: form(fields),
      });
    }

    async function rawRevoke(auth: string | undefined, fields: Record<string, string>) {
      return fetch(revokeUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth ? { authorization: auth } : {}) },
        body: form(fields),
      });
    }

    const userinfo = (token: string) => fetch(`${alias.issuer}/api/oauth2/userinfo`, { headers: { authorization: `Bearer ${token}` } });

    /** RFC 7662 §2.2: an inactive token is exactly {"active": false}, with no other member. */
    async function assertInactive(clientId: string, secret: string, token: string, hint?: string) {
      const res = await rawIntrospect(basic(clientId, secret), { token, ...(hint ? { token_type_hint: hint } : {}) });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      const text = await res.text();
      assert.deepEqual(JSON.parse(text), { active: false });
      assert.equal(text.replace(/\s/g, ''), '{"active":false}');
    }

    describe('introspection (RFC 7662)', () => {
      it('an active user access token: active, scope, channels, client_id, pairwise sub, exp, iat, token_type (§2.2)', async () => {
        const { client, secret, config, tokens, sub } = await signIn();
        const info = await oidc.tokenIntrospection(config, tokens.access_token);
        assert.equal(info.active, true);
        assert.deepEqual(words(info.scope), new Set(['openid', 'nickname', 'contact', 'offline_access']));
        assert.equal(info.channels, 'news', 'granted channels, never _meta');
        assert.equal(info.client_id, client.id);
        assert.ok(sub);
        assert.equal(info.sub, sub, 'sub is the pairwise alias ID, equal to the ID token sub');
        assert.equal(String(info.token_type).toLowerCase(), 'bearer');
        assert.equal(typeof info.iat, 'number');
        assert.equal(info.exp! - info.iat!, 1800);
        assert.ok(Math.abs(info.iat! - Math.floor(Date.now() / 1000)) < 60);
        assert.ok(!JSON.stringify(info).includes('_meta'));
        // RFC 7591 §2: the client registered client_secret_basic, so its secret in the body
        // (client_secret_post) is refused, and nothing about the token is said.
        const post = await rawIntrospect(undefined, { token: tokens.access_token, client_id: client.id, client_secret: secret });
        assert.equal(post.status, 401);
        assert.deepEqual(await post.json(), { error: 'invalid_client',
          error_description: 'client authentication failed: this client is registered for client_secret_basic' });
      });

      it('without contact there are no channels', async () => {
        const { config, tokens } = await signIn('openid nickname');
        const info = await oidc.tokenIntrospection(config, tokens.access_token);
        assert.equal(info.active, true);
        assert.deepEqual(words(info.scope), new Set(['openid', 'nickname']));
        assert.equal(info.channels, undefined);
      });

      it('a refresh token is active, with or without token_type_hint (§2.1: the hint only helps)', async () => {
        const { client, config, tokens, sub } = await signIn();
        assert.ok(tokens.refresh_token);
        for (const hint of [undefined, 'refresh_token', 'access_token']) {
          const info = await oidc.tokenIntrospection(config, tokens.refresh_token!, hint ? { token_type_hint: hint } : undefined);
          assert.equal(info.active, true, `hint ${hint}`);
          assert.equal(info.client_id, client.id);
          assert.equal(info.sub, sub);
          assert.ok(words(info.scope).has('offline_access'));
        }
        // Once rotated (RFC 6749 §6), the old refresh token is no longer active; the new one is.
        const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
        assert.deepEqual(await oidc.tokenIntrospection(config, tokens.refresh_token!), { active: false });
        assert.equal((await oidc.tokenIntrospection(config, refreshed.refresh_token!)).active, true);
        assert.equal((await oidc.tokenIntrospection(config, refreshed.access_token)).sub, sub);
      });

      it("another client's tokens answer exactly {\"active\":false} (§2.2, no details for others)", async () => {
        const { tokens } = await signIn();
        const other = await otherClient();
        assert.deepEqual(await oidc.tokenIntrospection(other.config, tokens.access_token), { active: false });
        assert.deepEqual(await oidc.tokenIntrospection(other.config, tokens.refresh_token!), { active: false });
        await assertInactive(other.client.id, other.secret, tokens.access_token);
        await assertInactive(other.client.id, other.secret, tokens.refresh_token!, 'refresh_token');
      });

      it('an unknown token answers exactly {"active":false}', async () => {
        const other = await otherClient();
        assert.deepEqual(await oidc.tokenIntrospection(other.config, 'no-such-token'), { active: false });
        await assertInactive(other.client.id, other.secret, 'x'.repeat(43));
        await assertInactive(other.client.id, other.secret, 'x'.repeat(43), 'refresh_token');
      });

      it('a revoked token answers exactly {"active":false}', async () => {
        const { client, secret, config, tokens } = await signIn('openid');
        await oidc.tokenRevocation(config, tokens.access_token);
        await assertInactive(client.id, secret, tokens.access_token);
      });

      it('a missing token is invalid_request (§2.1: token is REQUIRED)', async () => {
        const other = await otherClient();
        for (const fields of [{}, { token: '' }, { token_type_hint: 'access_token' }] as Record<string, string>[]) {
          const res = await rawIntrospect(basic(other.client.id, other.secret), fields);
          assert.equal(res.status, 400, JSON.stringify(fields));
          assert.equal((await res.json()).error, 'invalid_request');
        }
      });

      it('bad client authentication is 401 invalid_client with WWW-Authenticate (§2.1, RFC 6749 §5.2)', async () => {
        const { tokens } = await signIn('openid');
        const other = await otherClient();
        const cases: [string, string | undefined, Record<string, string>][] = [
          ['wrong secret (Basic)', basic(other.client.id, 'wrong'), {}],
          ['unknown client (Basic)', basic('nobody', 'x'), {}],
          ['malformed Basic', 'Basic !!!', {}],
          ['wrong secret (post)', undefined, { client_id: other.client.id, client_secret: 'wrong' }],
          ['no authentication', undefined, {}],
        ];
        for (const [what, auth, extra] of cases) {
          const res = await rawIntrospect(auth, { token: tokens.access_token, ...extra });
          assert.equal(res.status, 401, what);
          assert.match(res.headers.get('www-authenticate') ?? '', /^Basic/, what);
          const body = await res.json();
          assert.equal(body.error, 'invalid_client', what);
          assert.equal(body.active, undefined, `${what}: nothing about the token`);
        }
        // openid-client with a wrong secret is refused too.
        const wrong = await configFor(other.client.id, 'wrong');
        await assert.rejects(oidc.tokenIntrospection(wrong, tokens.access_token),
          (err: unknown) => (err as { status?: number }).status === 401);
      });

      it('a public client may not introspect: 401 invalid_client (§2.1 requires authorization)', async () => {
        const { client } = await alias.client({ isPublic: true, redirectUris: [REDIRECT] });
        const { tokens } = await signIn('openid');
        const res = await rawIntrospect(undefined, { token: tokens.access_token, client_id: client.id });
        assert.equal(res.status, 401);
        assert.equal((await res.json()).error, 'invalid_client');
        assert.match(res.headers.get('www-authenticate') ?? '', /^Basic/);
        const pub = await configFor(client.id);
        await assert.rejects(oidc.tokenIntrospection(pub, tokens.access_token),
          (err: unknown) => (err as { status?: number }).status === 401);
      });
    });

    describe('revocation (RFC 7009)', () => {
      /** §2.2: 200, empty body (or `{}` as JSON), never text/plain. */
      async function assertRevocationAnswer(res: Response) {
        assert.equal(res.status, 200);
        const text = await res.text();
        const type = res.headers.get('content-type');
        assert.ok(!/text\/plain/i.test(type ?? ''), `content type ${type}`);
        if (text !== '') {
          assert.match(type ?? '', /^application\/json/);
          assert.deepEqual(JSON.parse(text), {});
        }
        return text;
      }

      it('revoking an access token kills it: userinfo 401, introspection inactive (§2.1)', async () => {
        const { client, secret, config, tokens } = await signIn('openid nickname');
        assert.equal((await userinfo(tokens.access_token)).status, 200);
        await oidc.tokenRevocation(config, tokens.access_token);
        const ui = await userinfo(tokens.access_token);
        assert.equal(ui.status, 401);
        assert.match(ui.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
        await assertInactive(client.id, secret, tokens.access_token);
        // Revoking again (an already invalid token) is still 200 (§2.2).
        await assertRevocationAnswer(await rawRevoke(basic(client.id, secret), { token: tokens.access_token, token_type_hint: 'access_token' }));
      });

      it("revoking a refresh token revokes its grant's access token; the refresh grant then fails invalid_grant (§2.1)", async () => {
        const { client, secret, config, tokens } = await signIn();
        // A rotation first, so the family holds two access tokens.
        const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
        assert.ok(refreshed.refresh_token);
        const res = await rawRevoke(basic(client.id, secret), { token: refreshed.refresh_token!, token_type_hint: 'refresh_token' });
        await assertRevocationAnswer(res);
        for (const at of [tokens.access_token, refreshed.access_token]) {
          assert.equal((await userinfo(at)).status, 401);
          await assertInactive(client.id, secret, at);
        }
        await assertInactive(client.id, secret, refreshed.refresh_token!);
        await assert.rejects(oidc.refreshTokenGrant(config, refreshed.refresh_token!),
          (err: unknown) => err instanceof oidc.ResponseBodyError && err.error === 'invalid_grant');
      });

      it('revoking a refresh token through openid-client (no hint) works too', async () => {
        const { client, secret, config, tokens } = await signIn();
        await oidc.tokenRevocation(config, tokens.refresh_token!);
        assert.equal((await userinfo(tokens.access_token)).status, 401);
        await assertInactive(client.id, secret, tokens.refresh_token!);
        await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!),
          (err: unknown) => err instanceof oidc.ResponseBodyError && err.error === 'invalid_grant');
      });

      it("another client's token: 200, empty body, and the token still works (silent no-op)", async () => {
        const { config, tokens } = await signIn();
        const other = await otherClient();
        for (const [token, hint] of [[tokens.access_token, 'access_token'], [tokens.refresh_token!, 'refresh_token'], [tokens.access_token, undefined]] as const) {
          const res = await rawRevoke(basic(other.client.id, other.secret), { token, ...(hint ? { token_type_hint: hint } : {}) });
          const text = await assertRevocationAnswer(res);
          const unknown = await rawRevoke(basic(other.client.id, other.secret), { token: 'y'.repeat(43) });
          assert.equal(res.headers.get('content-type'), unknown.headers.get('content-type'));
          assert.equal(text, await assertRevocationAnswer(unknown), 'answered exactly like an unknown token');
        }
        await oidc.tokenRevocation(other.config, tokens.access_token);
        // Still alive for its own client.
        assert.equal((await userinfo(tokens.access_token)).status, 200);
        assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, true);
        assert.equal((await oidc.tokenIntrospection(config, tokens.refresh_token!)).active, true);
        const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
        assert.ok(refreshed.access_token);
      });

      it('an unknown token: 200 with an empty body, no text/plain (§2.2)', async () => {
        const other = await otherClient();
        const text = await assertRevocationAnswer(await rawRevoke(basic(other.client.id, other.secret), { token: 'no-such-token' }));
        assert.equal(text, '');
        // openid-client accepts the answer.
        await oidc.tokenRevocation(other.config, 'no-such-token');
        // Unknown hint values are not an error worth failing over for an unknown token (§2.2.1 allows either).
        const res = await rawRevoke(basic(other.client.id, other.secret), { token: 'no-such-token', token_type_hint: 'refresh_token' });
        await assertRevocationAnswer(res);
      });

      it('a missing token is invalid_request (§2.1: token is REQUIRED)', async () => {
        const other = await otherClient();
        for (const fields of [{}, { token: '' }, { token_type_hint: 'access_token' }] as Record<string, string>[]) {
          const res = await rawRevoke(basic(other.client.id, other.secret), fields);
          assert.equal(res.status, 400, JSON.stringify(fields));
          const body = await res.json();
          assert.equal(body.error, 'invalid_request');
        }
      });

      it('a public client revokes its own token with client_id alone, and cannot touch others (§2.1)', async () => {
        const own = await signIn('openid', 'news', true);
        const victim = await signIn('openid nickname');
        // Another client's token: 200 and nothing happens.
        await assertRevocationAnswer(await rawRevoke(undefined, { token: victim.tokens.access_token, client_id: own.client.id }));
        assert.equal((await userinfo(victim.tokens.access_token)).status, 200);
        // Its own token: revoked.
        assert.equal((await userinfo(own.tokens.access_token)).status, 200);
        await oidc.tokenRevocation(own.config, own.tokens.access_token);
        assert.equal((await userinfo(own.tokens.access_token)).status, 401);
      });

      it('bad client authentication is 401 invalid_client and revokes nothing (§2.1)', async () => {
        const { client, config, tokens } = await signIn('openid');
        const res = await rawRevoke(basic(client.id, 'wrong'), { token: tokens.access_token });
        assert.equal(res.status, 401);
        assert.match(res.headers.get('www-authenticate') ?? '', /^Basic/);
        assert.equal((await res.json()).error, 'invalid_client');
        assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, true);
      });
    });

    // Last: moving Alias's clock forward makes new ID tokens look "from the future" to
    // openid-client, so nothing after this signs in.
    describe('expiry', () => {
      it('an expired access token answers exactly {"active":false}; its refresh token stays active', async () => {
        const { client, secret, config, tokens } = await signIn();
        assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, true);
        alias.advance(1801_000);
        await assertInactive(client.id, secret, tokens.access_token);
        assert.equal((await userinfo(tokens.access_token)).status, 401);
        assert.equal((await oidc.tokenIntrospection(config, tokens.refresh_token!)).active, true);
      });
    });
  });
}
