// SIGTERM drains `aliasid serve`: new connections are refused at once, a request in
// flight gets its complete answer, the relay worker hands back the messages it claimed
// but had not started (another worker takes them, nothing is mailed twice), finishes
// the ones it was sending, and the process exits 0. The drain is bounded
// (ALIAS_DRAIN_TIMEOUT). On SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { databaseKinds, sqlite, TEST_SECRET, type TestDatabase } from '../helpers/databases.js';
import { freePort } from '../helpers/harness.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.js';
import { refused, serve, slowPost, start, until, type Proc } from '../helpers/processes.js';
import { loadConfig } from '../../src/config/config.js';
import { createServices, type Services } from '../../src/services.js';
import type { Message } from '../../src/store/types.js';
import { digest } from '../../src/tokens/opaque.js';
import { basic } from '../helpers/bad_input.js';

for (const kind of databaseKinds()) {
  describe(`SIGTERM drains aliasid serve (${kind.name})`, { skip: kind.skip }, () => {
    let db: TestDatabase;
    let s: Services;
    let sink: SmtpSink;
    const procs: Proc[] = [];
    before(async () => {
      db = await kind.create();
      s = await createServices(loadConfig({ db: db.location }, { ALIAS_SECRET: TEST_SECRET, ALIAS_LOG_LEVEL: 'silent' }),
        { schema: db.schema });
      sink = await startSmtpSink();
    });
    after(async () => {
      for (const p of procs) p.kill('SIGKILL');
      await Promise.all(procs.map((p) => p.exited));
      await sink?.close();
      await s?.close();
      await db?.cleanup();
    });

    it('refuses new connections, answers the request in flight, releases unsent claims, exits 0', async () => {
      const { client, secret } = await s.clients.create({ name: 'Drain app', redirectUris: ['https://app.example/cb'],
        grantTypes: ['client_credentials'], channels: ['news:News'] });
      const user = await s.accounts.create({ email: `drain-${randomBytes(4).toString('hex')}@example.com`, password: 'a long enough password' });
      await s.consent.record({ userId: user.id, clientId: client.id, requestedScopes: ['openid', 'contact'],
        requestedChannels: ['news'], approvedScopes: ['openid', 'contact'], approvedChannels: ['news'] });
      // Ten messages due at once: the worker claims all ten and sends five at a time.
      const ids: string[] = [];
      const t = Date.now();
      for (let i = 0; i < 10; i++) {
        const id = randomBytes(16).toString('hex');
        ids.push(id);
        await s.store.messages.insert({ id, clientId: client.id, userId: user.id, channel: 'news', subject: `Drain ${i}`,
          body: `Body ${i}`, idempotencyKey: null, status: 'queued', attempts: 0, nextAttemptAt: t, leaseUntil: null,
          lastError: null, createdAt: t, deliveredAt: null });
      }
      const rows = async (): Promise<Message[]> => Promise.all(ids.map(async (id) => (await s.store.messages.get(id))!));
      sink.delayMs = 3_000; // a slow mail server: each accepted mail is acknowledged 3 s later
      const port = await freePort();
      const env = { ...db.env, ALIAS_SECRET: TEST_SECRET, ALIAS_LOG_LEVEL: 'warn', ALIAS_SMTP_URL: sink.url };
      const proc = await serve(port, env);
      procs.push(proc);

      await until(() => sink.received.length >= 5, 'five mails in flight', 15_000, proc);
      const inFlight = slowPost(port, '/api/oauth2/token', { authorization: basic(client.id, secret!) }, 'grant_type=client_credentials');
      await inFlight.inFlight;
      await until(async () => (await rows()).every((m) => m.leaseUntil !== null), 'all ten claimed', 5_000, proc);

      const signalledAt = Date.now();
      proc.kill('SIGTERM');
      await until(() => refused(port), 'new connections refused after SIGTERM', 3_000, proc);
      const refusedMs = Date.now() - signalledAt;
      // The five not yet started are back in the queue at once, no attempt counted.
      await until(async () => (await rows()).filter((m) => m.leaseUntil === null).length === 5,
        'the five unsent messages released', 3_000, proc);
      const releasedMs = Date.now() - signalledAt;
      assert.equal(proc.done(), false, 'still running: a request and five mails are in flight');

      inFlight.finish();
      const res = await inFlight.response;
      assert.equal(res.status, 200, res.body);
      const body = JSON.parse(res.body) as { access_token: string; token_type: string; expires_in: number };
      assert.equal(body.token_type, 'Bearer');
      assert.equal(typeof body.access_token, 'string');

      assert.deepEqual(await proc.exited, { code: 0, signal: null }, proc.output());
      const exitMs = Date.now() - signalledAt;
      assert.match(proc.output(), /SIGTERM: stopping/);
      assert.ok(await s.store.accessTokens.get(digest(body.access_token)), 'the token answered during the drain is stored');

      const after = await rows();
      const sent = after.filter((m) => m.status === 'sent');
      const released = after.filter((m) => m.status === 'queued');
      assert.equal(sent.length, 5, 'the five in flight were finished and recorded');
      for (const m of sent) assert.equal(m.attempts, 1);
      assert.equal(released.length, 5);
      for (const m of released) {
        assert.equal(m.attempts, 0, 'released, not attempted');
        assert.equal(m.leaseUntil, null, 'claimable by any worker now');
      }
      assert.deepEqual(sink.received.map((r) => /^<([0-9a-f]+)@/.exec(r.mail.messageId ?? '')?.[1]).sort(),
        sent.map((m) => m.id).sort(), 'exactly the recorded ones were mailed');

      // Another node takes the released messages right away; nothing goes out twice.
      sink.delayMs = 0;
      const worker = start(['worker'], env);
      procs.push(worker);
      await until(() => sink.received.length >= 10, 'the released messages delivered by another worker', 20_000, worker);
      worker.kill('SIGTERM');
      assert.deepEqual(await worker.exited, { code: 0, signal: null }, worker.output());
      const mailed = sink.received.map((r) => /^<([0-9a-f]+)@/.exec(r.mail.messageId ?? '')?.[1]);
      assert.equal(mailed.length, 10, 'nothing mailed twice');
      assert.deepEqual([...mailed].sort(), [...ids].sort());
      process.stderr.write(`# ${kind.name}: SIGTERM → refused ${refusedMs} ms, released ${releasedMs} ms, exit 0 after ${exitMs} ms\n`);
    });
  });
}

describe('SIGTERM drain bound (ALIAS_DRAIN_TIMEOUT)', () => {
  let db: TestDatabase;
  let proc: Proc | undefined;
  before(async () => { db = await sqlite.create(); });
  after(async () => {
    proc?.kill('SIGKILL');
    await proc?.exited;
    await db?.cleanup();
  });

  it('a request that never completes does not hold the exit past the bound: exit 1, saying so', async () => {
    const port = await freePort();
    proc = await serve(port, { ...db.env, ALIAS_LOG_LEVEL: 'warn', ALIAS_DRAIN_TIMEOUT: '1.5' });
    const stuck = slowPost(port, '/api/oauth2/token', {}, 'grant_type=client_credentials&client_id=nobody');
    await stuck.inFlight;
    const signalledAt = Date.now();
    proc.kill('SIGTERM');
    const exit = await proc.exited;
    const took = Date.now() - signalledAt;
    stuck.abort();
    assert.deepEqual(exit, { code: 1, signal: null }, proc.output());
    assert.ok(took >= 1_400 && took < 5_000, `exited after the bound (${took} ms)`);
    assert.match(proc.output(), /did not finish within 1\.5 s \(ALIAS_DRAIN_TIMEOUT\)/);
  });
});
