// ID tokens and logout tokens signed with each client's id_token_signed_response_alg
// (OpenID Connect Dynamic Client Registration 1.0 §2: RS256 by default, or ES256), in
// every flow that issues one, checked by independent clients (oauth4webapi, openid-client)
// that are told the client's algorithm and verify signatures against Alias's JWKS.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import * as oauth from 'oauth4webapi';
import * as oidc from 'openid-client';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { databaseKinds } from '../helpers/databases.js';
import { freePort, startAlias, type Alias } from '../helpers/harness.js';
import { Browser, signInAndAllow } from '../helpers/browser.js';

const CB = 'http://127.0.0.1:9/cb';
const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const ALGS = ['RS256', 'ES256'] as const;
const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** The fields of the form_post page (OAuth 2.0 Form Post Response Mode). */
function posted(html: string): Record<string, string> {
  return Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1]!, m[2]!]));
}

/** A relying party's back-channel logout endpoint that records the logout tokens it receives. */
async function backchannelEndpoint() {
  const received: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      received.push(new URLSearchParams(body).get('logout_token') ?? '');
      res.end();
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { uri: `http://127.0.0.1:${port}/backchannel`, received, close: () => new Promise<void>((r) => server.close(() => r())) };
}

for (const kind of databaseKinds()) {
  describe(`ID tokens signed with the client's algorithm (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let as: oauth.AuthorizationServer;
    before(async () => {
      alias = await startAlias(kind);
      const issuer = new URL(alias.issuer);
      as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
    });
    after(() => alias.close());

    /** Signs a new user in and consents, in a browser, for an authorization request. */
    const signIn = async (query: Record<string, string>) => signInAndAllow(alias.issuer, query, await alias.user({ nickname: 'Alg' }));

    it('discovery advertises RS256 and ES256 (OIDC Discovery §3), and JWKS publishes a key for each', async () => {
      assert.deepEqual(as.id_token_signing_alg_values_supported, ['RS256', 'ES256']);
      const jwks = await (await fetch(as.jwks_uri!)).json() as { keys: Record<string, unknown>[] };
      const rsa = jwks.keys.find((k) => k.alg === 'RS256');
      const ec = jwks.keys.find((k) => k.alg === 'ES256');
      assert.equal(rsa?.kty, 'RSA');
      assert.equal(ec?.kty, 'EC');
      assert.equal(ec?.crv, 'P-256');
      assert.ok(rsa?.use === 'sig' && ec?.use === 'sig' && rsa.kid && ec.kid);
    });

    for (const alg of ALGS) {
      it(`${alg} client: the code exchange's ID token is ${alg}, verified by oauth4webapi against JWKS; the refresh answers without one`, async () => {
        const { client, secret } = await alias.client({ redirectUris: [CB], grantTypes: ['authorization_code', 'refresh_token'],
          ...(alg === 'RS256' ? {} : { idTokenSignedResponseAlg: alg }) });
        assert.equal(client.idTokenSignedResponseAlg, alg, 'RS256 unless registered otherwise (DCR §2)');
        // The relying party knows its registered algorithm: oauth4webapi refuses an ID token with another alg.
        const rp: oauth.Client = { client_id: client.id, id_token_signed_response_alg: alg };
        const auth = oauth.ClientSecretBasic(secret!);
        const verifier = oauth.generateRandomCodeVerifier();
        const nonce = oauth.generateRandomNonce();
        const { page } = await signIn({ response_type: 'code', client_id: client.id, redirect_uri: CB,
          scope: 'openid nickname offline_access', nonce, state: 'st', code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256' });
        const params = oauth.validateAuthResponse(as, rp, new URL(page.url), 'st');
        const response = await oauth.authorizationCodeGrantRequest(as, rp, auth, params, CB, verifier, insecure);
        const tokens = await oauth.processAuthorizationCodeResponse(as, rp, response, { expectedNonce: nonce, requireIdToken: true });
        // OIDC Core §3.1.3.7 step 6: the signature, with the key the kid names in the published JWKS.
        await oauth.validateApplicationLevelSignature(as, response, insecure);
        const header = decodeProtectedHeader(tokens.id_token!);
        assert.equal(header.alg, alg);
        assert.equal(oauth.getValidatedIdTokenClaims(tokens)!.nickname, 'Alg');
        assert.ok(oauth.getValidatedIdTokenClaims(tokens)!.at_hash, 'at_hash (SHA-256 for both algorithms)');

        // Provider docs: "New user and refresh tokens are returned - new ID tokens are not";
        // oauth4webapi accepts such a refresh response.
        const refreshed = await oauth.refreshTokenGrantRequest(as, rp, auth, tokens.refresh_token!, insecure);
        const again = await oauth.processRefreshTokenResponse(as, rp, refreshed);
        assert.equal(again.id_token, undefined);
        assert.ok(again.access_token && again.refresh_token);
      });

      it(`${alg} client: device and password grants (oauth4webapi, openid-client with non-repudiation checks) sign ${alg}`, async () => {
        const { client: device } = await alias.client({ name: 'Device app', isPublic: true, redirectUris: [], grantTypes: [DEVICE],
          idTokenSignedResponseAlg: alg });
        const rp: oauth.Client = { client_id: device.id, id_token_signed_response_alg: alg };
        const started = await oauth.processDeviceAuthorizationResponse(as, rp,
          await oauth.deviceAuthorizationRequest(as, rp, oauth.None(), { scope: 'openid' }, insecure));
        const user = await alias.user();
        const browser = new Browser(alias.issuer);
        const login = await browser.submit(await browser.follow(started.verification_uri_complete!), {});
        const consent = await browser.submit(login, { email: user.email, password: user.password });
        await browser.submit(consent, { decision: 'allow' });
        const response = await oauth.deviceCodeGrantRequest(as, rp, oauth.None(), started.device_code, insecure);
        const tokens = await oauth.processDeviceCodeResponse(as, rp, response);
        await oauth.validateApplicationLevelSignature(as, response, insecure);
        assert.equal(decodeProtectedHeader(tokens.id_token!).alg, alg, 'RFC 8628 device grant');

        const { client: trusted, secret } = await alias.client({ redirectUris: [CB], grantTypes: ['password'], idTokenSignedResponseAlg: alg });
        const config = await oidc.discovery(new URL(alias.issuer), trusted.id, { client_secret: secret!, id_token_signed_response_alg: alg },
          oidc.ClientSecretBasic(secret!), { execute: [oidc.allowInsecureRequests] });
        // openid-client then verifies every ID token's signature against the JWKS.
        oidc.enableNonRepudiationChecks(config);
        const result = await oidc.genericGrantRequest(config, 'password', { username: user.email, password: user.password, scope: 'openid' });
        assert.equal(decodeProtectedHeader(result.id_token!).alg, alg, 'RFC 6749 §4.3 password grant');
        assert.equal(result.claims()?.aud, trusted.id);
        // The check is real: a signature altered on the way is refused.
        config[oidc.customFetch] = async (url, options) => {
          const res = await fetch(url, options as RequestInit);
          const body = await res.json() as Record<string, string>;
          const [h, p, sig] = body.id_token!.split('.');
          const flipped = (sig!.startsWith('A') ? 'B' : 'A') + sig!.slice(1);
          return Response.json({ ...body, id_token: `${h}.${p}.${flipped}` }, { status: res.status });
        };
        await assert.rejects(oidc.genericGrantRequest(config, 'password', { username: user.email, password: user.password, scope: 'openid' }),
          (err: Error & { cause?: { message?: string } }) => /signature verification failed/.test(err.cause?.message ?? ''));
      });

      it(`${alg} client: implicit form_post's ID token is ${alg}, verified by openid-client against JWKS`, async () => {
        const { client } = await alias.client({ redirectUris: ['https://rp.example/cb'], grantTypes: ['implicit'], idTokenSignedResponseAlg: alg });
        const config = await oidc.discovery(new URL(alias.issuer), client.id, { id_token_signed_response_alg: alg }, oidc.None(),
          { execute: [oidc.allowInsecureRequests] });
        oidc.useIdTokenResponseType(config);
        const { page } = await signIn({ response_type: 'id_token', response_mode: 'form_post', client_id: client.id,
          redirect_uri: 'https://rp.example/cb', scope: 'openid', nonce: 'n-1', state: 'st' });
        const fields = posted(page.html);
        assert.ok(fields.id_token, page.html);
        // What the browser posts to the relying party (OIDC Core §3.2.2.11 checks, signature included).
        const request = new Request('https://rp.example/cb', { method: 'POST', body: new URLSearchParams(fields),
          headers: { 'content-type': 'application/x-www-form-urlencoded' } });
        const claims = await oidc.implicitAuthentication(config, request, 'n-1', { expectedState: 'st' });
        assert.equal(claims.aud, client.id);
        assert.equal(decodeProtectedHeader(fields.id_token).alg, alg);
      });

      it(`${alg} client: its ID token works as id_token_hint, and its back-channel logout token is ${alg}`, async () => {
        const rpEndpoint = await backchannelEndpoint();
        try {
          const { client, secret } = await alias.client({ redirectUris: [CB], backchannelLogoutUri: rpEndpoint.uri, idTokenSignedResponseAlg: alg });
          const { browser, page } = await signIn({ response_type: 'code', client_id: client.id, redirect_uri: CB, scope: 'openid' });
          const res = await fetch(as.token_endpoint!, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`${client.id}:${secret}`).toString('base64') },
            body: new URLSearchParams({ grant_type: 'authorization_code', code: new URL(page.url).searchParams.get('code')!, redirect_uri: CB }),
          });
          const { id_token: idToken } = await res.json() as { id_token: string };
          assert.equal(decodeProtectedHeader(idToken).alg, alg);
          // RP-Initiated Logout §2: a valid id_token_hint of the signed-in user ends the session without asking.
          const out = await browser.follow('/oauth2/logout?' + new URLSearchParams({ id_token_hint: idToken }));
          assert.match(out.html, /You are signed out/);
          assert.equal(await alias.s.backchannel.runOnce(), 1);
          assert.equal(rpEndpoint.received.length, 1);
          // Back-Channel Logout §2.6: validated "in the same way that an ID Token signature is validated".
          const jwks = createRemoteJWKSet(new URL(as.jwks_uri!));
          const { payload, protectedHeader } = await jwtVerify(rpEndpoint.received[0]!, jwks,
            { issuer: alias.issuer, audience: client.id, typ: 'logout+jwt', algorithms: [alg] });
          assert.equal(protectedHeader.alg, alg);
          assert.equal(payload.sub, JSON.parse(Buffer.from(idToken.split('.')[1]!, 'base64url').toString()).sub);
        } finally {
          await rpEndpoint.close();
        }
      });
    }

    it('a client\'s new algorithm applies from its next ID token', async () => {
      const { client, secret } = await alias.client({ redirectUris: [CB], grantTypes: ['password'] });
      const user = await alias.user();
      const idTokenAlg = async () => {
        const res = await fetch(as.token_endpoint!, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`${client.id}:${secret}`).toString('base64') },
          body: new URLSearchParams({ grant_type: 'password', username: user.email, password: user.password, scope: 'openid' }),
        });
        return decodeProtectedHeader(((await res.json()) as { id_token: string }).id_token).alg;
      };
      assert.equal(await idTokenAlg(), 'RS256');
      await alias.s.store.clients.update({ ...client, idTokenSignedResponseAlg: 'ES256', updatedAt: alias.s.now() });
      assert.equal(await idTokenAlg(), 'ES256');
      await alias.s.store.clients.update({ ...client, idTokenSignedResponseAlg: 'RS256', updatedAt: alias.s.now() });
      assert.equal(await idTokenAlg(), 'RS256');
    });
  });
}
