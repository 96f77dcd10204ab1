// client_secret_jwt (RFC 7523 §2.2, OIDC Core §9): a client authenticates with a JWT whose
// HMAC is keyed with its client secret, which Alias keeps sealed for such clients only
// (migration 020). Over HTTP, with oauth4webapi and openid-client as independent clients,
// through the CLI and dynamic registration (RFC 7591/7592), on SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import * as oidc from 'openid-client';
import { SignJWT } from 'jose';
import { databaseKinds, TEST_SECRET } from '../helpers/databases.js';
import { startAlias, type Alias, discoverAlias } from '../helpers/harness.js';
import { aliasid, json } from '../helpers/cli.js';
import { basic } from '../helpers/bad_input.js';
import { CLIENT_SECRET_SEAL } from '../../src/clients/sealed_secret.js';
import { digest } from '../../src/tokens/opaque.js';

const FORM = 'application/x-www-form-urlencoded';
const INSECURE = { [oauth.allowInsecureRequests]: true } as const;
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const MINUTE = 60_000;
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

for (const kind of databaseKinds()) {
  describe(`client_secret_jwt (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let as: oauth.AuthorizationServer;
    before(async () => {
      alias = await startAlias(kind);
      as = await discoverAlias(alias);
    });
    after(() => alias?.close());

    const create = async () => {
      const { client, secret } = await alias.s.clients.create({ name: 'HMAC app', redirectUris: [], grantTypes: ['client_credentials'],
        tokenEndpointAuthMethod: 'client_secret_jwt' });
      return { id: client.id, secret: secret! };
    };
    const row = (id: string) => alias.s.db.kysely.selectFrom('clients').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    /** An RFC 7523 assertion signed by hand on Alias's clock, so each claim can be broken on purpose. */
    async function assertion(id: string, secret: string, opts: { alg?: string; jti?: string; exp?: number; aud?: string; iss?: string } = {}) {
      const now = Math.floor(alias.s.now() / 1000);
      return new SignJWT({ jti: opts.jti ?? randomUUID() }).setProtectedHeader({ alg: opts.alg ?? 'HS256' })
        .setIssuer(opts.iss ?? id).setSubject(id).setAudience(opts.aud ?? alias.issuer).setIssuedAt(now)
        .setExpirationTime(opts.exp ?? now + 60).sign(new TextEncoder().encode(secret));
    }
    const tokenRequest = (clientAssertion: string, authorization?: string) => alias.app.inject({
      method: 'POST', url: '/api/oauth2/token', headers: { 'content-type': FORM, ...(authorization ? { authorization } : {}) },
      payload: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: clientAssertion }).toString(),
    });
    async function refused(jwt: string, why: string) {
      const res = await tokenRequest(jwt);
      assert.equal(res.statusCode, 401, `${why}: ${res.body}`);
      assert.equal(res.json().error, 'invalid_client', why);
    }
    /** oauth4webapi's ClientSecretJwt (HS256) as the independent client. */
    async function oauth4(id: string, secret: string) {
      // Its clock follows Alias's, which a test may have moved ahead (alias.advance).
      const c: oauth.Client = { client_id: id, [oauth.clockSkew]: Math.round((alias.s.now() - Date.now()) / 1000) };
      const res = await oauth.clientCredentialsGrantRequest(as, c, oauth.ClientSecretJwt(secret), new URLSearchParams(), INSECURE);
      return oauth.processClientCredentialsResponse(as, c, res);
    }

    it('discovery advertises client_secret_jwt and the HMAC algorithms (RFC 8414 §2, OIDC Discovery §3)', () => {
      for (const list of [as.token_endpoint_auth_methods_supported, as.introspection_endpoint_auth_methods_supported, as.revocation_endpoint_auth_methods_supported]) {
        assert.ok(list?.includes('client_secret_jwt'));
      }
      for (const alg of ['HS256', 'HS384', 'HS512', 'RS256']) assert.ok(as.token_endpoint_auth_signing_alg_values_supported?.includes(alg), alg);
    });

    it('client credentials with oauth4webapi ClientSecretJwt; the secret is sealed at rest, never plain (RFC 7523 §2.2)', async () => {
      const c = await create();
      const tokens = await oauth4(c.id, c.secret);
      assert.equal(tokens.token_type, 'bearer');
      const r = await row(c.id);
      assert.equal(r.secret_digest, digest(c.secret), 'the digest is kept as for every client');
      assert.ok(r.secret_sealed && !r.secret_sealed.includes(c.secret), 'sealed, not plain');
      assert.equal(alias.s.secrets.open(r.secret_sealed, CLIENT_SECRET_SEAL), c.secret);
      // HS384 and HS512, and the token endpoint URL as the audience (RFC 7523bis), work too.
      for (const alg of ['HS384', 'HS512']) assert.equal((await tokenRequest(await assertion(c.id, c.secret, { alg }))).statusCode, 200, alg);
      assert.equal((await tokenRequest(await assertion(c.id, c.secret, { aud: `${alias.issuer}/api/oauth2/token` }))).statusCode, 200);
      // A client_secret_basic client keeps no sealed copy.
      const { client: plain } = await alias.client({ grantTypes: ['client_credentials'], redirectUris: [] });
      assert.equal((await row(plain.id)).secret_sealed, null);
    });

    it('client credentials with openid-client ClientSecretJwt', async () => {
      const c = await create();
      const config = await oidc.discovery(new URL(alias.issuer), c.id, undefined, oidc.ClientSecretJwt(c.secret),
        { execute: [oidc.allowInsecureRequests] });
      const tokens = await oidc.clientCredentialsGrant(config);
      assert.ok(tokens.access_token);
    });

    it('a replayed jti → 401 invalid_client (RFC 7523 §3 item 7)', async () => {
      const c = await create();
      const jwt = await assertion(c.id, c.secret);
      assert.equal((await tokenRequest(jwt)).statusCode, 200);
      await refused(jwt, 'the same assertion again');
      await refused(await assertion(c.id, c.secret, { jti: JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()).jti }),
        'a new assertion with a used jti');
    });

    it('refuses a wrong secret, alg none, RS256 keyed with the secret, the digest as key, bad claims; all invalid_client', async () => {
      const c = await create();
      const now = Math.floor(alias.s.now() / 1000);
      const claims = { iss: c.id, sub: c.id, aud: alias.issuer, exp: now + 60, jti: randomUUID() };
      const hmac = (alg: string) => {
        const input = `${b64({ alg })}.${b64({ ...claims, jti: randomUUID() })}`;
        return `${input}.${createHmac('sha256', c.secret).update(input).digest('base64url')}`;
      };
      const cases: [string, string][] = [
        ['wrong secret', await assertion(c.id, 'not-the-secret-0123456789abcdefghijklmnop')],
        ['alg none', `${b64({ alg: 'none' })}.${b64(claims)}.`],
        ['RS256 header over an HMAC of the secret (algorithm confusion)', hmac('RS256')],
        ['keyed with the stored digest', await assertion(c.id, digest(c.secret))],
        ['exp more than 5 minutes ahead', await assertion(c.id, c.secret, { exp: now + 3600 })],
        ['expired', await assertion(c.id, c.secret, { exp: now - 120 })],
        ['wrong aud', await assertion(c.id, c.secret, { aud: 'https://elsewhere.example' })],
        ['iss is not the client', await assertion(c.id, c.secret, { iss: 'someone-else' })],
      ];
      for (const [why, jwt] of cases) await refused(jwt, why);
      assert.equal((await tokenRequest(hmac('HS256'))).statusCode, 200, 'the same HMAC under HS256 is fine');
      // RFC 7591 §2: registered for client_secret_jwt, so the secret over Basic is refused.
      const res = await alias.app.inject({ method: 'POST', url: '/api/oauth2/token', headers: { 'content-type': FORM, authorization: basic(c.id, c.secret) },
        payload: 'grant_type=client_credentials' });
      assert.equal(res.json().error, 'invalid_client');
      assert.match(res.json().error_description, /registered for client_secret_jwt/);
    });

    it('failed assertions count like wrong secrets: the caller is throttled (429)', async () => {
      const c = await create();
      let status = 0;
      for (let i = 0; i < 40 && status !== 429; i++) status = (await tokenRequest(await assertion(c.id, 'wrong-secret-guess-0123456789abcdef'))).statusCode;
      assert.equal(status, 429);
      assert.equal((await tokenRequest(await assertion(c.id, c.secret))).statusCode, 429, 'a blocked caller is refused before any check');
    });

    it('rotate-secret with an overlap: both secrets work until it ends; without one, only the new secret', async () => {
      const c = await create();
      const { secret: second, client } = await alias.s.clients.rotateSecret(c.id, 10 * MINUTE);
      const r = await row(c.id);
      assert.equal(alias.s.secrets.open(r.previous_secret_sealed!, CLIENT_SECRET_SEAL), c.secret);
      assert.equal(alias.s.secrets.open(r.secret_sealed!, CLIENT_SECRET_SEAL), second);
      assert.ok((await oauth4(c.id, second)).access_token, 'the new secret');
      assert.ok((await oauth4(c.id, c.secret)).access_token, 'the old secret during the overlap');
      alias.advance(client.previousSecretExpiresAt! - alias.s.now() + 1_000);
      await refused(await assertion(c.id, c.secret), 'the old secret once the overlap has ended');
      assert.equal((await tokenRequest(await assertion(c.id, second))).statusCode, 200, 'the new secret still');

      const { secret: third } = await alias.s.clients.rotateSecret(c.id, 0);
      assert.equal((await row(c.id)).previous_secret_sealed, null);
      await refused(await assertion(c.id, second), 'the replaced secret, without an overlap');
      assert.equal((await tokenRequest(await assertion(c.id, third))).statusCode, 200);
    });

    it('CLI: create and update with --token-endpoint-auth-method; switching away clears the sealed copies', async () => {
      // The CLI seals with the same ALIAS_SECRET as the server (docs/security.md).
      const env = { ...alias.db.env, ALIAS_SECRET: TEST_SECRET };
      const created = json(await aliasid(['client', 'create', '--name', 'CLI HMAC', '--grant-type', 'client_credentials',
        '--token-endpoint-auth-method', 'client_secret_jwt', '--json'], env));
      const id = created.client_id as string;
      const first = created.client_secret as string;
      assert.equal(created.token_endpoint_auth_method, 'client_secret_jwt');
      assert.ok((await oauth4(id, first)).access_token);
      await alias.s.clients.rotateSecret(id, 10 * MINUTE);

      // Away from client_secret_jwt: the digest keeps the secret working over Basic; nothing sealed is left.
      const away = json(await aliasid(['client', 'update', id, '--token-endpoint-auth-method', 'client_secret_basic', '--json'], env));
      assert.equal(away.client_secret, undefined, 'no new secret');
      const r = await row(id);
      assert.equal(r.secret_sealed, null);
      assert.equal(r.previous_secret_sealed, null);
      assert.ok(r.secret_digest);
      await refused(await assertion(id, first), 'an assertion from a client_secret_basic client');

      // Back: a digest cannot be read, so a new secret is minted and shown once.
      const back = json(await aliasid(['client', 'update', id, '--token-endpoint-auth-method', 'client_secret_jwt', '--json'], env));
      const fresh = back.client_secret as string;
      assert.match(fresh, /^[A-Za-z0-9_-]{43}$/);
      assert.equal(alias.s.secrets.open((await row(id)).secret_sealed!, CLIENT_SECRET_SEAL), fresh);
      assert.ok((await oauth4(id, fresh)).access_token);
      // Another change keeps the secret.
      const renamed = json(await aliasid(['client', 'update', id, '--name', 'Renamed', '--json'], env));
      assert.equal(renamed.client_secret, undefined);
      assert.ok((await oauth4(id, fresh)).access_token);
    });

    it('RFC 7591 registration with client_secret_jwt returns a secret that works; RFC 7592 PUT away clears the sealed copy', async () => {
      const { token } = await alias.s.registration.createToken({ uses: 1 });
      const meta = { client_name: 'Agent', grant_types: ['client_credentials'], redirect_uris: [], token_endpoint_auth_method: 'client_secret_jwt' };
      const res = await fetch(`${alias.issuer}/api/oauth2/register`, { method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(meta) });
      const info = await res.json() as Record<string, string>;
      assert.equal(res.status, 201, JSON.stringify(info));
      assert.equal(info.token_endpoint_auth_method, 'client_secret_jwt');
      assert.ok((await oauth4(info.client_id!, info.client_secret!)).access_token);

      const put = await fetch(info.registration_client_uri!, { method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${info.registration_access_token}` },
        body: JSON.stringify({ ...meta, client_id: info.client_id, token_endpoint_auth_method: 'client_secret_post' }) });
      assert.equal(put.status, 200, await put.clone().text());
      assert.equal((await put.json()).client_secret, undefined, 'the secret is kept');
      assert.equal((await row(info.client_id!)).secret_sealed, null);
      const post = await alias.app.inject({ method: 'POST', url: '/api/oauth2/token', headers: { 'content-type': FORM },
        payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: info.client_id!, client_secret: info.client_secret! }).toString() });
      assert.equal(post.statusCode, 200, 'the same secret, now in the body');
    });
  });
}
