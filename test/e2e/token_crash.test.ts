// "A crash at any point of a flow loses nothing that was acknowledged": `aliasid serve`
// issues tokens under load (client credentials, and a refresh token rotated again and
// again) and is killed with SIGKILL mid-stream. After a restart, every token that was
// answered 200 is still valid, and the last refresh token answered is stored (and
// redeems, unless a rotation in flight at the kill had already used it). On SQLite
// and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { databaseKinds, TEST_SECRET, type TestDatabase } from '../helpers/databases.js';
import { freePort } from '../helpers/harness.js';
import { serve, type Proc } from '../helpers/processes.js';
import { loadConfig } from '../../src/config/config.js';
import { createServices, type Services } from '../../src/services.js';
import { digest } from '../../src/tokens/opaque.js';
import { basic } from '../helpers/bad_input.js';

for (const kind of databaseKinds()) {
  describe(`tokens survive a crash of aliasid serve (${kind.name})`, { skip: kind.skip }, () => {
    let db: TestDatabase;
    let s: Services;
    const procs: Proc[] = [];
    before(async () => {
      db = await kind.create();
      s = await createServices(loadConfig({ db: db.location }, { ALIAS_SECRET: TEST_SECRET, ALIAS_LOG_LEVEL: 'silent' }),
        { schema: db.schema });
    });
    after(async () => {
      for (const p of procs) p.kill('SIGKILL');
      await Promise.all(procs.map((p) => p.exited));
      await s?.close();
      await db?.cleanup();
    });

    it('SIGKILL under load: every token answered 200 is valid after a restart', async () => {
      const { client, secret } = await s.clients.create({ name: 'Crash app', redirectUris: ['https://app.example/cb'],
        grantTypes: ['client_credentials', 'password', 'refresh_token'] });
      const user = await s.accounts.create({ email: `crash-${randomBytes(4).toString('hex')}@example.com`, password: 'a long enough password' });
      const env = { ...db.env, ALIAS_SECRET: TEST_SECRET, ALIAS_LOG_LEVEL: 'warn' };
      const port = await freePort();
      const proc = await serve(port, env);
      procs.push(proc);
      const base = `http://127.0.0.1:${port}`;
      const post = (body: Record<string, string>) => fetch(`${base}/api/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client.id, secret!) },
        body: new URLSearchParams(body),
      });
      const first = await post({ grant_type: 'password', username: user.email, password: 'a long enough password',
        scope: 'openid offline_access' });
      assert.equal(first.status, 200);
      let refresh = ((await first.json()) as { refresh_token: string }).refresh_token;
      assert.ok(refresh);

      const acknowledged: string[] = [];
      let stop = false;
      const loop = async () => {
        while (!stop) {
          try {
            const res = await post({ grant_type: 'client_credentials' });
            if (res.status === 200) acknowledged.push(((await res.json()) as { access_token: string }).access_token);
          } catch {
            return; // the server died mid-request: that answer was never given
          }
        }
      };
      const rotate = async () => {
        while (!stop) {
          try {
            const res = await post({ grant_type: 'refresh_token', refresh_token: refresh });
            const body = (await res.json()) as { refresh_token?: string; access_token?: string };
            assert.equal(res.status, 200, JSON.stringify(body));
            refresh = body.refresh_token!;
            acknowledged.push(body.access_token!);
          } catch (err) {
            if ((err as Error).name === 'AssertionError') throw err;
            return;
          }
        }
      };
      const load = [...Array.from({ length: 6 }, loop), rotate()];
      const killAt = Date.now() + 1_500;
      while (Date.now() < killAt || acknowledged.length < 50) await new Promise((r) => setTimeout(r, 20));
      proc.kill('SIGKILL');
      stop = true;
      await Promise.all(load);
      assert.equal((await proc.exited).signal, 'SIGKILL');

      // Straight from the database: every acknowledged access token is stored and unrevoked.
      for (const token of acknowledged) {
        const row = await s.store.accessTokens.get(digest(token));
        assert.ok(row, 'an acknowledged access token is stored');
        assert.equal(row.revokedAt, null);
      }
      // And through a restarted Alias: introspection says active, the last refresh token redeems.
      const port2 = await freePort();
      const again = await serve(port2, env);
      procs.push(again);
      const sample = [...acknowledged.slice(0, 5), ...acknowledged.slice(-20)];
      for (const token of sample) {
        const res = await fetch(`http://127.0.0.1:${port2}/api/oauth2/introspect`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client.id, secret!) },
          body: new URLSearchParams({ token }),
        });
        assert.equal(((await res.json()) as { active: boolean }).active, true);
      }
      // The last refresh token answered is stored. A rotation in flight at the kill may
      // have committed without being answered (then redeeming it again is the one retry
      // after a lost answer while ALIAS_REFRESH_REUSE_GRACE lasts, and after it a reuse that
      // revokes the family, by design: docs/security.md); otherwise it redeems now.
      const last = await s.store.refreshTokens.get(digest(refresh));
      assert.ok(last, 'the last acknowledged refresh token is stored');
      assert.equal(last.revokedAt, null);
      if (last.rotatedAt === null) {
        const redeemed = await fetch(`http://127.0.0.1:${port2}/api/oauth2/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client.id, secret!) },
          body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refresh }),
        });
        assert.equal(redeemed.status, 200, `the last refresh token answered before the crash redeems: ${await redeemed.clone().text()}`);
        await redeemed.arrayBuffer();
      }
      again.kill('SIGTERM');
      assert.deepEqual(await again.exited, { code: 0, signal: null }, again.output());
      process.stderr.write(`# ${kind.name}: ${acknowledged.length} tokens acknowledged before SIGKILL, all valid after restart\n`);
    });
  });
}
