// OpenID Connect Back-Channel Logout 1.0 over HTTP: a signed logout_token reaches each
// client with a registered URI, from a durable queue with retries.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { databaseKinds } from '../helpers/databases.js';
import { freePort, startAlias, type Alias } from '../helpers/harness.js';
import { Browser } from '../helpers/browser.js';

const CB = 'https://rp.example/cb';

/** A relying party's back-channel endpoint that records logout tokens. */
async function rp(behaviour: 'ok' | 'fail' | 'hang' = 'ok') {
  const received: string[] = [];
  const hung: (() => void)[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      received.push(new URLSearchParams(body).get('logout_token') ?? '');
      if (behaviour === 'hang') { hung.push(() => res.end()); return; }
      res.statusCode = behaviour === 'ok' ? 200 : 500;
      res.end();
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    uri: `http://127.0.0.1:${port}/backchannel`, received,
    close: () => new Promise<void>((r) => { hung.forEach((f) => f()); server.close(() => r()); }),
  };
}

for (const kind of databaseKinds()) {
  describe(`back-channel logout (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => { alias = await startAlias(kind); });
    after(() => alias.close());

    async function signInAndLogout(backchannelLogoutUri: string) {
      const { client, secret } = await alias.client({ redirectUris: [CB], backchannelLogoutUri });
      const user = await alias.user();
      const browser = new Browser(alias.issuer);
      const login = await browser.follow('/oauth2/authorize?' + new URLSearchParams({ response_type: 'code', client_id: client.id, redirect_uri: CB, scope: 'openid' }));
      const done = await browser.submit(await browser.submit(login, { email: user.email, password: user.password }), { decision: 'allow' });
      const res = await fetch(`${alias.issuer}/api/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`${client.id}:${secret}`).toString('base64') },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: new URL(done.url).searchParams.get('code')!, redirect_uri: CB }),
      });
      const { id_token } = await res.json();
      const started = Date.now();
      const out = await browser.follow('/oauth2/logout?' + new URLSearchParams({ id_token_hint: id_token }));
      assert.match(out.html, /You are signed out/);
      const sub = JSON.parse(Buffer.from(id_token.split('.')[1], 'base64url').toString()).sub as string;
      return { client, sub, logoutMs: Date.now() - started };
    }

    it('§2.4–2.5: the client receives a signed logout_token naming the pairwise sub', async () => {
      const server = await rp('ok');
      try {
        const { client, sub } = await signInAndLogout(server.uri);
        assert.equal(await alias.s.backchannel.runOnce(), 1);
        assert.equal(server.received.length, 1);
        const jwks = createRemoteJWKSet(new URL(`${alias.issuer}/oauth2/jwks`));
        const { payload, protectedHeader } = await jwtVerify(server.received[0]!, jwks, { issuer: alias.issuer, audience: client.id, typ: 'logout+jwt' });
        assert.equal(payload.sub, sub);
        assert.deepEqual(payload.events, { 'http://schemas.openid.net/event/backchannel-logout': {} });
        assert.equal(payload.nonce, undefined, '§2.4: a logout token MUST NOT contain a nonce');
        assert.ok(payload.jti && payload.iat && payload.exp);
        assert.equal(protectedHeader.alg, 'RS256');
        assert.equal(await alias.s.backchannel.runOnce(), 0, 'delivered once, not again');
      } finally {
        await server.close();
      }
    });

    it('a failing client is retried with back-off until it answers; nothing is lost', async () => {
      const server = await rp('fail');
      try {
        const { client } = await signInAndLogout(server.uri);
        assert.equal(await alias.s.backchannel.runOnce(), 1);
        let [row] = await alias.s.store.logoutDeliveries.listByClient(client.id);
        assert.equal(row!.status, 'pending');
        assert.equal(row!.attempts, 1);
        assert.equal(row!.lastError, 'HTTP 500');
        assert.equal(await alias.s.backchannel.runOnce(), 0, 'not due again before the back-off');
        alias.advance(5_001);
        assert.equal(await alias.s.backchannel.runOnce(), 1);
        [row] = await alias.s.store.logoutDeliveries.listByClient(client.id);
        assert.equal(row!.attempts, 2);
        assert.equal(server.received.length, 2);
      } finally {
        await server.close();
      }
    });

    it('a client that never answers does not hold the logout; two workers never deliver twice', async () => {
      const server = await rp('hang');
      try {
        alias.s.backchannel.start(20);
        const { logoutMs, client } = await signInAndLogout(server.uri);
        assert.ok(logoutMs < 2_000, `logout took ${logoutMs} ms`);
        // Stopping waits for a delivery in flight (and hands back one not yet started).
        for (const until = Date.now() + 5_000; server.received.length < 1 && Date.now() < until;) {
          await new Promise((r) => setTimeout(r, 10));
        }
        await alias.s.backchannel.stop();
        const [row] = await alias.s.store.logoutDeliveries.listByClient(client.id);
        assert.equal(row!.lastError, 'timed out');
        assert.equal(server.received.length, 1);
        // Two workers racing over the due rows: each row goes to exactly one (leases), so
        // this client gets exactly one more attempt.
        alias.advance(5_001);
        const [a, b] = await Promise.all([alias.s.backchannel.runOnce(), alias.s.backchannel.runOnce()]);
        assert.ok(a! + b! >= 1);
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(server.received.length, 2, 'one retry, not one per worker');
      } finally {
        await alias.s.backchannel.stop();
        await server.close();
      }
    });
  });
}
