// The relay's durability, with real processes: `aliasid serve` accepts messages while no
// SMTP server is up and is killed with SIGKILL before it can deliver them; after a
// restart (with the SMTP server up) every accepted message arrives exactly once. Then two
// `aliasid worker` processes drain one outbox together without sending anything twice.
// On SQLite and PostgreSQL.
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { databaseKinds, TEST_SECRET, type TestDatabase } from '../helpers/databases.js';
import { freePort } from '../helpers/harness.js';
import { serve, sleep, start, until, type Proc } from '../helpers/processes.js';
import { startSmtpSink, type Received, type SmtpSink } from '../helpers/smtp.js';
import { loadConfig } from '../../src/config/config.js';
import { createServices, type Services } from '../../src/services.js';
import type { Client, Message } from '../../src/store/types.js';
import { basic } from '../helpers/bad_input.js';

// Ports handed out in this file are never handed out again: the crash test keeps its SMTP
// port free on purpose, and nothing else here may take it meanwhile.
const used = new Set<number>();
async function port(): Promise<number> {
  for (;;) {
    const p = await freePort();
    if (!used.has(p)) {
      used.add(p);
      return p;
    }
  }
}

/** Every mail carries the message id in its Message-ID. */
function deliveredIds(received: Received[]): string[] {
  return received.map((r) => /^<([0-9a-f]+)@/.exec(r.mail.messageId ?? '')?.[1] ?? '?');
}

for (const kind of databaseKinds()) {
  describe(`relay durability and workers (${kind.name})`, { skip: kind.skip }, () => {
    let db: TestDatabase;
    let s: Services;
    let env: Record<string, string>;
    const sinks: SmtpSink[] = [];
    const procs: Proc[] = [];
    before(async () => {
      db = await kind.create();
      const config = loadConfig({ db: db.location }, { ALIAS_SECRET: TEST_SECRET, ALIAS_LOG_LEVEL: 'silent' });
      s = await createServices(config, { schema: db.schema });
      env = { ...db.env, ALIAS_SECRET: TEST_SECRET, ALIAS_LOG_LEVEL: 'warn' };
    });
    /** Ends what a test started, even when it failed, so no stray worker joins the next test. */
    async function reap() {
      for (const p of procs) p.kill('SIGKILL');
      await Promise.all(procs.splice(0).map((p) => p.exited));
    }
    afterEach(reap);
    after(async () => {
      await reap();
      for (const sink of sinks) await sink.close();
      await s?.close();
      await db?.cleanup();
    });

    /** A client and users who granted it offline_access, contact and `news`. */
    async function seed(users: number): Promise<{ client: Client; secret: string; subs: { sub: string; userId: string; email: string }[] }> {
      const { client, secret } = await s.clients.create({ name: 'Crash-test app', redirectUris: ['https://app.example/cb'], channels: ['news:News'] });
      const subs = [];
      for (let i = 0; i < users; i++) {
        const user = await s.accounts.create({ email: `crash-${randomBytes(4).toString('hex')}@example.com`, password: 'a long enough password' });
        const grant = await s.consent.record({ userId: user.id, clientId: client.id,
          requestedScopes: ['openid', 'offline_access', 'contact'], requestedChannels: ['news'],
          approvedScopes: ['openid', 'offline_access', 'contact'], approvedChannels: ['news'] });
        subs.push({ sub: grant.sub, userId: user.id, email: user.email });
      }
      return { client, secret: secret!, subs };
    }

    const rows = async (ids: string[]): Promise<Message[]> => Promise.all(ids.map(async (id) => (await s.store.messages.get(id))!));

    it('kill -9 before delivery, restart: every accepted message is delivered exactly once', async () => {
      const { client, secret, subs } = await seed(1);
      const smtpPort = await port();
      const childEnv = { ...env, ALIAS_SMTP_URL: `smtp://127.0.0.1:${smtpPort}` };
      const port1 = await port();
      const first = await serve(port1, childEnv);
      procs.push(first);
      const ids: string[] = [];
      for (let i = 0; i < 8; i++) {
        const res = await fetch(`http://127.0.0.1:${port1}/api/v1/messages`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: basic(client.id, secret), 'idempotency-key': `crash-${i}` },
          body: JSON.stringify({ to: subs[0]!.sub, channel: 'news', subject: `Crash ${i}`, body: `Message number ${i}.` }),
        });
        const text = await res.text();
        assert.equal(res.status, 202, text);
        ids.push(JSON.parse(text).id);
      }
      // The worker has tried (nothing listens for SMTP) and backs off; no lease is held.
      await until(async () => (await rows(ids)).every((m) => m.attempts >= 1 && m.leaseUntil === null),
        'every message attempted once', 10_000, first);
      first.kill('SIGKILL');
      assert.equal((await first.exited).signal, 'SIGKILL');
      for (const m of await rows(ids)) {
        assert.equal(m.status, 'queued', 'accepted, not delivered, not lost');
        assert.match(m.lastError ?? '', /ECONNREFUSED|ECONNECTION|connect/i);
      }

      const sink = await startSmtpSink(smtpPort);
      sinks.push(sink);
      const second = await serve(await port(), childEnv);
      procs.push(second);
      await until(() => sink.received.length >= ids.length, `all ${ids.length} messages delivered after the restart`, 20_000, second);
      await sleep(1_000);
      assert.deepEqual(deliveredIds(sink.received).sort(), [...ids].sort(), 'each accepted message exactly once');
      for (const r of sink.received) assert.deepEqual(r.envelope.to, [subs[0]!.email]);
      for (const m of await rows(ids)) {
        assert.equal(m.status, 'sent');
        assert.equal(m.attempts, 2);
      }
      second.kill('SIGTERM');
      assert.deepEqual(await second.exited, { code: 0, signal: null }, second.output());
    });

    it('two `aliasid worker` processes drain one outbox and never send a message twice', async () => {
      const { client, subs } = await seed(12);
      const sink = await startSmtpSink(await port());
      sinks.push(sink);
      sink.delayMs = 40;
      const workers = [0, 1].map(() => start(['worker'], { ...env, ALIAS_SMTP_URL: sink.url }));
      procs.push(...workers);
      for (const w of workers) await until(() => /relay worker is running/.test(w.output()), 'worker started', 30_000, w);
      // Written straight to the outbox, all due at once, while both workers poll.
      const ids: string[] = [];
      const t = Date.now();
      for (const { userId } of subs) {
        for (let i = 0; i < 10; i++) {
          const id = randomBytes(16).toString('hex');
          ids.push(id);
          await s.store.messages.insert({ id, clientId: client.id, userId, channel: 'news', subject: `Batch ${i}`,
            body: `Body ${i}`, idempotencyKey: null, status: 'queued', attempts: 0, nextAttemptAt: t, leaseUntil: null,
            lastError: null, createdAt: t, deliveredAt: null });
        }
      }
      await until(() => sink.received.length >= ids.length, `all ${ids.length} messages delivered`, 30_000, workers[0]);
      await sleep(1_000);
      const delivered = deliveredIds(sink.received);
      assert.equal(delivered.length, ids.length, 'nothing sent twice');
      assert.deepEqual([...delivered].sort(), [...ids].sort());
      for (const m of await rows(ids)) {
        assert.equal(m.status, 'sent');
        assert.equal(m.attempts, 1, 'one attempt each: no worker sent what another held');
      }
      for (const w of workers) w.kill('SIGTERM');
      for (const w of workers) assert.deepEqual(await w.exited, { code: 0, signal: null }, w.output());
    });
  });
}
