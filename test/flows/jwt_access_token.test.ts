// RFC 9068 JWT access tokens for resources registered with `--token-format jwt`, validated
// by oauth4webapi's validateJwtAccessToken (an RS we did not write), on SQLite and
// PostgreSQL: claims, pairwise sub, client-credentials sub, DPoP cnf.jkt, introspection and
// revocation through the stored jti digest.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias, discoverAlias } from '../helpers/harness.js';
import { Browser, checkboxes } from '../helpers/browser.js';
import { atHash } from '../../src/tokens/id_token.js';

const REDIRECT = 'http://127.0.0.1:9/cb';
const INSECURE = { [oauth.allowInsecureRequests]: true } as const;
const API = 'https://api.example/v1';

for (const kind of databaseKinds()) {
  describe(`JWT access tokens, RFC 9068 (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let as: oauth.AuthorizationServer;
    before(async () => {
      alias = await startAlias(kind);
      as = await discoverAlias(alias);
      await alias.s.store.resources.insert({ uri: API, name: 'Example API', scopes: ['items.read', 'items.write'],
        tokenFormat: 'jwt', ttlS: 300, createdAt: alias.s.now() });
    });
    after(() => alias?.close());

    /** The resource server's check: RFC 6750 header, RFC 9068 validation by oauth4webapi. */
    const validate = (token: string, scheme = 'Bearer', extra: Record<string, string> = {}) =>
      oauth.validateJwtAccessToken(as, new Request(API, { headers: { authorization: `${scheme} ${token}`, ...extra } }), API, INSECURE);

    async function codeTokens(opts: { dpop?: oauth.DPoPHandle } = {}) {
      const { client, secret } = await alias.client({ redirectUris: [REDIRECT], grantTypes: ['authorization_code', 'refresh_token'] });
      const oclient: oauth.Client = { client_id: client.id };
      const auth = oauth.ClientSecretBasic(secret!);
      const user = await alias.user();
      const verifier = oauth.generateRandomCodeVerifier();
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({ response_type: 'code', client_id: client.id, redirect_uri: REDIRECT, state: 'st',
        scope: 'openid offline_access items.read', resource: API, code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256' }).toString();
      const browser = new Browser(alias.issuer);
      const login = await browser.follow(url.href);
      const consent = await browser.submit(login, { email: user.email, password: user.password });
      const done = await browser.submit(consent, { decision: 'allow', scope: checkboxes(consent.html, 'scope').map((c) => c.value) });
      const params = oauth.validateAuthResponse(as, oclient, new URL(done.url), 'st');
      const exchange = () => oauth.authorizationCodeGrantRequest(as, oclient, auth, params, REDIRECT, verifier,
        { ...INSECURE, ...(opts.dpop ? { DPoP: opts.dpop } : {}) });
      let tokens: oauth.TokenEndpointResponse;
      try {
        tokens = await oauth.processAuthorizationCodeResponse(as, oclient, await exchange());
      } catch (err) {
        // RFC 9449 §8: a DPoP request may be asked to retry with the server's nonce.
        if (!opts.dpop || !oauth.isDPoPNonceError(err)) throw err;
        tokens = await oauth.processAuthorizationCodeResponse(as, oclient, await exchange());
      }
      return { client, oclient, auth, user, tokens };
    }

    it('the access token is an RFC 9068 JWT: typ at+jwt, iss, aud, exp, iat, jti, client_id, scope, pairwise sub, auth_time (§2)', async () => {
      const { client, user, tokens } = await codeTokens();
      assert.equal(decodeProtectedHeader(tokens.access_token).typ, 'at+jwt');
      const claims = await validate(tokens.access_token);
      assert.equal(claims.iss, alias.issuer);
      assert.equal(claims.aud, API);
      assert.equal(claims.client_id, client.id);
      assert.equal(claims.scope, 'items.read');
      assert.equal(tokens.expires_in, 300);
      assert.equal(claims.exp - claims.iat, 300);
      // §2.2 sub: the pairwise alias ID of this user at this client, never a global id.
      assert.equal(claims.sub, alias.s.pairwise(client.id, user.id));
      assert.notEqual(claims.sub, user.id);
      const idToken = decodeJwt(tokens.id_token!);
      assert.equal(claims.sub, idToken.sub, 'the same alias ID as the ID token');
      assert.equal(typeof claims.auth_time, 'number');
      assert.deepEqual(claims.amr, ['pwd']);
      assert.equal(typeof claims.acr, 'string');
      // OIDC Core §3.1.3.6: at_hash is of the JWT the client received.
      assert.equal(idToken.at_hash, atHash(tokens.access_token));

      // The wrong audience fails the RS check.
      await assert.rejects(oauth.validateJwtAccessToken(as, new Request(API, { headers: { authorization: `Bearer ${tokens.access_token}` } }),
        'https://other.example/', INSECURE));
    });

    it('a refresh returns a new JWT for the same audience; introspection and revocation work through the stored jti digest', async () => {
      const { client, oclient, auth, tokens } = await codeTokens();
      const refreshed = await oauth.processRefreshTokenResponse(as, oclient,
        await oauth.refreshTokenGrantRequest(as, oclient, auth, tokens.refresh_token!, INSECURE));
      const claims = await validate(refreshed.access_token);
      assert.equal(claims.aud, API);
      assert.equal(claims.client_id, client.id);
      assert.notEqual(claims.jti, decodeJwt(tokens.access_token).jti);
      const introspect = async (token: string) => oauth.processIntrospectionResponse(as, oclient,
        await oauth.introspectionRequest(as, oclient, auth, token, INSECURE));
      const info = await introspect(refreshed.access_token);
      assert.equal(info.active, true);
      assert.equal(info.aud, API);
      assert.equal(info.scope, 'items.read');
      assert.equal(info.sub, claims.sub);
      await oauth.processRevocationResponse(await oauth.revocationRequest(as, oclient, auth, refreshed.access_token, INSECURE));
      assert.equal((await introspect(refreshed.access_token)).active, false, 'revoked: introspection sees it');
      // A JWT with a forged payload but the same shape is not found (no row for its jti).
      const [h, , sig] = refreshed.access_token.split('.');
      const forged = `${h}.${Buffer.from(JSON.stringify({ jti: 'nope' })).toString('base64url')}.${sig}`;
      assert.equal((await introspect(forged)).active, false);
      // Not a token for Alias's userinfo (its audience is the API).
      const ui = await fetch(as.userinfo_endpoint!, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(ui.status, 401);
    });

    it('client credentials: sub is the client_id (RFC 9068 §2.2), no auth_time', async () => {
      const { client, secret } = await alias.client({ grantTypes: ['client_credentials'], scopes: ['items.read', 'items.write', 'other'] });
      const oclient: oauth.Client = { client_id: client.id };
      const tokens = await oauth.processClientCredentialsResponse(as, oclient, await oauth.clientCredentialsGrantRequest(as, oclient,
        oauth.ClientSecretBasic(secret!), new URLSearchParams({ resource: API }), INSECURE));
      const claims = await validate(tokens.access_token);
      assert.equal(claims.sub, client.id);
      assert.equal(claims.client_id, client.id);
      assert.equal(claims.aud, API);
      assert.deepEqual(new Set(claims.scope!.split(' ')), new Set(['items.read', 'items.write']));
      assert.equal(claims.auth_time, undefined);
      const info = await oauth.processIntrospectionResponse(as, oclient,
        await oauth.introspectionRequest(as, oclient, oauth.ClientSecretBasic(secret!), tokens.access_token, INSECURE));
      assert.equal(info.active, true);
      assert.equal(info.aud, API);
    });

    it('a DPoP-bound JWT access token carries cnf.jkt (RFC 9449 §6.1) and validates only with a proof of that key', async () => {
      const keys = await oauth.generateKeyPair('ES256');
      const { oclient, tokens } = await codeTokens({ dpop: oauth.DPoP({}, keys) });
      assert.equal(tokens.token_type, 'dpop');
      const jkt = await oauth.DPoP(oclient, keys).calculateThumbprint();
      assert.deepEqual(decodeJwt(tokens.access_token).cnf, { jkt });
      // As a plain Bearer token the RS refuses it.
      await assert.rejects(validate(tokens.access_token));
      // With a proof (built the way oauth4webapi sends one to a resource), it validates.
      let proofHeader = '';
      const capture = async (_url: string, init: { headers: Record<string, string> }) => {
        proofHeader = new Headers(init.headers).get('dpop') ?? '';
        return new Response('{}', { status: 200, headers: { 'content-type': 'application/json' } });
      };
      await oauth.protectedResourceRequest(tokens.access_token, 'GET', new URL(API), undefined, undefined,
        { DPoP: oauth.DPoP(oclient, keys), [oauth.customFetch]: capture });
      const claims = await validate(tokens.access_token, 'DPoP', { dpop: proofHeader });
      assert.deepEqual(claims.cnf, { jkt });
    });
  });
}
