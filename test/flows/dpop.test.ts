// RFC 9449 (DPoP) and RFC 7523 (private_key_jwt) end to end over HTTP, with oauth4webapi
// as the independent client, on SQLite and PostgreSQL, and across two nodes on one database.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { SignJWT, exportJWK, generateKeyPair, calculateJwkThumbprint, type JWK } from 'jose';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias, discoverAlias } from '../helpers/harness.js';
import { Browser, checkboxes } from '../helpers/browser.js';
import { basic } from '../helpers/bad_input.js';
import { loadConfig } from '../../src/config/config.js';
import { createServices, type Services } from '../../src/services.js';
import { buildApp } from '../../src/http/app.js';
import { TEST_SECRET } from '../helpers/databases.js';
import { accessTokenHash } from '../../src/oauth/dpop.js';
import type { Client } from '../../src/store/types.js';

const REDIRECT = 'http://127.0.0.1:9/cb';
const FORM = 'application/x-www-form-urlencoded';
const INSECURE = { [oauth.allowInsecureRequests]: true } as const;
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

/** A DPoP proof (RFC 9449 §4.2) built by hand, so each claim can be broken on purpose. */
async function proof(keys: KeyPair, htm: string, htu: string, opts: { nonce?: string; ath?: string; jti?: string; iat?: number;
  typ?: string; jwk?: JWK; alg?: string } = {}): Promise<string> {
  const jwk = opts.jwk ?? await exportJWK(keys.publicKey);
  return new SignJWT({ htm, htu, jti: opts.jti ?? randomUUID(), ...(opts.nonce ? { nonce: opts.nonce } : {}),
    ...(opts.ath ? { ath: opts.ath } : {}) })
    .setProtectedHeader({ alg: opts.alg ?? 'ES256', typ: opts.typ ?? 'dpop+jwt', jwk })
    .setIssuedAt(opts.iat ?? Math.floor(Date.now() / 1000))
    .sign(keys.privateKey);
}

/** An RFC 7523 client assertion. */
async function assertion(keys: KeyPair, clientId: string, aud: string, opts: { exp?: number; jti?: string; kid?: string; alg?: string } = {}) {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ jti: opts.jti ?? randomUUID() }).setProtectedHeader({ alg: opts.alg ?? 'ES256', ...(opts.kid ? { kid: opts.kid } : {}) })
    .setIssuer(clientId).setSubject(clientId).setAudience(aud).setIssuedAt(now).setExpirationTime(opts.exp ?? now + 60)
    .sign(keys.privateKey);
}

/** A second Alias node on the same database (any node serves any request). */
async function secondNode(alias: Alias): Promise<{ s: Services; inject: Alias['app']['inject']; close(): Promise<void> }> {
  const config = loadConfig({ db: alias.db.location, issuer: alias.issuer }, { ALIAS_SECRET: TEST_SECRET, ALIAS_LOG_LEVEL: 'silent' });
  const s = await createServices(config, { now: alias.s.now, schema: alias.db.schema, migrate: false });
  const app = await buildApp(s, {});
  await app.ready();
  return { s, inject: app.inject.bind(app), close: async () => { await app.close(); await s.close(); } };
}

