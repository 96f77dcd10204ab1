// The whole chain an agent (an MCP-style client) walks, end to end over real HTTP, on SQLite
// and PostgreSQL: discover (RFC 9728 → RFC 8414) → register itself (RFC 7591, with
// private_key_jwt keys and dpop_bound_access_tokens) → push its request with a DPoP proof
// (RFC 9126, RFC 9449 §10.1) → sign-in and consent → code exchange with private_key_jwt
// (RFC 7523) and DPoP → userinfo and the relay with proofs → refresh → RFC 7592 read, update,
// delete. Once with oauth4webapi, once with openid-client (interop), which also asks for an
// RFC 9068 JWT access token validated by oauth4webapi's validateJwtAccessToken.
// docs/agents.md describes exactly this sequence.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import * as oidc from 'openid-client';
import { SignJWT, exportJWK } from 'jose';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { Browser, checkboxes, type Page } from '../helpers/browser.js';

const REDIRECT = 'http://127.0.0.1:9/cb';
const INSECURE = { [oauth.allowInsecureRequests]: true } as const;
const API = 'https://api.example/agents';

/** RFC 9449 §8: the first request to a server has no nonce; retry once with the one it sent. */
async function withNonce<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!oauth.isDPoPNonceError(err)) throw err;
    return call();
  }
}

