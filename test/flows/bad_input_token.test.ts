// Bad input at the token and userinfo endpoints: every refusal is the right OAuth error as
// JSON, with Cache-Control: no-store, never a 500, and never a change to stored state
// (a code or refresh token refused for a bad reason stays usable by its rightful owner).
// SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import {
  basic, encode, expectJsonError, expectUnchanged, formEncode, rig, snapshot, verifierPair, type Params,
} from '../helpers/bad_input.js';
import type { Client } from '../../src/store/types.js';

const APP_CB = 'https://app.example/cb';
const APP_CB2 = 'https://app.example/other';
const LOOPBACK = 'http://127.0.0.1/cb';
const NATIVE_CB = 'http://127.0.0.1:51234/cb';
// A client id with every character RFC 6749 §2.3.1 makes clients form-url-encode.
const WEIRD_ID = 'weird id:+%/&=é';

type SignedIn = Awaited<ReturnType<ReturnType<typeof rig>['signIn']>>;

for (const kind of databaseKinds()) {
  describe(`bad input: token and userinfo endpoints (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let r: ReturnType<typeof rig>;
    let conf: Client; let confSecret: string; let confUser: SignedIn;
    let other: Client; let otherSecret: string; let otherUser: SignedIn;
    let pub: Client; let pubUser: SignedIn;
    let codeOnly: Client; let codeOnlySecret: string;
    let weird: Client; let weirdSecret: string;

    before(async () => {
      alias = await startAlias(kind);
      r = rig(alias);
      const offline = { redirectUris: [APP_CB, APP_CB2], grantTypes: ['authorization_code', 'refresh_token'] };
      ({ client: conf, secret: confSecret } = await alias.client(offline) as { client: Client; secret: string });
      ({ client: other, secret: otherSecret } = await alias.client(offline) as { client: Client; secret: string });
      ({ client: codeOnly, secret: codeOnlySecret } = await alias.client() as { client: Client; secret: string });
      ({ client: weird, secret: weirdSecret } = await alias.client({ id: WEIRD_ID }) as { client: Client; secret: string });
      pub = (await alias.client({ redirectUris: [LOOPBACK], isPublic: true })).client;
      confUser = await r.signIn(conf, APP_CB, 'openid offline_access');
      otherUser = await r.signIn(other, APP_CB, 'openid offline_access');
      pubUser = await r.signIn(pub, NATIVE_CB);
    });
    after(() => alias.close());

    const confAuth = () => basic(conf.id, confSecret);
    const codeBody = (code: string, extra: Params = {}): Params => ({
      grant_type: 'authorization_code', code, redirect_uri: APP_CB, ...extra,
    });

    /** A token request that must be refused without changing stored state. */
    async function refused(body: Params | string, opts: Parameters<ReturnType<typeof rig>['token']>[1] = {}) {
      const before = await snapshot(alias);
      const res = await r.token(body, opts);
      await expectUnchanged(alias, before, `refused token request ${typeof body === 'string' ? body.slice(0, 100) : encode(body)}`);
      return res;
    }

    /** RFC 6749 §5.2: invalid_client over the Authorization header → 401 + WWW-Authenticate. */
    async function expectBasicChallenge(res: Response) {
      await expectJsonError(res, 401, 'invalid_client');
      assert.match(res.headers.get('www-authenticate') ?? '', /^Basic\b/i, 'WWW-Authenticate: Basic');
      assert.match(res.headers.get('www-authenticate') ?? '', /realm="/, 'with a realm (RFC 7617 §2)');
    }

    describe('client authentication (RFC 6749 §2.3, §5.2)', () => {
      let victim: Client; let victimSecret: string;
      before(async () => {
        ({ client: victim, secret: victimSecret } = await alias.client() as { client: Client; secret: string });
      });

      const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
      const badHeaders: [string, () => string][] = [
        ['wrong secret', () => basic(victim.id, 'wrong-secret')],
        ['unknown client', () => basic('no-such-client', 'whatever')],
        ['right secret of another client', () => basic(victim.id, confSecret)],
        ['empty: "Basic"', () => 'Basic'],
        ['not base64', () => 'Basic !!!***'],
        ['base64 without a colon', () => 'Basic ' + b64(victim.id)],
        ['empty client_id', () => 'Basic ' + b64(':' + victimSecret)],
        ['empty secret', () => 'Basic ' + b64(victim.id + ':')],
        ['only a colon', () => 'Basic ' + b64(':')],
        ['undecodable percent-encoding (RFC 6749 §2.3.1)', () => 'Basic ' + b64('%zz:%E0%A4%A')],
        ['invalid UTF-8', () => 'Basic ' + b64(Buffer.from([0xff, 0xfe, 0x3a, 0xff, 0xc3]))],
        ['NUL in the client_id', () => 'Basic ' + b64(`${victim.id}%00:${victimSecret}`)],
        ['trailing garbage after the credentials', () => basic(victim.id, victimSecret) + ' extra'],
        ['no space after the scheme', () => 'Basic' + b64(`${victim.id}:${victimSecret}`)],
        ['secret with a literal "+" (form-decoded to a space, so wrong)', () => 'Basic ' + b64(`${victim.id}:${victimSecret}+`)],
        ['another scheme: Bearer (unsupported authentication method)', () => `Bearer ${victimSecret}`],
        ['another scheme: Digest', () => 'Digest username="x"'],
      ];
      for (const [name, header] of badHeaders) {
        it(`Authorization: Basic ${name} → 401 invalid_client + WWW-Authenticate (DESIGN, RFC 6749 §5.2)`, async () => {
          const res = await refused({ grant_type: 'authorization_code', code: 'x', redirect_uri: APP_CB }, { authorization: header() });
          await expectBasicChallenge(res);
        });
      }

      it('the auth scheme is case-insensitive (RFC 7235 §2.1): "basic" works', async () => {
        const res = await refused({}, { authorization: basic(victim.id, victimSecret).replace('Basic', 'basic') });
        await expectJsonError(res, 400, 'invalid_request'); // authenticated; grant_type is missing
      });

      it('client_secret_basic form-url-decodes both parts (RFC 6749 §2.3.1): %XX-encoded secret works', async () => {
        const allEncoded = [...victimSecret].map((c) => '%' + c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
        const res = await refused({}, { authorization: 'Basic ' + b64(`${victim.id}:${allEncoded}`) });
        await expectJsonError(res, 400, 'invalid_request'); // authenticated; grant_type is missing
      });

      it('client_secret_basic with a client_id needing form-url-encoding (space, colon, +, %, /, &, =, é) works', async () => {
        assert.equal(weird.id, WEIRD_ID);
        const header = 'Basic ' + b64(`${formEncode(WEIRD_ID)}:${formEncode(weirdSecret)}`);
        assert.ok(formEncode(WEIRD_ID).includes('+'), 'the space became +');
        await expectJsonError(await refused({}, { authorization: header }), 400, 'invalid_request');
        // Sent without encoding, the id's colon splits it and "+" would mean a space: refused.
        await expectBasicChallenge(await refused({}, { authorization: 'Basic ' + b64(`${WEIRD_ID}:${weirdSecret}`) }));
        // The client registered client_secret_basic (the default), so the same credentials in
        // the form body are refused (RFC 7591 §2); registered for client_secret_post, they work.
        await expectJsonError(await refused({ client_id: WEIRD_ID, client_secret: weirdSecret }), 401, 'invalid_client');
        const weirdPost = await alias.s.clients.create({ id: WEIRD_ID + '-post', name: 'Weird post', redirectUris: ['https://app.example/cb'],
          tokenEndpointAuthMethod: 'client_secret_post' });
        await expectJsonError(await refused({ client_id: weirdPost.client.id, client_secret: weirdPost.secret! }), 400, 'invalid_request');
      });

      it('client_secret_basic AND client_secret_post at once → 400 invalid_request (RFC 6749 §2.3: MUST NOT use more than one method)', async () => {
        const res = await refused({ client_id: victim.id, client_secret: victimSecret, grant_type: 'authorization_code' },
          { authorization: basic(victim.id, victimSecret) });
        await expectJsonError(res, 400, 'invalid_request');
      });

      it('a body client_id that contradicts the Basic header → 400 invalid_request; the same one is fine (RFC 6749 §3.2.1)', async () => {
        await expectJsonError(await refused({ client_id: conf.id }, { authorization: basic(victim.id, victimSecret) }), 400, 'invalid_request');
        const same = await refused({ client_id: victim.id }, { authorization: basic(victim.id, victimSecret) });
        const body = await expectJsonError(same, 400, 'invalid_request');
        assert.match(body.error_description, /grant_type/, 'got past authentication');
      });

      it('wrong secret by client_secret_post → 401 invalid_client', async () => {
        await expectJsonError(await refused({ client_id: victim.id, client_secret: 'wrong', grant_type: 'authorization_code' }), 401, 'invalid_client');
      });

      it('no client authentication at all → 401 invalid_client (RFC 6749 §3.2.1)', async () => {
        await expectJsonError(await refused({ grant_type: 'authorization_code', code: 'x', redirect_uri: APP_CB }), 401, 'invalid_client');
      });

      it('a confidential client sending only its client_id → 401 invalid_client', async () => {
        await expectJsonError(await refused({ client_id: victim.id, grant_type: 'authorization_code' }), 401, 'invalid_client');
      });

      it('a public client sending a secret → 401 invalid_client (DESIGN: none + client_id)', async () => {
        await expectJsonError(await refused({ client_id: pub.id, client_secret: 'anything', grant_type: 'authorization_code' }), 401, 'invalid_client');
        await expectBasicChallenge(await refused({ grant_type: 'authorization_code' }, { authorization: basic(pub.id, 'anything') }));
      });

      it('an unknown public-style client_id → 401 invalid_client', async () => {
        await expectJsonError(await refused({ client_id: 'no-such-client', grant_type: 'authorization_code' }), 401, 'invalid_client');
        await expectJsonError(await refused({ client_id: 'x\u0000', grant_type: 'authorization_code' }), 401, 'invalid_client');
        await expectJsonError(await refused({ client_id: 'x'.repeat(5000), grant_type: 'authorization_code' }), 401, 'invalid_client');
      });

      it('client_id or client_secret repeated → 400 invalid_request (RFC 6749 §3.2)', async () => {
        await expectJsonError(await refused({ client_id: [victim.id, victim.id], client_secret: victimSecret }), 400, 'invalid_request');
        await expectJsonError(await refused({ client_id: victim.id, client_secret: [victimSecret, victimSecret] }), 400, 'invalid_request');
      });
    });

    describe('request shape (RFC 6749 §3.2, §4.1.3, §5.2)', () => {
      it('grant_type missing or empty → invalid_request', async () => {
        await expectJsonError(await refused({ code: 'x' }, { authorization: confAuth() }), 400, 'invalid_request');
        await expectJsonError(await refused({ grant_type: '' }, { authorization: confAuth() }), 400, 'invalid_request');
      });

      it('unknown grant_type → unsupported_grant_type', async () => {
        await expectJsonError(await refused({ grant_type: 'urn:example:nope' }, { authorization: confAuth() }), 400, 'unsupported_grant_type');
        await expectJsonError(await refused({ grant_type: 'token' }, { authorization: confAuth() }), 400, 'unsupported_grant_type');
      });

      it('a grant type the client was not registered for → unauthorized_client', async () => {
        const res = await refused({ grant_type: 'refresh_token', refresh_token: 'x' }, { authorization: basic(codeOnly.id, codeOnlySecret) });
        await expectJsonError(res, 400, 'unauthorized_client');
      });

      it('any parameter repeated → invalid_request, and the code survives (RFC 6749 §3.2)', async () => {
        const { code } = await confUser.code({ pkce: false });
        for (const body of [
          codeBody(code, { grant_type: ['authorization_code', 'authorization_code'] }),
          codeBody(code, { code: [code, code] }),
          codeBody(code, { redirect_uri: [APP_CB, APP_CB] }),
          codeBody(code, { scope: ['openid', 'openid'] }),
        ]) {
          await expectJsonError(await refused(body, { authorization: confAuth() }), 400, 'invalid_request');
        }
        await r.tokenOk(codeBody(code), confAuth());
      });

      it('oversized parameters → invalid_request', async () => {
        await expectJsonError(await refused(codeBody('c'.repeat(5000)), { authorization: confAuth() }), 400, 'invalid_request');
        await expectJsonError(await refused(codeBody('x', { redirect_uri: APP_CB + 'a'.repeat(5000) }), { authorization: confAuth() }), 400, 'invalid_request');
      });

      it('parameters with a NUL → invalid_request, never 500', async () => {
        await expectJsonError(await refused(codeBody('x\u0000'), { authorization: confAuth() }), 400, 'invalid_request');
        await expectJsonError(await refused({ grant_type: 'refresh_token', refresh_token: 'x\u0000' }, { authorization: confAuth() }), 400, 'invalid_request');
      });

      it('a JSON body → 400 invalid_request, not 415 or 500 (RFC 6749 §3.2: application/x-www-form-urlencoded)', async () => {
        const { code } = await confUser.code({ pkce: false });
        const json = JSON.stringify(codeBody(code));
        await expectJsonError(await refused(json, { authorization: confAuth(), contentType: 'application/json' }), 400, 'invalid_request');
        await expectJsonError(await refused('{"grant_type":', { authorization: confAuth(), contentType: 'application/json' }), 400, 'invalid_request');
        await expectJsonError(await refused('', { authorization: confAuth(), contentType: 'application/json' }), 400, 'invalid_request');
        await expectJsonError(await refused('[1,2]', { authorization: confAuth(), contentType: 'application/json' }), 400, 'invalid_request');
        await expectJsonError(await refused(encode(codeBody(code)), { authorization: confAuth(), contentType: 'text/plain' }), 400, 'invalid_request');
        await expectJsonError(await refused(encode(codeBody(code)), { authorization: confAuth(), contentType: 'multipart/form-data; boundary=x' }), 400, 'invalid_request');
        await expectJsonError(await refused(encode(codeBody(code)), { authorization: confAuth(), contentType: null }), 400, 'invalid_request');
        await r.tokenOk(codeBody(code), confAuth());
      });

      it('a body over 1 MiB → 413 JSON with no-store (DESIGN: 1 MiB limit on every endpoint)', async () => {
        const res = await r.token('grant_type=authorization_code&code=' + 'x'.repeat(1024 * 1024 + 16), { authorization: confAuth() });
        await expectJsonError(res, 413, 'invalid_request');
        // Just under the limit is read (and refused as an oversized parameter, not 413).
        const under = await r.token('code=' + 'x'.repeat(1024 * 1024 - 200), { authorization: confAuth() });
        await expectJsonError(under, 400, 'invalid_request');
      });

      it('GET on the token endpoint is not a token request (RFC 6749 §3.2: POST)', async () => {
        const { code } = await confUser.code({ pkce: false });
        const res = await fetch(`${r.tokenUrl}?${encode(codeBody(code))}`, { headers: { authorization: confAuth() } });
        assert.ok(res.status === 404 || res.status === 405, String(res.status));
        assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
        await res.arrayBuffer();
        await r.tokenOk(codeBody(code), confAuth());
      });
    });

    describe('authorization codes (RFC 6749 §4.1.2, §4.1.3; RFC 7636 §4.6)', () => {
      it('missing code or redirect_uri → invalid_request', async () => {
        await expectJsonError(await refused({ grant_type: 'authorization_code', redirect_uri: APP_CB }, { authorization: confAuth() }), 400, 'invalid_request');
        const { code } = await confUser.code({ pkce: false });
        await expectJsonError(await refused({ grant_type: 'authorization_code', code }, { authorization: confAuth() }), 400, 'invalid_request');
        await r.tokenOk(codeBody(code), confAuth());
      });

      it('an unknown code → invalid_grant', async () => {
        await expectJsonError(await refused(codeBody('not-a-code'), { authorization: confAuth() }), 400, 'invalid_grant');
      });

      it('an expired code (> 60 s) → invalid_grant (DESIGN: codes live ≤ 60 s; RFC 6749 §4.1.2)', async () => {
        const { code } = await confUser.code({ pkce: false });
        alias.advance(61_000);
        await expectJsonError(await refused(codeBody(code), { authorization: confAuth() }), 400, 'invalid_grant');
      });

      it("another client's code → invalid_grant, and the code still works for its own client (RFC 6749 §4.1.3: code issued to the authenticated client)", async () => {
        const { code, verifier } = await confUser.code();
        const res = await refused(codeBody(code, { code_verifier: verifier }), { authorization: basic(other.id, otherSecret) });
        await expectJsonError(res, 400, 'invalid_grant');
        const ok = await r.tokenOk(codeBody(code, { code_verifier: verifier }), confAuth());
        assert.equal((await r.userinfo(ok.access_token)).status, 200);
      });

      it('a public client cannot redeem a confidential client\'s code either', async () => {
        const { code, verifier } = await confUser.code();
        await expectJsonError(await refused(codeBody(code, { client_id: pub.id, code_verifier: verifier })), 400, 'invalid_grant');
        await r.tokenOk(codeBody(code, { code_verifier: verifier }), confAuth());
      });

      it('a wrong code_verifier → invalid_grant, and the right one still redeems the code (RFC 7636 §4.6)', async () => {
        const { code, verifier } = await confUser.code();
        for (const wrong of [verifierPair().verifier, verifier.slice(0, 42), verifier + 'x'.repeat(100), verifier.toUpperCase(), `${verifier.slice(0, -1)}!`]) {
          await expectJsonError(await refused(codeBody(code, { code_verifier: wrong }), { authorization: confAuth() }), 400, 'invalid_grant');
        }
        await expectJsonError(await refused(codeBody(code), { authorization: confAuth() }), 400, 'invalid_grant'); // missing
        await r.tokenOk(codeBody(code, { code_verifier: verifier }), confAuth());
      });

      it('a code_verifier when the request had no code_challenge → invalid_grant (RFC 9700 §4.8.2), code survives', async () => {
        const { code } = await confUser.code({ pkce: false });
        await expectJsonError(await refused(codeBody(code, { code_verifier: verifierPair().verifier }), { authorization: confAuth() }), 400, 'invalid_grant');
        await r.tokenOk(codeBody(code), confAuth());
      });

      it('a redirect_uri different from the authorization request\'s → invalid_grant (RFC 6749 §4.1.3), code survives', async () => {
        const { code } = await confUser.code({ pkce: false });
        for (const uri of [APP_CB2, APP_CB + '/', APP_CB + '?x=1', 'https://APP.example/cb']) {
          await expectJsonError(await refused(codeBody(code, { redirect_uri: uri }), { authorization: confAuth() }), 400, 'invalid_grant');
        }
        await r.tokenOk(codeBody(code), confAuth());
      });

      it('loopback: the token request must repeat the exact redirect_uri, port included (RFC 8252 §7.3, RFC 6749 §4.1.3)', async () => {
        const { code, verifier } = await pubUser.code();
        for (const uri of [LOOPBACK, 'http://127.0.0.1:51235/cb', 'http://localhost:51234/cb']) {
          const res = await refused({ grant_type: 'authorization_code', code, redirect_uri: uri, client_id: pub.id, code_verifier: verifier });
          await expectJsonError(res, 400, 'invalid_grant');
        }
        await expectJsonError(await refused({ grant_type: 'authorization_code', code, redirect_uri: NATIVE_CB, client_id: pub.id }), 400, 'invalid_grant');
        const ok = await r.tokenOk({ grant_type: 'authorization_code', code, redirect_uri: NATIVE_CB, client_id: pub.id, code_verifier: verifier });
        assert.equal(ok.refresh_token, undefined, 'no refresh token for a public client');
      });

      it('a reused code → invalid_grant AND the tokens issued from it are revoked (RFC 6749 §4.1.2)', async () => {
        const { code } = await confUser.code({ pkce: false, scope: 'openid offline_access' });
        const first = await r.tokenOk(codeBody(code), confAuth());
        assert.ok(first.refresh_token);
        assert.equal((await r.userinfo(first.access_token)).status, 200);
        await expectJsonError(await r.token(codeBody(code), { authorization: confAuth() }), 400, 'invalid_grant');
        const ui = await r.userinfo(first.access_token);
        assert.equal(ui.status, 401);
        assert.match(ui.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
        const refresh = await r.token({ grant_type: 'refresh_token', refresh_token: first.refresh_token! }, { authorization: confAuth() });
        await expectJsonError(refresh, 400, 'invalid_grant');
        // Tokens from other codes of the same user are independent (DESIGN).
        const again = await confUser.code({ pkce: false });
        const fresh = await r.tokenOk(codeBody(again.code), confAuth());
        assert.equal((await r.userinfo(fresh.access_token)).status, 200);
      });

      it("another client presenting a used code neither gets tokens nor revokes the owner's", async () => {
        const { code } = await confUser.code({ pkce: false });
        const first = await r.tokenOk(codeBody(code), confAuth());
        await expectJsonError(await refused(codeBody(code), { authorization: basic(other.id, otherSecret) }), 400, 'invalid_grant');
        assert.equal((await r.userinfo(first.access_token)).status, 200);
      });
    });

    describe('refresh tokens (RFC 6749 §6)', () => {
      const refreshBody = (token: string, extra: Params = {}): Params => ({ grant_type: 'refresh_token', refresh_token: token, ...extra });

      it('a scope wider than granted → invalid_scope, and the refresh token still works', async () => {
        const { code } = await confUser.code({ pkce: false, scope: 'openid offline_access' });
        const t = await r.tokenOk(codeBody(code), confAuth());
        for (const scope of ['openid offline_access nickname', 'openid contact', 'openid bogus', 'openid "x']) {
          await expectJsonError(await refused(refreshBody(t.refresh_token!, { scope }), { authorization: confAuth() }), 400, 'invalid_scope');
        }
        const narrowed = await r.tokenOk(refreshBody(t.refresh_token!, { scope: 'openid' }), confAuth());
        assert.equal(narrowed.scope, 'openid', 'narrowing is allowed');
      });

      it("another client's refresh token → invalid_grant, and it still works for its own client", async () => {
        const { code } = await otherUser.code({ pkce: false, scope: 'openid offline_access' });
        const t = await r.tokenOk(codeBody(code), basic(other.id, otherSecret));
        await expectJsonError(await refused(refreshBody(t.refresh_token!), { authorization: confAuth() }), 400, 'invalid_grant');
        const rotated = await r.tokenOk(refreshBody(t.refresh_token!), basic(other.id, otherSecret));
        assert.ok(rotated.refresh_token && rotated.refresh_token !== t.refresh_token);
      });

      it('missing or unknown refresh_token → invalid_request / invalid_grant', async () => {
        await expectJsonError(await refused({ grant_type: 'refresh_token' }, { authorization: confAuth() }), 400, 'invalid_request');
        await expectJsonError(await refused(refreshBody('nope'), { authorization: confAuth() }), 400, 'invalid_grant');
      });

      it('an access token is not a refresh token', async () => {
        const { code } = await confUser.code({ pkce: false, scope: 'openid offline_access' });
        const t = await r.tokenOk(codeBody(code), confAuth());
        await expectJsonError(await refused(refreshBody(t.access_token), { authorization: confAuth() }), 400, 'invalid_grant');
        await r.tokenOk(refreshBody(t.refresh_token!), confAuth());
      });
    });

    describe('throttling (DESIGN: failures counted per client_id; 429 with Retry-After)', () => {
      it('repeated wrong secrets for one client_id eventually → 429 + Retry-After; other clients unaffected; it ends', async () => {
        const { client, secret } = await alias.client() as { client: Client; secret: string };
        const statuses: number[] = [];
        let throttled: Response | undefined;
        for (let i = 0; i < 40 && !throttled; i++) {
          const res = await r.token({ grant_type: 'authorization_code' }, { authorization: basic(client.id, `wrong-${i}`) });
          statuses.push(res.status);
          if (res.status === 429) throttled = res;
          else await expectBasicChallenge(res);
        }
        assert.ok(throttled, `never throttled: ${statuses.join(',')}`);
        assert.ok(statuses.length >= 6, 'a few honest mistakes are tolerated first');
        const retryAfter = Number(throttled.headers.get('retry-after'));
        assert.ok(Number.isInteger(retryAfter) && retryAfter > 0, `Retry-After: ${throttled.headers.get('retry-after')}`);
        assert.match(throttled.headers.get('content-type') ?? '', /^application\/json/);
        const body = await throttled.json() as { error: string };
        assert.equal(typeof body.error, 'string');
        // client_secret_post is counted against the same client_id.
        const post = await r.token({ grant_type: 'authorization_code', client_id: client.id, client_secret: 'wrong' });
        assert.equal(post.status, 429);
        await post.arrayBuffer();
        // Another client_id is not throttled.
        const otherTry = await r.token({ grant_type: 'authorization_code' }, { authorization: basic(codeOnly.id, 'wrong') });
        await expectBasicChallenge(otherTry);
        // The block ends: after Retry-After the right secret authenticates.
        alias.advance(retryAfter * 1000 + 1);
        const ok = await r.token({}, { authorization: basic(client.id, secret) });
        const err = await expectJsonError(ok, 400, 'invalid_request');
        assert.match(err.error_description, /grant_type/);
      });

      it('successful authentications are never throttled, however many', async () => {
        const { client, secret } = await alias.client() as { client: Client; secret: string };
        for (let i = 0; i < 30; i++) {
          const res = await r.token({ grant_type: 'authorization_code', code: `unknown-${i}`, redirect_uri: APP_CB }, { authorization: basic(client.id, secret) });
          await expectJsonError(res, 400, 'invalid_grant');
        }
      });
    });

    describe('userinfo (RFC 6750, OIDC Core §5.3)', () => {
      const url = () => `${alias.issuer}/api/oauth2/userinfo`;
      let good: string;
      before(async () => {
        const { code } = await confUser.code({ pkce: false });
        good = (await r.tokenOk(codeBody(code), confAuth())).access_token;
      });

      it('no token → 401 with WWW-Authenticate: Bearer realm and no error code (RFC 6750 §3.1)', async () => {
        for (const init of [{}, { method: 'POST' }, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'x=1' }] as RequestInit[]) {
          const res = await fetch(url(), init);
          assert.equal(res.status, 401);
          const challenge = res.headers.get('www-authenticate') ?? '';
          assert.match(challenge, /^Bearer realm="[^"]+"$/, challenge);
          assert.doesNotMatch(challenge, /error/);
          const text = await res.text();
          assert.doesNotMatch(text, /invalid_token|"error"/, 'no error code in the body either (§3.1: SHOULD NOT include error information)');
        }
      });

      it('a bad token → 401 error="invalid_token" (RFC 6750 §3.1)', async () => {
        for (const token of ['nope', good + 'x', good.slice(1), 'a'.repeat(5000)]) {
          const res = await fetch(url(), { headers: { authorization: `Bearer ${token}` } });
          assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer realm="[^"]+", error="invalid_token"/);
          await expectJsonError(res, 401, 'invalid_token');
        }
      });

      it('token in the header AND the body → 400 invalid_request (RFC 6750 §2: MUST NOT use more than one method)', async () => {
        const res = await fetch(url(), {
          method: 'POST', headers: { authorization: `Bearer ${good}`, 'content-type': 'application/x-www-form-urlencoded' },
          body: encode({ access_token: good }),
        });
        assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_request"/);
        await expectJsonError(res, 400, 'invalid_request');
      });

      it('a malformed Authorization header or body → 400 invalid_request (RFC 6750 §3.1)', async () => {
        for (const init of [
          { headers: { authorization: 'Bearer' } },
          { headers: { authorization: 'Bearer a b' } },
          { headers: { authorization: 'Bearer "quoted"' } },
          { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ access_token: good }) },
          { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: encode({ access_token: [good, good] }) },
        ] as RequestInit[]) {
          const res = await fetch(url(), init);
          await expectJsonError(res, 400, 'invalid_request');
        }
      });

      it('a token in the query string is not accepted (RFC 9700 §2.4: no access tokens in URIs)', async () => {
        const res = await fetch(`${url()}?access_token=${good}`);
        assert.equal(res.status, 401);
        await res.arrayBuffer();
      });

      it('the good token still works after all that', async () => {
        const res = await r.userinfo(good);
        assert.equal(res.status, 200);
        assert.ok((await res.json() as { sub: string }).sub);
        const post = await fetch(url(), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: encode({ access_token: good }) });
        assert.equal(post.status, 200, 'RFC 6750 §2.2 form body');
        await post.arrayBuffer();
      });
    });
  });
}
