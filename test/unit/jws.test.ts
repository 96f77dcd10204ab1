// JWS signing with node:crypto (src/tokens/jws.ts, issue 17): for every algorithm Alias
// signs with, the ID token, the RFC 9068 access token and the logout token verify with
// jose against the JWKS the key service serves, and the ID token passes oauth4webapi's
// ID token validation (OIDC Core §3.1.3.7) including its signature check; RS256 (a
// deterministic signature) gives the very bytes jose's SignJWT gives.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, SignJWT, type JSONWebKeySet } from 'jose';
import { migrate, openDatabase, type Db } from '../../src/store/db.js';
import { createSqlStore } from '../../src/store/sql/index.js';
import { createKeyService, type KeyService } from '../../src/tokens/keys.js';
import { signIdToken } from '../../src/tokens/id_token.js';
import { signJwtAccessToken } from '../../src/tokens/jwt_access_token.js';
import { logoutToken } from '../../src/logout/backchannel.js';
import { signJwt } from '../../src/tokens/jws.js';
import { SIGNING_ALGS } from '../../src/oauth/signing_algs.js';
import { createSecrets } from '../../src/crypto/secrets.js';
import { databaseKinds, TEST_SECRET, type TestDatabase } from '../helpers/databases.js';

const ISSUER = 'https://alias.example';
const CLIENT = 'client-1';

describe('JWS signing with node:crypto: every algorithm verifies with jose and oauth4webapi', () => {
  let t: TestDatabase;
  let db: Db;
  let keys: KeyService;
  let jwks: JSONWebKeySet;
  let now = Date.now();
  before(async () => {
    // The embedded store (the first kind): what is under test is the signing, not the store.
    t = await databaseKinds()[0]!.create();
    db = openDatabase(t.location, { schema: t.schema });
    await migrate(db);
    keys = createKeyService(createSqlStore(db), createSecrets(TEST_SECRET), () => now);
    await keys.ensureKey();
    jwks = (await keys.jwks()) as JSONWebKeySet;
  });
  after(async () => {
    await db?.close();
    await t?.cleanup();
  });

  const verify = (token: string, audience: string, typ: string) => jwtVerify(token, createLocalJWKSet(jwks), { issuer: ISSUER, audience, typ });

  for (const alg of SIGNING_ALGS) {
    it(`${alg}: the ID token passes oauth4webapi's validation and signature check, and jose's jwtVerify against JWKS`, async () => {
      const key = await keys.signingKey(alg);
      const idToken = await signIdToken(keys, { alg, issuer: ISSUER, clientId: CLIENT, sub: 'pairwise-sub', authTime: now - 5_000,
        amr: ['pwd'], nonce: 'n-0S6', accessToken: 'at-1', nickname: 'Nick', now });
      // Headers exactly as before (kid, typ), in jose's order.
      assert.equal(Buffer.from(idToken.split('.')[0]!, 'base64url').toString(), JSON.stringify({ alg, kid: key.kid, typ: 'JWT' }));
      const { payload } = await verify(idToken, CLIENT, 'JWT');
      assert.equal(payload.nickname, 'Nick');

      const as: oauth.AuthorizationServer = { issuer: ISSUER, token_endpoint: `${ISSUER}/api/oauth2/token`, jwks_uri: `${ISSUER}/jwks` };
      const rp: oauth.Client = { client_id: CLIENT, id_token_signed_response_alg: alg };
      const response = new Response(JSON.stringify({ access_token: 'at-1', token_type: 'Bearer', expires_in: 1800, id_token: idToken }),
        { headers: { 'content-type': 'application/json' } });
      const tokens = await oauth.processAuthorizationCodeResponse(as, rp, response, { expectedNonce: 'n-0S6', requireIdToken: true });
      assert.equal(oauth.getValidatedIdTokenClaims(tokens)!.sub, 'pairwise-sub');
      // OIDC Core §3.1.3.7 step 6: oauth4webapi fetches JWKS and checks the signature with the kid's key.
      await oauth.validateApplicationLevelSignature(as, response, {
        [oauth.customFetch]: async () => new Response(JSON.stringify(jwks), { headers: { 'content-type': 'application/json' } }),
      });
    });

    it(`${alg}: the RFC 9068 access token (typ at+jwt) and the logout token (typ logout+jwt) verify with jose against JWKS`, async () => {
      const at = await signJwtAccessToken(keys, { alg, issuer: ISSUER, audience: 'https://api.example', sub: 's', clientId: CLIENT,
        jti: 'jti-1', scopes: ['a', 'b'], issuedAt: now, expiresAt: now + 300_000 });
      assert.equal((await verify(at, 'https://api.example', 'at+jwt')).payload.scope, 'a b');
      const logout = await logoutToken(keys, ISSUER, { id: CLIENT, idTokenSignedResponseAlg: alg }, 's', now);
      assert.ok((await verify(logout, CLIENT, 'logout+jwt')).payload.events);
      assert.equal(decodeProtectedHeader(logout).alg, alg);
    });
  }

  it('ES256 signatures are R || S, 64 octets (RFC 7518 §3.4), not DER', async () => {
    const token = signJwt(await keys.signingKey('ES256'), { typ: 'JWT' }, { sub: 's' });
    assert.equal(Buffer.from(token.split('.')[2]!, 'base64url').length, 64);
  });

  it('RS256: the same header and claims give the very token jose\'s SignJWT gives', async () => {
    const key = await keys.signingKey('RS256');
    const claims = { amr: ['pwd'], nonce: 'n', iss: ISSUER, aud: CLIENT, sub: 's', jti: 'j', iat: 1, exp: 2 };
    const ours = signJwt(key, { typ: 'JWT' }, claims);
    const theirs = await new SignJWT({ amr: ['pwd'], nonce: 'n' }).setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'JWT' })
      .setIssuer(ISSUER).setAudience(CLIENT).setSubject('s').setJti('j').setIssuedAt(1).setExpirationTime(2).sign(key.privateKey);
    assert.equal(ours, theirs);
  });

  it('after `keys rotate --now` the new key signs at once and its tokens verify against the new JWKS', async () => {
    const before = await keys.signingKey('RS256');
    const rotated = await keys.rotate({ compromised: true });
    now += 1;
    const after = await keys.signingKey('RS256');
    assert.notEqual(after.kid, before.kid);
    assert.equal(after.kid, rotated.find((r) => r.alg === 'RS256')!.kid);
    jwks = (await keys.jwks()) as JSONWebKeySet;
    const token = await signIdToken(keys, { alg: 'RS256', issuer: ISSUER, clientId: CLIENT, sub: 's', authTime: now, amr: ['pwd'], now });
    assert.equal(decodeProtectedHeader(token).kid, after.kid);
    await verify(token, CLIENT, 'JWT');
  });
});