for (const kind of databaseKinds()) {
  describe(`DPoP and private_key_jwt (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let as: oauth.AuthorizationServer;
    let tokenUrl: string;
    before(async () => {
      alias = await startAlias(kind);
      tokenUrl = `${alias.issuer}/api/oauth2/token`;
      as = await discoverAlias(alias);
    });
    after(() => alias?.close());

    /** A confidential client set to private_key_jwt with an inline JWK set (the registry's fields, set through the store). */
    async function keyClient(over: Partial<Client> = {}, grantTypes = ['client_credentials']) {
      const keys = await generateKeyPair('ES256');
      const jwk = { ...await exportJWK(keys.publicKey), kid: 'k1', alg: 'ES256', use: 'sig' };
      const { client } = await alias.client({ grantTypes, redirectUris: grantTypes.includes('authorization_code') ? [REDIRECT] : [],
        scopes: ['reports'], channels: ['news'] });
      const updated: Client = { ...client, tokenEndpointAuthMethod: 'private_key_jwt', jwks: { keys: [jwk] }, ...over };
      await alias.s.store.clients.update(updated);
      return { client: updated, keys };
    }

    const tokenRequest = (body: Record<string, string>, headers: Record<string, string> = {}) => alias.app.inject({
      method: 'POST', url: '/api/oauth2/token', headers: { 'content-type': FORM, ...headers }, payload: new URLSearchParams(body).toString() });

    async function currentNonce(): Promise<string> {
      const res = await tokenRequest({ grant_type: 'client_credentials' }, { dpop: await proof(await generateKeyPair('ES256'), 'POST', tokenUrl) });
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().error, 'use_dpop_nonce');
      return res.headers['dpop-nonce'] as string;
    }

    it('discovery advertises DPoP algorithms, private_key_jwt and client_secret_jwt with their algorithms (RFC 9449 §5.1, RFC 8414 §2)', () => {
      assert.deepEqual(as.dpop_signing_alg_values_supported, ['ES256', 'PS256', 'RS256', 'EdDSA']);
      assert.ok(as.token_endpoint_auth_methods_supported?.includes('private_key_jwt'));
      assert.ok(as.token_endpoint_auth_methods_supported?.includes('client_secret_jwt'), 'its secret is kept sealed (migration 020)');
      assert.deepEqual(as.token_endpoint_auth_signing_alg_values_supported, ['RS256', 'PS256', 'ES256', 'EdDSA', 'HS256', 'HS384', 'HS512']);
      assert.ok(as.introspection_endpoint_auth_methods_supported?.includes('private_key_jwt'));
      assert.ok(as.revocation_endpoint_auth_methods_supported?.includes('private_key_jwt'));
    });

    it('code flow with dpop_jkt → DPoP-bound tokens → userinfo and relay with proofs → refresh (oauth4webapi)', async () => {
      // A private_key_jwt client (RFC 7523) whose tokens are DPoP-bound (RFC 9449 §5, §7, §10).
      const { client, keys: clientKeys } = await keyClient({}, ['authorization_code', 'refresh_token']);
      const user = await alias.user();
      const dpopKeys = await oauth.generateKeyPair('ES256');
      const oclient: oauth.Client = { client_id: client.id };
      const dpop = oauth.DPoP(oclient, dpopKeys);
      const auth = oauth.PrivateKeyJwt({ key: clientKeys.privateKey, kid: 'k1' });
      const verifier = oauth.generateRandomCodeVerifier();
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({ response_type: 'code', client_id: client.id, redirect_uri: REDIRECT, state: 'st',
        scope: 'openid contact offline_access', channels: 'news', code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256', dpop_jkt: await dpop.calculateThumbprint() }).toString();
      const browser = new Browser(alias.issuer);
      const login = await browser.follow(url.href);
      const consent = await browser.submit(login, { email: user.email, password: user.password });
      const done = await browser.submit(consent, { decision: 'allow', scope: checkboxes(consent.html, 'scope').map((c) => c.value),
        channel: checkboxes(consent.html, 'channel').map((c) => c.value) });
      const params = oauth.validateAuthResponse(as, oclient, new URL(done.url), 'st');

      // RFC 9449 §8: the first request has no nonce; the client retries with the one it got.
      const exchange = () => oauth.authorizationCodeGrantRequest(as, oclient, auth, params, REDIRECT, verifier, { DPoP: dpop, ...INSECURE });
      let result: oauth.TokenEndpointResponse;
      try {
        result = await oauth.processAuthorizationCodeResponse(as, oclient, await exchange());
        assert.fail('the first request has no nonce');
      } catch (err) {
        assert.ok(oauth.isDPoPNonceError(err), String(err));
        result = await oauth.processAuthorizationCodeResponse(as, oclient, await exchange());
      }
      assert.equal(result.token_type, 'dpop', 'RFC 9449 §5: token_type DPoP');
      const jkt = await dpop.calculateThumbprint();

      // Introspection shows the binding (RFC 9449 §6.2).
      const { client: rs, secret: rsSecret } = await alias.client({ grantTypes: ['client_credentials'], redirectUris: [] });
      void rs;
      const introspected = await alias.app.inject({ method: 'POST', url: '/api/oauth2/introspect',
        headers: { 'content-type': FORM, authorization: basic(client.id, 'x') }, payload: `token=${result.access_token}` });
      assert.equal(introspected.statusCode, 401, 'a private_key_jwt client cannot use a secret it has not got');
      const own = await alias.app.inject({ method: 'POST', url: '/api/oauth2/introspect', headers: { 'content-type': FORM },
        payload: new URLSearchParams({ token: result.access_token, client_assertion_type: ASSERTION_TYPE,
          client_assertion: await assertion(clientKeys, client.id, alias.issuer) }).toString() });
      assert.equal(own.statusCode, 200, own.body);
      assert.deepEqual(own.json().cnf, { jkt });
      assert.equal(own.json().token_type, 'DPoP');
      void rsSecret;

      // Userinfo with the DPoP scheme and a proof naming the token (§7.1).
      const info = await oauth.processUserInfoResponse(as, oclient, oauth.skipSubjectCheck,
        await oauth.userInfoRequest(as, oclient, result.access_token, { DPoP: dpop, ...INSECURE }));
      assert.ok(info.sub);
      // A bound token sent as a plain Bearer token is refused (§7.1).
      const asBearer = await fetch(`${alias.issuer}/api/oauth2/userinfo`, { headers: { authorization: `Bearer ${result.access_token}` } });
      assert.equal(asBearer.status, 401);
      assert.match(asBearer.headers.get('www-authenticate') ?? '', /^DPoP .*error="invalid_token"/);
      // The DPoP scheme without a proof, or with a proof of another key.
      const noProof = await fetch(`${alias.issuer}/api/oauth2/userinfo`, { headers: { authorization: `DPoP ${result.access_token}` } });
      assert.equal(noProof.status, 401);
      assert.match(noProof.headers.get('www-authenticate') ?? '', /error="invalid_dpop_proof"/);
      const other = await generateKeyPair('ES256');
      const otherKey = await fetch(`${alias.issuer}/api/oauth2/userinfo`, { headers: { authorization: `DPoP ${result.access_token}`,
        dpop: await proof(other, 'GET', `${alias.issuer}/api/oauth2/userinfo`, { ath: accessTokenHash(result.access_token) }) } });
      assert.equal(otherKey.status, 401);
      assert.match(otherKey.headers.get('www-authenticate') ?? '', /error="invalid_dpop_proof"/);

      // The relay API, with a proof (§7).
      const sent = await oauth.protectedResourceRequest(result.access_token, 'POST', new URL(`${alias.issuer}/api/v1/messages`),
        new Headers({ 'content-type': 'application/json' }), JSON.stringify({ to: info.sub, channel: 'news', subject: 'Hi', body: 'Hello' }),
        { DPoP: dpop, ...INSECURE });
      assert.equal(sent.status, 202, await sent.clone().text());
      const relayBearer = await fetch(`${alias.issuer}/api/v1/messages`, { method: 'POST',
        headers: { authorization: `Bearer ${result.access_token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ to: info.sub, channel: 'news', subject: 'Hi', body: 'Hello' }) });
      assert.equal(relayBearer.status, 401, 'the relay refuses a bound token as Bearer');
      const queued = await alias.s.db.kysely.selectFrom('messages').select('id').where('client_id', '=', client.id).execute();
      assert.equal(queued.length, 1, 'only the message sent with a proof was queued');

      // Refresh: the new access token is bound to the key of the new proof (§5).
      const refreshed = await oauth.processRefreshTokenResponse(as, oclient,
        await oauth.refreshTokenGrantRequest(as, oclient, auth, result.refresh_token!, { DPoP: dpop, ...INSECURE }));
      assert.equal(refreshed.token_type, 'dpop');
      await oauth.processUserInfoResponse(as, oclient, info.sub,
        await oauth.userInfoRequest(as, oclient, refreshed.access_token, { DPoP: dpop, ...INSECURE }));
    });

    it('a code issued for dpop_jkt is redeemed only with a proof of that key (RFC 9449 §10)', async () => {
      const { client, secret } = await alias.client({ redirectUris: [REDIRECT], grantTypes: ['authorization_code'] });
      const user = await alias.user();
      const bound = await generateKeyPair('ES256');
      const jkt = await calculateJwkThumbprint(await exportJWK(bound.publicKey));
      const browser = new Browser(alias.issuer);
      const login = await browser.follow('/oauth2/authorize?' + new URLSearchParams({ response_type: 'code', client_id: client.id,
        redirect_uri: REDIRECT, scope: 'openid', state: 's', dpop_jkt: jkt }));
      const consent = await browser.submit(login, { email: user.email, password: user.password });
      const done = await browser.submit(consent, { decision: 'allow', scope: checkboxes(consent.html, 'scope').map((c) => c.value) });
      const code = new URL(done.url).searchParams.get('code')!;
      const nonce = await currentNonce();
      const body = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT };
      const auth = { authorization: basic(client.id, secret!) };
      const without = await tokenRequest(body, auth);
      assert.equal(without.statusCode, 400);
      assert.equal(without.json().error, 'invalid_grant');
      const wrongKey = await tokenRequest(body, { ...auth, dpop: await proof(await generateKeyPair('ES256'), 'POST', tokenUrl, { nonce }) });
      assert.equal(wrongKey.json().error, 'invalid_grant');
      const right = await tokenRequest(body, { ...auth, dpop: await proof(bound, 'POST', tokenUrl, { nonce }) });
      assert.equal(right.statusCode, 200, right.body);
      assert.equal(right.json().token_type, 'DPoP');
      // A malformed dpop_jkt goes back to the client as invalid_request.
      const bad = await browser.follow('/oauth2/authorize?' + new URLSearchParams({ response_type: 'code', client_id: client.id,
        redirect_uri: REDIRECT, scope: 'openid', state: 's', dpop_jkt: 'not-a-thumbprint' }));
      assert.equal(new URL(bad.url).searchParams.get('error'), 'invalid_request');
    });

    it('private_key_jwt client credentials with oauth4webapi; a replayed assertion is invalid_client (RFC 7523 §3)', async () => {
      const { client, keys } = await keyClient();
      const oclient: oauth.Client = { client_id: client.id };
      const res = await oauth.clientCredentialsGrantRequest(as, oclient, oauth.PrivateKeyJwt({ key: keys.privateKey, kid: 'k1' }),
        new URLSearchParams({ scope: 'reports' }), INSECURE);
      const tokens = await oauth.processClientCredentialsResponse(as, oclient, res);
      assert.equal(tokens.token_type, 'bearer');
      assert.equal(tokens.scope, 'reports');

      const jwt = await assertion(keys, client.id, alias.issuer);
      const body = { grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: jwt };
      assert.equal((await tokenRequest(body)).statusCode, 200);
      const replay = await tokenRequest(body);
      assert.equal(replay.statusCode, 401);
      assert.equal(replay.json().error, 'invalid_client');
      // The token endpoint URL is an accepted audience too (RFC 7523bis).
      assert.equal((await tokenRequest({ ...body, client_assertion: await assertion(keys, client.id, tokenUrl) })).statusCode, 200);
    });

    it('refuses assertions with a wrong audience, a long exp, no jti, another key, or for a secret client (invalid_client)', async () => {
      const { client, keys } = await keyClient();
      const now = Math.floor(Date.now() / 1000);
      const cases: [string, string][] = [
        ['wrong aud', await assertion(keys, client.id, 'https://elsewhere.example')],
        ['exp more than 5 minutes ahead', await assertion(keys, client.id, alias.issuer, { exp: now + 3600 })],
        ['expired', await assertion(keys, client.id, alias.issuer, { exp: now - 120 })],
        ['another key', await assertion(await generateKeyPair('ES256'), client.id, alias.issuer)],
        ['no jti', await new SignJWT({}).setProtectedHeader({ alg: 'ES256' }).setIssuer(client.id).setSubject(client.id)
          .setAudience(alias.issuer).setExpirationTime(now + 60).sign(keys.privateKey)],
        ['alg none', `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: client.id, sub: client.id,
          aud: alias.issuer, exp: now + 60, jti: 'x' })).toString('base64url')}.`],
      ];
      for (const [why, jwt] of cases) {
        const res = await tokenRequest({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: jwt });
        assert.equal(res.statusCode, 401, why);
        assert.equal(res.json().error, 'invalid_client', why);
      }
      // A client registered for client_secret_basic cannot use an assertion, even one signed well.
      const { client: plain } = await alias.client({ grantTypes: ['client_credentials'], redirectUris: [] });
      await alias.s.store.clients.update({ ...plain, jwks: client.jwks });
      const res = await tokenRequest({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE,
        client_assertion: await assertion(keys, plain.id, alias.issuer) });
      assert.equal(res.json().error, 'invalid_client');
      // Malformed pairs are invalid_request; a Basic header beside an assertion too (RFC 6749 §2.3).
      assert.equal((await tokenRequest({ grant_type: 'client_credentials', client_assertion: 'a.b.c' })).json().error, 'invalid_request');
      assert.equal((await tokenRequest({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE,
        client_assertion: await assertion(keys, client.id, alias.issuer) }, { authorization: basic(client.id, 'x') })).json().error, 'invalid_request');
    });

    it('failed assertions count like wrong secrets: the caller is throttled (429)', async () => {
      const { client, keys } = await keyClient();
      const other = await generateKeyPair('ES256');
      let status = 0;
      for (let i = 0; i < 40 && status !== 429; i++) {
        status = (await tokenRequest({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE,
          client_assertion: await assertion(other, client.id, alias.issuer) })).statusCode;
      }
      assert.equal(status, 429);
      const good = await tokenRequest({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE,
        client_assertion: await assertion(keys, client.id, alias.issuer) });
      assert.equal(good.statusCode, 429, 'a blocked caller is refused before any check');
    });

    it('two nodes on one database: a proof or an assertion used at one node is refused at the other (RFC 9449 §11.1)', async () => {
      const node2 = await secondNode(alias);
      try {
        const { client, keys } = await keyClient();
        const nonce = await currentNonce();
        const dpopKeys = await generateKeyPair('ES256');
        const jwt = await assertion(keys, client.id, alias.issuer);
        const dpop = await proof(dpopKeys, 'POST', tokenUrl, { nonce: nonce, iat: Math.floor(alias.s.now() / 1000) });
        const req = { method: 'POST' as const, url: '/api/oauth2/token', headers: { 'content-type': FORM, dpop },
          payload: new URLSearchParams({ grant_type: 'client_credentials', client_assertion_type: ASSERTION_TYPE, client_assertion: jwt }).toString() };
        const first = await node2.inject(req);
        assert.equal(first.statusCode, 200, `${first.body} (node 2 accepts node 1's nonce)`);
        const again = await alias.app.inject({ ...req, headers: { ...req.headers, dpop: await proof(dpopKeys, 'POST', tokenUrl,
          { nonce, iat: Math.floor(alias.s.now() / 1000) }) } });
        assert.equal(again.json().error, 'invalid_client', 'the assertion was used at node 2');
        const proofAgain = await alias.app.inject({ ...req, payload: new URLSearchParams({ grant_type: 'client_credentials',
          client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(keys, client.id, alias.issuer) }).toString() });
        assert.equal(proofAgain.json().error, 'invalid_dpop_proof', 'the proof was used at node 2');
        // The token node 2 issued is bound, and node 1 wants its proof.
        const token = first.json().access_token as string;
        const info = await alias.app.inject({ method: 'GET', url: '/api/oauth2/userinfo', headers: { authorization: `Bearer ${token}` } });
        assert.equal(info.statusCode, 401);
      } finally {
        await node2.close();
      }
    });

    it('jwks_uri: fetched, cached, and fetched again for an unknown kid (client key rotation)', async () => {
      const first = await generateKeyPair('ES256');
      const second = await generateKeyPair('ES256');
      let served = { keys: [{ ...await exportJWK(first.publicKey), kid: 'a', alg: 'ES256' }] as JWK[] };
      let fetches = 0;
      const server: Server = createServer((_req, res) => {
        fetches++;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(served));
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      try {
        const port = (server.address() as { port: number }).port;
        const { client } = await keyClient({ jwks: null, jwksUri: `http://127.0.0.1:${port}/jwks` });
        const cc = async (keys: KeyPair, kid: string) => (await tokenRequest({ grant_type: 'client_credentials',
          client_assertion_type: ASSERTION_TYPE, client_assertion: await assertion(keys, client.id, alias.issuer, { kid }) })).statusCode;
        assert.equal(await cc(first, 'a'), 200);
        assert.equal(await cc(first, 'a'), 200);
        assert.equal(fetches, 1, 'the set is cached');
        served = { keys: [...served.keys, { ...await exportJWK(second.publicKey), kid: 'b', alg: 'ES256' }] };
        alias.advance(31_000); // past the refetch cool-down
        assert.equal(await cc(second, 'b'), 200, 'an unknown kid fetches the set again');
        assert.equal(fetches, 2);
      } finally {
        server.close();
      }
    });

    it('DPoP client credentials: nonce, replay, htm, htu, iat, typ, private jwk, dpop_bound_access_tokens (RFC 9449 §4.3, §8, §11.1)', async () => {
      const { client, secret } = await alias.client({ grantTypes: ['client_credentials'], redirectUris: [] });
      const auth = { authorization: basic(client.id, secret!) };
      const keys = await generateKeyPair('ES256', { extractable: true });
      const body = { grant_type: 'client_credentials' };
      const noNonce = await tokenRequest(body, { ...auth, dpop: await proof(keys, 'POST', tokenUrl) });
      assert.equal(noNonce.statusCode, 400);
      assert.equal(noNonce.json().error, 'use_dpop_nonce');
      const nonce = noNonce.headers['dpop-nonce'] as string;
      assert.ok(nonce);
      const good = await proof(keys, 'POST', tokenUrl, { nonce });
      const ok = await tokenRequest(body, { ...auth, dpop: good });
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.json().token_type, 'DPoP');
      assert.equal(ok.headers['dpop-nonce'], nonce, 'the current nonce comes with every answer');
      // A browser client can read it (CORS for a registered redirect URI's origin).
      const { client: spa } = await alias.client({ isPublic: true, redirectUris: ['https://spa.example/cb'] });
      void spa;
      const cors = await tokenRequest(body, { ...auth, origin: 'https://spa.example', dpop: await proof(keys, 'POST', tokenUrl) });
      assert.match(String(cors.headers['access-control-expose-headers']), /DPoP-Nonce/);
      const replay = await tokenRequest(body, { ...auth, dpop: good });
      assert.equal(replay.statusCode, 400);
      assert.equal(replay.json().error, 'invalid_dpop_proof');
      const priv = { ...await exportJWK(keys.privateKey) };
      const bad: [string, string][] = [
        ['htm', await proof(keys, 'GET', tokenUrl, { nonce })],
        ['htu', await proof(keys, 'POST', `${alias.issuer}/api/oauth2/introspect`, { nonce })],
        ['old iat', await proof(keys, 'POST', tokenUrl, { nonce, iat: Math.floor(Date.now() / 1000) - 600 })],
        ['typ', await proof(keys, 'POST', tokenUrl, { nonce, typ: 'JWT' })],
        ['private jwk', await proof(keys, 'POST', tokenUrl, { nonce, jwk: priv })],
        ['HS256', await new SignJWT({ htm: 'POST', htu: tokenUrl, jti: 'j', nonce }).setProtectedHeader({ alg: 'HS256', typ: 'dpop+jwt',
          jwk: { kty: 'oct', k: 'AAAA' } as JWK }).setIssuedAt().sign(new Uint8Array(32))],
        ['garbage', 'not.a.jwt'],
        ['two headers', `${good}, ${good}`],
      ];
      for (const [why, dpop] of bad) {
        const res = await tokenRequest(body, { ...auth, dpop });
        assert.equal(res.statusCode, 400, why);
        assert.equal(res.json().error, 'invalid_dpop_proof', why);
      }
      const forged = await tokenRequest(body, { ...auth, dpop: await proof(keys, 'POST', tokenUrl, { nonce: nonce.slice(0, -2) + 'AA' }) });
      assert.equal(forged.json().error, 'use_dpop_nonce');
      // htu without query: a query on the proof's htu is ignored (§4.3 item 9).
      assert.equal((await tokenRequest(body, { ...auth, dpop: await proof(keys, 'POST', `${tokenUrl}?x=1`, { nonce }) })).statusCode, 200);
      // dpop_bound_access_tokens: a proof is required (§5.2).
      await alias.s.store.clients.update({ ...client, dpopBoundAccessTokens: true });
      const plain = await tokenRequest(body, auth);
      assert.equal(plain.statusCode, 400);
      assert.equal(plain.json().error, 'invalid_dpop_proof');
      // A nonce from the previous window is still accepted; one from two windows back is not.
      alias.advance(5 * 60_000);
      assert.equal((await tokenRequest(body, { ...auth, dpop: await proof(keys, 'POST', tokenUrl, { nonce, iat: Math.floor(alias.s.now() / 1000) }) })).statusCode, 200);
      alias.advance(5 * 60_000);
      const stale = await tokenRequest(body, { ...auth, dpop: await proof(keys, 'POST', tokenUrl, { nonce, iat: Math.floor(alias.s.now() / 1000) }) });
      assert.equal(stale.json().error, 'use_dpop_nonce');
      assert.notEqual(stale.headers['dpop-nonce'], nonce, 'nonces rotate');
    });

  });
}
