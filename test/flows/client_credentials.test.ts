// The client credentials grant (RFC 6749 §4.4) over HTTP, checked by an independent
// client library (openid-client), on SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { oauthError } from '../helpers/oidc_errors.js';

const words = (s: string | undefined) => new Set((s ?? '').split(' ').filter(Boolean));

for (const kind of databaseKinds()) {
  describe(`client credentials grant (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => {
      alias = await startAlias(kind);
    });
    after(() => alias?.close());

    /** A confidential client and an openid-client Configuration for it; `last` is the last raw response. */
    async function setup(input: { grantTypes?: string[]; scopes?: string[]; basic?: boolean } = {}) {
      const { client, secret } = await alias.client({
        grantTypes: input.grantTypes ?? ['client_credentials'], scopes: input.scopes ?? ['reports.read', 'reports.write'],
        // openid-client sends the secret in the body unless told Basic: register what it uses (RFC 7591 §2).
        tokenEndpointAuthMethod: input.basic ? 'client_secret_basic' : 'client_secret_post',
      });
      const config = await oidc.discovery(new URL(alias.issuer), client.id, secret, input.basic ? oidc.ClientSecretBasic(secret) : undefined,
        { execute: [oidc.allowInsecureRequests] });
      const seen: { last?: Response } = {};
      config[oidc.customFetch] = async (url, options) => {
        const res = await fetch(url, options as RequestInit);
        seen.last = res.clone();
        return res;
      };
      return { client, secret: secret!, config, seen };
    }

    it('issues a token with the requested registered scope; no refresh or ID token; no-store (§4.4.3, §5.1)', async () => {
      const { config, seen } = await setup();
      const tokens = await oidc.clientCredentialsGrant(config, { scope: 'reports.read' });
      assert.equal(tokens.token_type, 'bearer');
      assert.equal(tokens.expires_in, 1800);
      assert.deepEqual(words(tokens.scope), new Set(['reports.read']));
      // RFC 6749 §4.4.3: a refresh token SHOULD NOT be included. No user, so no ID token.
      assert.equal(tokens.refresh_token, undefined);
      assert.equal(tokens.id_token, undefined);
      const raw = await seen.last!.json();
      assert.ok(!('refresh_token' in raw), 'no refresh_token member');
      assert.ok(!('id_token' in raw), 'no id_token member');
      // RFC 6749 §5.1: Cache-Control: no-store on a response carrying tokens.
      assert.match(seen.last!.headers.get('cache-control') ?? '', /no-store/);
      assert.match(seen.last!.headers.get('content-type') ?? '', /^application\/json/);
    });

    it('without scope, the token carries every scope registered for the client (RFC 6749 §3.3 default); Basic auth works', async () => {
      const { config } = await setup({ basic: true });
      const tokens = await oidc.clientCredentialsGrant(config);
      assert.deepEqual(words(tokens.scope), new Set(['reports.read', 'reports.write']));
    });

    it('a client with no registered scopes still gets a token, with an empty scope', async () => {
      const { config } = await setup({ scopes: [] });
      const tokens = await oidc.clientCredentialsGrant(config);
      assert.ok(tokens.access_token);
      assert.equal(tokens.scope ?? '', '');
      const info = await oidc.tokenIntrospection(config, tokens.access_token);
      assert.equal(info.active, true);
      assert.equal(info.scope ?? '', '');
    });

    it('unregistered and user scopes are invalid_scope (RFC 6749 §5.2)', async () => {
      const { config } = await setup();
      for (const scope of ['openid', 'contact', 'offline_access', 'nickname', 'reports.delete', 'reports.read openid']) {
        const err = await oauthError(oidc.clientCredentialsGrant(config, { scope }));
        assert.equal(err.status, 400, scope);
        assert.equal(err.error, 'invalid_scope', scope);
      }
      // A client with no scopes cannot ask for one either.
      const none = await setup({ scopes: [] });
      assert.equal((await oauthError(oidc.clientCredentialsGrant(none.config, { scope: 'reports.read' }))).error, 'invalid_scope');
    });

    it('a client not given the grant type gets unauthorized_client (RFC 6749 §5.2)', async () => {
      const { config } = await setup({ grantTypes: ['authorization_code'] });
      const err = await oauthError(oidc.clientCredentialsGrant(config, { scope: 'reports.read' }));
      assert.equal(err.status, 400);
      assert.equal(err.error, 'unauthorized_client');
      // A public client (never allowed client_credentials) is refused the same way.
      const { client } = await alias.client({ isPublic: true, redirectUris: ['http://127.0.0.1:9/cb'] });
      const pub = await oidc.discovery(new URL(alias.issuer), client.id, undefined, oidc.None(), { execute: [oidc.allowInsecureRequests] });
      assert.equal((await oauthError(oidc.clientCredentialsGrant(pub))).error, 'unauthorized_client');
    });

    it('a wrong secret is 401 invalid_client with WWW-Authenticate (RFC 6749 §5.2)', async () => {
      const { client } = await setup();
      const res = await fetch(`${alias.issuer}/api/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`${client.id}:wrong`).toString('base64') },
        body: new URLSearchParams({ grant_type: 'client_credentials' }),
      });
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Basic/);
      assert.equal((await res.json()).error, 'invalid_client');
    });

    it('the token introspects active with client_id and scope and no sub (RFC 7662 §2.2)', async () => {
      const { client, config } = await setup();
      const tokens = await oidc.clientCredentialsGrant(config, { scope: 'reports.write' });
      const info = await oidc.tokenIntrospection(config, tokens.access_token);
      assert.equal(info.active, true);
      assert.equal(info.client_id, client.id);
      assert.deepEqual(words(info.scope), new Set(['reports.write']));
      assert.equal(info.sub, undefined, 'no resource owner, no sub');
      assert.equal(String(info.token_type).toLowerCase(), 'bearer');
      assert.equal(typeof info.exp, 'number');
      assert.equal(typeof info.iat, 'number');
      assert.equal(info.exp! - info.iat!, 1800);
      // Revoked by its own client (RFC 7009), it is no longer active.
      await oidc.tokenRevocation(config, tokens.access_token);
      assert.deepEqual(await oidc.tokenIntrospection(config, tokens.access_token), { active: false });
    });

    it('userinfo refuses it with an RFC 6750 error, not a 500 (no user behind the token)', async () => {
      const { config } = await setup();
      const tokens = await oidc.clientCredentialsGrant(config);
      const res = await fetch(`${alias.issuer}/api/oauth2/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      // RFC 6750 §3.1: invalid_token → 401, insufficient_scope → 403, with WWW-Authenticate.
      assert.ok(res.status === 401 || res.status === 403, `status ${res.status}`);
      const challenge = res.headers.get('www-authenticate') ?? '';
      assert.match(challenge, /^Bearer /);
      const expected = res.status === 401 ? 'invalid_token' : 'insufficient_scope';
      assert.match(challenge, new RegExp(`error="${expected}"`));
      assert.equal((await res.json()).error, expected);
      // openid-client sees the same challenge.
      await assert.rejects(oidc.fetchUserInfo(config, tokens.access_token, oidc.skipSubjectCheck),
        (err: unknown) => err instanceof oidc.WWWAuthenticateChallengeError && err.status === res.status);
    });
  });
}
