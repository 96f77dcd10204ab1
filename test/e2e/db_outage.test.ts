// `aliasid serve` as an operator runs it, with PostgreSQL behind a TCP proxy the test
// cuts: the process survives its connections being dropped, answers 503 + Retry-After
// (JSON on the token endpoint, a page on the authorization endpoint) while the database
// is away, and serves again as soon as it is back, without a restart. At start, an
// unreachable database (even one that never answers) makes serve exit non-zero within
// seconds, naming it (DESIGN "Data and scale": it never waits silently).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds, PG_URL, postgres, TEST_SECRET, type TestDatabase } from '../helpers/databases.js';
import { freePort } from '../helpers/harness.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp_proxy.js';
import { serve, start, until, type Proc } from '../helpers/processes.js';
import { loadConfig } from '../../src/config/config.js';
import { createServices, type Services } from '../../src/services.js';
import { CONNECT_TIMEOUT_MS } from '../../src/store/postgres/pool.js';

const basic = (id: string, secret: string) => 'Basic ' + Buffer.from(`${id}:${secret}`).toString('base64');
const pgKind = databaseKinds().find((k) => k.name === 'postgres')!;

describe('aliasid serve through a PostgreSQL outage', { skip: pgKind.skip }, () => {
  let proxy: TcpProxy;
  let db: TestDatabase;
  let s: Services;
  let env: Record<string, string>;
  const procs: Proc[] = [];
  before(async () => {
    const target = new URL(PG_URL);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    db = await postgres.create();
    s = await createServices(loadConfig({ db: db.location }, { ALIAS_SECRET: TEST_SECRET, ALIAS_LOG_LEVEL: 'silent' }),
      { schema: db.schema });
    env = { ...db.env, ALIAS_DB: proxy.via(db.env.ALIAS_DB!), ALIAS_SECRET: TEST_SECRET, ALIAS_LOG_LEVEL: 'warn' };
  });
  after(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await proxy?.restore();
    await s?.close();
    await db?.cleanup();
    await proxy?.close();
  });

  it('503 + Retry-After while the database is away, 200 again once it is back, same process', async () => {
    const { client, secret } = await s.clients.create({ name: 'Outage app', redirectUris: ['https://app.example/cb'],
      grantTypes: ['client_credentials', 'authorization_code'] });
    const port = await freePort();
    const proc = await serve(port, env);
    procs.push(proc);
    const base = `http://127.0.0.1:${port}`;
    const token = () => fetch(`${base}/api/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(client.id, secret!) },
      body: 'grant_type=client_credentials',
    });
    const authorize = () => fetch(`${base}/oauth2/authorize?response_type=code&client_id=${client.id}` +
      `&redirect_uri=${encodeURIComponent('https://app.example/cb')}&scope=openid`, { redirect: 'manual' });
    const first = await token();
    assert.equal(first.status, 200);
    await first.arrayBuffer();

    // Drops the pool's idle connections too: pg reports them as 'error' events.
    await proxy.cut();
    const cutAt = Date.now();
    const down = await token();
    const downMs = Date.now() - cutAt;
    assert.equal(down.status, 503, await down.clone().text());
    assert.equal(down.headers.get('retry-after'), '5');
    assert.equal(((await down.json()) as { error: string }).error, 'temporarily_unavailable');
    const page = await authorize();
    assert.equal(page.status, 503);
    assert.equal(page.headers.get('retry-after'), '5');
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(await page.text(), /temporarily unavailable/i);
    await new Promise((r) => setTimeout(r, 1_500)); // the relay and back-channel workers poll meanwhile
    assert.equal(proc.done(), false, `still running:\n${proc.output()}`);

    await proxy.restore();
    const restoredAt = Date.now();
    const up = await token();
    const upMs = Date.now() - restoredAt;
    assert.equal(up.status, 200, await up.clone().text());
    assert.ok(((await up.json()) as { access_token?: string }).access_token);
    const again = await authorize();
    assert.equal(again.status, 303, 'on to the sign-in page');
    assert.match(proc.output(), /database unavailable/, 'the outage is logged');
    assert.doesNotMatch(proc.output(), /Unhandled|uncaught/i);

    proc.kill('SIGTERM');
    assert.deepEqual(await proc.exited, { code: 0, signal: null }, proc.output());
    process.stderr.write(`# aliasid serve: 503 ${downMs} ms after the cut, 200 ${upMs} ms after the restore\n`);
  });

  it('at start, a database that never answers: exits non-zero within seconds, naming it', async () => {
    await proxy.blackhole();
    try {
      const started = Date.now();
      const proc = start(['serve', '--port', String(await freePort())], env);
      procs.push(proc);
      const exit = await proc.exited;
      const took = Date.now() - started;
      assert.equal(exit.signal, null, proc.output());
      assert.notEqual(exit.code, 0);
      assert.ok(took < CONNECT_TIMEOUT_MS + 15_000, `exited after ${took} ms`);
      assert.match(proc.output(), new RegExp(`cannot reach the database postgres://\\S*127\\.0\\.0\\.1:${proxy.port}/`));
      assert.doesNotMatch(proc.output(), /Alias is running/);
      assert.doesNotMatch(proc.output(), /^\s+at /m, 'no stack trace');
      process.stderr.write(`# aliasid serve with a silent database: exit ${exit.code} after ${took} ms\n`);
    } finally {
      await proxy.restore();
    }
  });
});