for (const kind of databaseKinds()) {
  describe(`an agent's whole chain (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => {
      // Open registration: anonymous public clients, and any client with an initial access token.
      alias = await startAlias(kind, { env: { ALIAS_REGISTRATION: 'open' } });
      await alias.s.store.resources.insert({ uri: API, name: 'Agents API', scopes: ['tasks.read'], tokenFormat: 'jwt', ttlS: 300,
        createdAt: alias.s.now() });
    });
    after(() => alias?.close());

    /** The person signs in and allows everything asked (scopes and channels). */
    async function consent(url: string): Promise<Page> {
      const user = await alias.user();
      const browser = new Browser(alias.issuer);
      const login = await browser.follow(url);
      assert.equal(login.status, 200, login.html.slice(0, 300));
      const page = await browser.submit(login, { email: user.email, password: user.password });
      return browser.submit(page, { decision: 'allow', scope: checkboxes(page.html, 'scope').map((c) => c.value),
        channel: checkboxes(page.html, 'channel').map((c) => c.value) });
    }
    const initialAccessToken = async () => (await alias.s.registration.createToken({ uses: 1 })).token;

    it('oauth4webapi: RFC 9728 → register (private_key_jwt, DPoP-bound) → PAR + DPoP → code → userinfo, relay → refresh → RFC 7592 → deleted', async () => {
      // 1. Discovery. The relay's 401 names its metadata (RFC 9728 §5.1), which names Alias (§2).
      const relayUrl = `${alias.issuer}/api/v1/messages`;
      const anonymous = await fetch(relayUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      assert.equal(anonymous.status, 401);
      const metadataUrl = /resource_metadata="([^"]+)"/.exec(anonymous.headers.get('www-authenticate') ?? '')?.[1];
      assert.ok(metadataUrl, anonymous.headers.get('www-authenticate') ?? '');
      const prm = await (await fetch(metadataUrl)).json() as { resource: string; authorization_servers: string[] };
      assert.equal(prm.resource, relayUrl);
      assert.deepEqual(prm.authorization_servers, [alias.issuer]);
      const issuer = new URL(prm.authorization_servers[0]!);
      // RFC 8414 §3 (the well-known URL MCP clients use).
      const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...INSECURE }));

      // 2. Register (RFC 7591) with an initial access token; the public key inline (RFC 7523 §2.2).
      const clientKeys = await oauth.generateKeyPair('ES256');
      const jwk = { ...await exportJWK(clientKeys.publicKey), kid: 'agent-1', alg: 'ES256', use: 'sig' };
      const metadata = { client_name: 'Chain agent', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] }, dpop_bound_access_tokens: true,
        scope: 'openid contact offline_access', alias_channels: [{ name: 'news', description: 'Agent news' }] };
      const reg = await oauth.processDynamicClientRegistrationResponse(await oauth.dynamicClientRegistrationRequest(as, metadata,
        { initialAccessToken: await initialAccessToken(), ...INSECURE }));
      assert.equal(reg.token_endpoint_auth_method, 'private_key_jwt');
      assert.equal(reg.client_secret, undefined, 'a key client gets no secret');
      assert.equal(reg.dpop_bound_access_tokens, true, 'RFC 9449 §5.2 metadata is registered, not ignored');
      const client: oauth.Client = { client_id: reg.client_id };
      const auth = oauth.PrivateKeyJwt({ key: clientKeys.privateKey, kid: 'agent-1' });
      const dpopKeys = await oauth.generateKeyPair('ES256');
      const dpop = oauth.DPoP(client, dpopKeys);

      // 3. PAR (RFC 9126) with PKCE and a DPoP proof, which binds the code to the key (RFC 9449 §10.1).
      const verifier = oauth.generateRandomCodeVerifier();
      const pushed = await withNonce(async () => oauth.processPushedAuthorizationResponse(as, client,
        await oauth.pushedAuthorizationRequest(as, client, auth, { response_type: 'code', redirect_uri: REDIRECT, state: 'st', nonce: 'n1',
          scope: 'openid contact offline_access', channels: 'news', code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256' }, { DPoP: dpop, ...INSECURE })));

      // 4. Authorize with client_id + request_uri; the person signs in and consents.
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({ client_id: reg.client_id, request_uri: pushed.request_uri }).toString();
      const params = oauth.validateAuthResponse(as, client, new URL((await consent(url.href)).url), 'st');

      // 5. Code → DPoP-bound tokens, the client authenticated by its signed assertion.
      const tokens = await withNonce(async () => oauth.processAuthorizationCodeResponse(as, client,
        await oauth.authorizationCodeGrantRequest(as, client, auth, params, REDIRECT, verifier, { DPoP: dpop, ...INSECURE }),
        { expectedNonce: 'n1' }));
      assert.equal(tokens.token_type, 'dpop', 'RFC 9449 §5: token_type DPoP');
      assert.ok(tokens.refresh_token);

      // 6. Userinfo with a proof (RFC 9449 §7.1); the same token as a plain Bearer is refused.
      const info = await oauth.processUserInfoResponse(as, client, oauth.getValidatedIdTokenClaims(tokens)!.sub,
        await oauth.userInfoRequest(as, client, tokens.access_token, { DPoP: dpop, ...INSECURE }));
      const bearer = await fetch(as.userinfo_endpoint!, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(bearer.status, 401);
      assert.match(bearer.headers.get('www-authenticate') ?? '', /^DPoP .*error="invalid_token"/);

      // 7. The relay (docs/relay.md): contact and the channel were granted, so a message goes out.
      const message = JSON.stringify({ to: info.sub, channel: 'news', subject: 'Done', body: 'Your task finished.' });
      const sent = await oauth.protectedResourceRequest(tokens.access_token, 'POST', new URL(relayUrl),
        new Headers({ 'content-type': 'application/json' }), message, { DPoP: dpop, ...INSECURE });
      assert.equal(sent.status, 202, await sent.clone().text());
      const unproven = await fetch(relayUrl, { method: 'POST', body: message,
        headers: { authorization: `DPoP ${tokens.access_token}`, 'content-type': 'application/json' } });
      assert.equal(unproven.status, 401, 'no proof, no message');
      assert.match(unproven.headers.get('www-authenticate') ?? '', /resource_metadata=/);

      // 8. Refresh with a proof of the same key.
      const refreshed = await withNonce(async () => oauth.processRefreshTokenResponse(as, client,
        await oauth.refreshTokenGrantRequest(as, client, auth, tokens.refresh_token!, { DPoP: dpop, ...INSECURE })));
      assert.equal(refreshed.token_type, 'dpop');
      await oauth.processUserInfoResponse(as, client, info.sub,
        await oauth.userInfoRequest(as, client, refreshed.access_token, { DPoP: dpop, ...INSECURE }));
      // dpop_bound_access_tokens: a token request without a proof is refused (RFC 9449 §5.2).
      const noProof = await oauth.refreshTokenGrantRequest(as, client, auth, refreshed.refresh_token!, INSECURE);
      assert.equal(noProof.status, 400);
      assert.equal((await noProof.json()).error, 'invalid_dpop_proof');

      // 9. RFC 7592: read, update (full replacement), delete.
      const manage = (method: string, body?: unknown) => fetch(reg.registration_client_uri as string, { method,
        headers: { authorization: `Bearer ${reg.registration_access_token as string}`, ...(body ? { 'content-type': 'application/json' } : {}) },
        body: body ? JSON.stringify(body) : undefined });
      const read = await manage('GET');
      assert.equal(read.status, 200);
      assert.equal((await read.json()).client_name, 'Chain agent');
      const put = await manage('PUT', { ...metadata, client_id: reg.client_id, client_name: 'Chain agent 2' });
      assert.equal(put.status, 200, await put.clone().text());
      const updated = await put.json();
      assert.equal(updated.client_name, 'Chain agent 2');
      assert.equal(updated.dpop_bound_access_tokens, true);
      assert.equal(updated.token_endpoint_auth_method, 'private_key_jwt');
      // Left out of a PUT, the DPoP binding stays (a PUT does not silently drop a tightening).
      const { dpop_bound_access_tokens: _drop, ...withoutDpop } = metadata;
      void _drop;
      assert.equal((await (await manage('PUT', { ...withoutDpop, client_id: reg.client_id })).json()).dpop_bound_access_tokens, true);
      assert.equal((await manage('DELETE')).status, 204);

      // Deleted means unusable at once: its tokens, its assertions, its registration.
      const gone = await fetch(as.userinfo_endpoint!, { headers: { authorization: `DPoP ${refreshed.access_token}`,
        dpop: await dpopProof(dpopKeys, 'GET', as.userinfo_endpoint!, refreshed.access_token) } });
      assert.equal(gone.status, 401);
      const refreshAfter = await oauth.refreshTokenGrantRequest(as, client, auth, refreshed.refresh_token!, { DPoP: dpop, ...INSECURE });
      assert.equal(refreshAfter.status, 401);
      assert.equal((await refreshAfter.json()).error, 'invalid_client');
      assert.equal((await manage('GET')).status, 401);
    });

    it('open registration: an anonymous public agent (none + PKCE) → PAR + DPoP → DPoP-bound token → relay (RFC 7591 §3, RFC 9449)', async () => {
      const issuer = new URL(alias.issuer);
      const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...INSECURE }));
      const reg = await oauth.processDynamicClientRegistrationResponse(await oauth.dynamicClientRegistrationRequest(as, {
        client_name: 'Open agent', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', dpop_bound_access_tokens: true,
        alias_channels: ['news'] }, INSECURE));
      assert.equal(reg.token_endpoint_auth_method, 'none');
      const client: oauth.Client = { client_id: reg.client_id, token_endpoint_auth_method: 'none' };
      const dpopKeys = await oauth.generateKeyPair('ES256');
      const dpop = oauth.DPoP(client, dpopKeys);
      const verifier = oauth.generateRandomCodeVerifier();
      const pushed = await withNonce(async () => oauth.processPushedAuthorizationResponse(as, client,
        await oauth.pushedAuthorizationRequest(as, client, oauth.None(), { response_type: 'code', redirect_uri: REDIRECT, state: 'o',
          scope: 'openid contact', channels: 'news', code_challenge: await oauth.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256' }, { DPoP: dpop, ...INSECURE })));
      const url = new URL(as.authorization_endpoint!);
      url.search = new URLSearchParams({ client_id: reg.client_id, request_uri: pushed.request_uri }).toString();
      const params = oauth.validateAuthResponse(as, client, new URL((await consent(url.href)).url), 'o');
      const tokens = await withNonce(async () => oauth.processAuthorizationCodeResponse(as, client,
        await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, REDIRECT, verifier, { DPoP: dpop, ...INSECURE })));
      assert.equal(tokens.token_type, 'dpop');
      assert.equal(tokens.refresh_token, undefined, 'public clients get no refresh tokens (docs/registration.md)');
      const sub = oauth.getValidatedIdTokenClaims(tokens)!.sub;
      const sent = await oauth.protectedResourceRequest(tokens.access_token, 'POST', new URL(`${alias.issuer}/api/v1/messages`),
        new Headers({ 'content-type': 'application/json' }), JSON.stringify({ to: sub, channel: 'news', subject: 'Hi', body: 'Hello' }),
        { DPoP: dpop, ...INSECURE });
      assert.equal(sent.status, 202, await sent.clone().text());
    });

    it('openid-client (interop): register → buildAuthorizationUrlWithPAR with DPoP → code → RFC 9068 JWT access token for a registered API', async () => {
      const server = new URL(alias.issuer);
      const clientKeys = await oidc.randomDPoPKeyPair('ES256');
      const jwk = { ...await exportJWK(clientKeys.publicKey), kid: 'oc-1', alg: 'ES256', use: 'sig' };
      const config = await oidc.dynamicClientRegistration(server, { client_name: 'openid-client agent', redirect_uris: [REDIRECT],
        grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk] },
        dpop_bound_access_tokens: true }, oidc.PrivateKeyJwt({ key: clientKeys.privateKey, kid: 'oc-1' }),
      { execute: [oidc.allowInsecureRequests], initialAccessToken: await initialAccessToken() });
      const dpopKeys = await oidc.randomDPoPKeyPair('ES256');
      const DPoP = oidc.getDPoPHandle(config, dpopKeys);

      const verifier = oidc.randomPKCECodeVerifier();
      const url = await withNonce(async () => oidc.buildAuthorizationUrlWithPAR(config, { redirect_uri: REDIRECT, state: 'oc',
        scope: 'openid offline_access tasks.read', resource: API, code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256' }, { DPoP }));
      assert.match(url.searchParams.get('request_uri') ?? '', /^urn:ietf:params:oauth:request_uri:/);
      const done = await consent(url.href);
      const tokens = await withNonce(() => oidc.authorizationCodeGrant(config, new URL(done.url),
        { pkceCodeVerifier: verifier, expectedState: 'oc' }, undefined, { DPoP }));
      assert.equal(tokens.token_type, 'dpop');

      // RFC 9068: the API validates the token itself, here with oauth4webapi, DPoP proof included.
      const as = config.serverMetadata() as oauth.AuthorizationServer;
      const claims = await oauth.validateJwtAccessToken(as, new Request(API, { headers: { authorization: `DPoP ${tokens.access_token}`,
        dpop: await dpopProof(dpopKeys, 'GET', API, tokens.access_token) } }), API, INSECURE);
      assert.equal(claims.aud, API);
      assert.equal(claims.client_id, config.clientMetadata().client_id);
      assert.equal(claims.scope, 'tasks.read');
      assert.equal(claims.sub, tokens.claims()!.sub, 'the pairwise alias ID, as in the ID token');
      assert.equal(claims.cnf?.jkt, await DPoP.calculateThumbprint());

      // Refresh keeps the audience and the binding.
      const again = await withNonce(() => oidc.refreshTokenGrant(config, tokens.refresh_token!, undefined, { DPoP }));
      assert.equal(again.token_type, 'dpop');
      const refreshedClaims = await oauth.validateJwtAccessToken(as, new Request(API, { headers: {
        authorization: `DPoP ${again.access_token}`, dpop: await dpopProof(dpopKeys, 'GET', API, again.access_token) } }), API, INSECURE);
      assert.equal(refreshedClaims.sub, claims.sub);
    });
  });
}

/** A DPoP proof for a resource request (RFC 9449 §4.2, with `ath` §7.1), signed with the client's DPoP key. */
async function dpopProof(keys: CryptoKeyPair, htm: string, htu: string, token: string): Promise<string> {
  return new SignJWT({ htm, htu, jti: randomUUID(), ath: createHash('sha256').update(token).digest('base64url') })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(keys.publicKey) })
    .setIssuedAt().sign(keys.privateKey);
}
