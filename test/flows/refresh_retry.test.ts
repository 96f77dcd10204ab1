// A retry after a lost answer (issue 16; docs/security.md "A retry after a lost answer"),
// over HTTP with oauth4webapi as the independent client, on SQLite and PostgreSQL.
// - RFC 9700 §4.14.2: a used refresh token presented again revokes the family, except the
//   same client's one retry inside the grace window while the lost answer is unused;
// - RFC 9449 §5: the retry of a DPoP request needs a proof of the same key;
// - RFC 6749 §4.1.2: a code "MUST NOT be used more than once" — no window for codes.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias, discoverAlias } from '../helpers/harness.js';
import { basic } from '../helpers/bad_input.js';
import { Browser, checkboxes } from '../helpers/browser.js';

const INSECURE = { [oauth.allowInsecureRequests]: true } as const;
const REDIRECT = 'http://127.0.0.1:9/cb';
const GRACE_MS = 10_000;

type Outcome = { ok: true; body: oauth.TokenEndpointResponse } | { ok: false; error: string };

for (const kind of databaseKinds()) {
  describe(`refresh retry after a lost answer (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let as: oauth.AuthorizationServer;
    before(async () => {
      alias = await startAlias(kind);
      as = await discoverAlias(alias);
    });
    after(async () => alias?.close());

    /** A confidential client and a first refresh token from the password grant. */
    async function setUp() {
      const { client, secret } = await alias.client({ grantTypes: ['password', 'refresh_token'], redirectUris: [] });
      const user = await alias.user();
      const oclient: oauth.Client = { client_id: client.id };
      const auth = oauth.ClientSecretBasic(secret!);
      // The first refresh token, from the password grant (setup; oauth4webapi 3 has no password grant).
      const res = await fetch(`${alias.issuer}/api/oauth2/token`, { method: 'POST',
        headers: { authorization: basic(client.id, secret!), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'password', username: user.email, password: user.password,
          scope: 'openid offline_access nickname' }) });
      const first = (await res.json()) as { refresh_token: string; access_token: string };
      /** One refresh request through oauth4webapi; an OAuth error comes back as its code. */
      const refresh = async (rt: string, opts: { scope?: string; dpop?: oauth.DPoPHandle } = {}): Promise<Outcome> => {
        const send = () => oauth.refreshTokenGrantRequest(as, oclient, auth, rt, {
          ...INSECURE, ...(opts.scope ? { additionalParameters: { scope: opts.scope } } : {}), ...(opts.dpop ? { DPoP: opts.dpop } : {}) });
        try {
          return { ok: true, body: await oauth.processRefreshTokenResponse(as, oclient, await send()) };
        } catch (err) {
          // RFC 9449 §8: the first DPoP request learns the server's nonce and is sent again.
          if (oauth.isDPoPNonceError(err)) return refresh(rt, opts);
          if (err instanceof oauth.ResponseBodyError) return { ok: false, error: err.error };
          throw err;
        }
      };
      const active = async (token: string): Promise<boolean> => {
        const res = await fetch(`${alias.issuer}/api/oauth2/introspect`, { method: 'POST',
          headers: { authorization: basic(client.id, secret!), 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ token }) });
        return ((await res.json()) as { active: boolean }).active;
      };
      return { client, secret: secret!, rt0: first.refresh_token!, at0: first.access_token, refresh, active };
    }

    const body = (o: Outcome) => {
      assert.ok(o.ok, `expected tokens, got ${o.ok ? '' : o.error}`);
      return o.body;
    };

    it('a retry inside the window with the same token gets fresh tokens once; the lost answer is taken back', async () => {
      const { rt0, refresh, active } = await setUp();
      const lost = body(await refresh(rt0)); // the answer the client never received
      const retried = body(await refresh(rt0));
      assert.notEqual(retried.refresh_token, lost.refresh_token);
      assert.notEqual(retried.access_token, lost.access_token);
      assert.equal(await active(lost.access_token), false, 'the lost access token is revoked');
      assert.equal(await active(lost.refresh_token!), false, 'the lost refresh token is spent');
      assert.equal(await active(retried.access_token), true);
      assert.equal(await active(retried.refresh_token!), true);
      // Once: the same token a third time is refused, and changes nothing (the family lives on).
      assert.deepEqual(await refresh(rt0), { ok: false, error: 'invalid_grant' });
      assert.equal(await active(retried.access_token), true, 'refusing a repeated retry revokes nothing');
      const next = body(await refresh(retried.refresh_token!));
      assert.ok(next.refresh_token);
    });

    it('a narrower scope is a retry too; a wider one is invalid_scope and leaves the retry available', async () => {
      const { rt0, refresh } = await setUp();
      body(await refresh(rt0));
      assert.deepEqual(await refresh(rt0, { scope: 'openid offline_access nickname contact' }), { ok: false, error: 'invalid_scope' });
      const narrower = body(await refresh(rt0, { scope: 'openid offline_access' }));
      assert.equal(narrower.scope, 'openid offline_access');
    });

    it('RFC 9700 §4.14.2: once the lost answer was used, the old token is a reuse and the family is revoked', async () => {
      const { rt0, refresh, active } = await setUp();
      const a1 = body(await refresh(rt0));
      const a2 = body(await refresh(a1.refresh_token!)); // the answer arrived after all, and was used
      assert.deepEqual(await refresh(rt0), { ok: false, error: 'invalid_grant' });
      assert.equal(await active(a2.refresh_token!), false, 'the whole family is revoked');
      assert.equal(await active(a2.access_token), false);
    });

    it('the taken-back answer used later is a reuse: the family, the retry\'s tokens included, is revoked', async () => {
      // If the answer was not lost but stolen (or the "retry" was someone else's), its holder
      // and the retrier cannot both go on: the first use of the taken-back token ends both.
      const { rt0, refresh, active } = await setUp();
      const lost = body(await refresh(rt0));
      const retried = body(await refresh(rt0));
      assert.deepEqual(await refresh(lost.refresh_token!), { ok: false, error: 'invalid_grant' });
      assert.equal(await active(retried.refresh_token!), false);
      assert.equal(await active(retried.access_token), false);
    });

    it('after the window the old token is a reuse and the family is revoked', async () => {
      const { rt0, at0, refresh, active } = await setUp();
      const lost = body(await refresh(rt0));
      alias.advance(GRACE_MS);
      assert.deepEqual(await refresh(rt0), { ok: false, error: 'invalid_grant' });
      assert.equal(await active(lost.refresh_token!), false);
      assert.equal(await active(at0), false);
    });

    it('another client presenting the token inside the window gets invalid_grant and changes nothing', async () => {
      const a = await setUp();
      const b = await setUp();
      const lost = body(await a.refresh(a.rt0));
      const res = await fetch(`${alias.issuer}/api/oauth2/token`, { method: 'POST',
        headers: { authorization: basic(b.client.id, b.secret), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: a.rt0 }) });
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_grant');
      assert.equal(await a.active(lost.refresh_token!), true, 'the owner\'s answer is untouched');
      body(await a.refresh(a.rt0)); // and the owner's retry still works
    });

    it('parallel retries: exactly one wins, and the family keeps exactly one live refresh token', async () => {
      const { client, rt0, refresh, active } = await setUp();
      const lost = body(await refresh(rt0));
      const outcomes = await Promise.all(Array.from({ length: 8 }, () => refresh(rt0)));
      const winners = outcomes.filter((o): o is Extract<Outcome, { ok: true }> => o.ok);
      assert.equal(winners.length, 1, JSON.stringify(outcomes.map((o) => (o.ok ? 'ok' : o.error))));
      for (const o of outcomes) if (!o.ok) assert.equal(o.error, 'invalid_grant');
      assert.equal(await active(lost.refresh_token!), false);
      assert.equal(await active(winners[0]!.body.refresh_token!), true, 'the losers revoked nothing');
      const current = await alias.s.db.kysely.selectFrom('refresh_tokens').select('digest').where('client_id', '=', client.id)
        .where('rotated_at', 'is', null).where('revoked_at', 'is', null).execute();
      assert.equal(current.length, 1, 'no second live family: one current refresh token');
      body(await refresh(winners[0]!.body.refresh_token!));
    });

    it('RFC 9449 §5: the retry of a DPoP request needs a proof of the same key', async () => {
      const { rt0, refresh } = await setUp();
      const key = oauth.DPoP({}, await oauth.generateKeyPair('ES256'));
      const other = oauth.DPoP({}, await oauth.generateKeyPair('ES256'));
      const lost = body(await refresh(rt0, { dpop: key }));
      assert.equal(lost.token_type, 'dpop');
      assert.deepEqual(await refresh(rt0, { dpop: other }), { ok: false, error: 'invalid_grant' });
      assert.deepEqual(await refresh(rt0), { ok: false, error: 'invalid_grant' }, 'nor without a proof');
      const retried = body(await refresh(rt0, { dpop: key }));
      assert.equal(retried.token_type, 'dpop');
    });

    it('a Bearer request is retried as Bearer: a DPoP proof on the retry is another request', async () => {
      const { rt0, refresh } = await setUp();
      body(await refresh(rt0));
      const key = oauth.DPoP({}, await oauth.generateKeyPair('ES256'));
      assert.deepEqual(await refresh(rt0, { dpop: key }), { ok: false, error: 'invalid_grant' });
      body(await refresh(rt0));
    });

    it('RFC 6749 §4.1.2: a code has no retry window; the second exchange revokes the first one\'s tokens', async () => {
      const { client, secret } = await alias.client({ redirectUris: [REDIRECT], grantTypes: ['authorization_code', 'refresh_token'] });
      const user = await alias.user();
      const oclient: oauth.Client = { client_id: client.id };
      const browser = new Browser(alias.issuer);
      const login = await browser.follow('/oauth2/authorize?' + new URLSearchParams({ response_type: 'code', client_id: client.id,
        redirect_uri: REDIRECT, scope: 'openid offline_access', state: 's' }));
      const consent = await browser.submit(login, { email: user.email, password: user.password });
      const done = await browser.submit(consent, { decision: 'allow', scope: checkboxes(consent.html, 'scope').map((c) => c.value) });
      const params = oauth.validateAuthResponse(as, oclient, new URL(done.url), 's');
      const auth = oauth.ClientSecretBasic(secret!);
      const exchange = () => oauth.authorizationCodeGrantRequest(as, oclient, auth, params, REDIRECT, oauth.nopkce, INSECURE);
      const lost = await oauth.processAuthorizationCodeResponse(as, oclient, await exchange());
      await assert.rejects(async () => oauth.processAuthorizationCodeResponse(as, oclient, await exchange()),
        (err: unknown) => err instanceof oauth.ResponseBodyError && err.error === 'invalid_grant');
      const introspect = async (token: string) => ((await (await fetch(`${alias.issuer}/api/oauth2/introspect`, { method: 'POST',
        headers: { authorization: basic(client.id, secret!), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token }) })).json()) as { active: boolean }).active;
      assert.equal(await introspect(lost.access_token), false);
      assert.equal(await introspect(lost.refresh_token!), false);
    });
  });

  describe(`refresh retry turned off (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => {
      alias = await startAlias(kind, { env: { ALIAS_REFRESH_REUSE_GRACE: '0' } });
    });
    after(async () => alias?.close());

    it('ALIAS_REFRESH_REUSE_GRACE=0: any second use is a reuse that revokes the family (RFC 9700 §4.14.2)', async () => {
      const { client, secret } = await alias.client({ grantTypes: ['password', 'refresh_token'], redirectUris: [] });
      const user = await alias.user();
      const token = async (form: Record<string, string>) => {
        const res = await fetch(`${alias.issuer}/api/oauth2/token`, { method: 'POST',
          headers: { authorization: basic(client.id, secret!), 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(form) });
        return { status: res.status, json: (await res.json()) as Record<string, string> };
      };
      const first = await token({ grant_type: 'password', username: user.email, password: user.password, scope: 'openid offline_access' });
      const lost = await token({ grant_type: 'refresh_token', refresh_token: first.json.refresh_token! });
      assert.equal(lost.status, 200);
      const retry = await token({ grant_type: 'refresh_token', refresh_token: first.json.refresh_token! });
      assert.equal(retry.json.error, 'invalid_grant');
      const after = await token({ grant_type: 'refresh_token', refresh_token: lost.json.refresh_token! });
      assert.equal(after.json.error, 'invalid_grant', 'the family was revoked');
    });
  });
}
