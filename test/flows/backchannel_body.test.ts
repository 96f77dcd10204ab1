// Issue 16 item 12: the back-channel logout worker never reads a relying party's response
// body (OIDC Back-Channel Logout §2.8 gives it no meaning): a client that answers 200 and
// then streams without end neither holds the delivery nor fills Alias's memory.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { databaseKinds } from '../helpers/databases.js';
import { freePort, startAlias, type Alias } from '../helpers/harness.js';
import { Browser } from '../helpers/browser.js';

const CB = 'https://rp.example/cb';

/** A back-channel endpoint that answers 200 and then streams 64 KiB chunks until the connection closes. */
async function endlessRp() {
  const state = { sent: 0, closedAt: 0 };
  const open = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      open.add(res);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) state.sent += chunk.length;
        if (!res.destroyed) res.once('drain', pump);
      };
      res.on('close', () => { state.closedAt = Date.now(); open.delete(res); });
      pump();
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    uri: `http://127.0.0.1:${port}/backchannel`, state,
    close: () => new Promise<void>((r) => { for (const res of open) res.destroy(); server.close(() => r()); }),
  };
}

for (const kind of databaseKinds()) {
  describe(`back-channel logout response bodies (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => { alias = await startAlias(kind); });
    after(() => alias.close());

    // Rule (item 12): the response body is discarded, not read: the delivery settles at once.
    it('a 200 with an endless body: delivered within a second, the connection closed, little read', async () => {
      const rp = await endlessRp();
      try {
        const { client, secret } = await alias.client({ redirectUris: [CB], backchannelLogoutUri: rp.uri });
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
        await browser.follow('/oauth2/logout?' + new URLSearchParams({ id_token_hint: id_token }));
        const started = Date.now();
        assert.equal(await alias.s.backchannel.runOnce(), 1);
        const took = Date.now() - started;
        assert.ok(took < 1_000, `the delivery took ${took} ms`);
        const [row] = await alias.s.store.logoutDeliveries.listByClient(client.id);
        assert.equal(row!.status, 'delivered');
        for (const until = Date.now() + 2_000; !rp.state.closedAt && Date.now() < until;) await new Promise((r) => setTimeout(r, 10));
        assert.ok(rp.state.closedAt > 0, 'Alias closed the response stream');
        assert.ok(rp.state.sent < 16 * 1024 * 1024, `${rp.state.sent} bytes sent before the stream was closed`);
      } finally {
        await rp.close();
      }
    });
  });
}
