// store/postgres/pool.ts against a real PostgreSQL, through a TCP proxy: a connection that
// goes silent mid-query fails after query_timeout and is thrown away (pg would reuse
// it, and every later query on it would hang); a connection lost while checked out
// never crashes the process.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds, PG_URL } from '../helpers/databases.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp_proxy.js';
import { createPgPool } from '../../src/store/postgres/pool.js';
import { preparedName, registerPrepared } from '../../src/store/postgres/prepared.js';
import { retryAborted } from '../../src/store/postgres/retry.js';
import { SHARES_ROWS } from '../../src/store/postgres/prepared_query.js';
import { isDatabaseUnavailable } from '../../src/store/unavailable.js';
import pg from 'pg';

const pgKind = databaseKinds().find((k) => k.name === 'postgres')!;

describe('PostgreSQL pool under faults', { skip: pgKind.skip }, () => {
  let proxy: TcpProxy;
  let pool: pg.Pool;
  before(async () => {
    const target = new URL(PG_URL);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    pool = createPgPool(proxy.via(PG_URL), { max: 1, queryTimeoutMs: 500 });
  });
  after(async () => {
    await pool?.end();
    await proxy?.close();
  });

  /** As Kysely runs a query: check out, query, release without an error. */
  async function query(text: string): Promise<pg.QueryResult> {
    const client = await pool.connect();
    try {
      return await client.query(text);
    } finally {
      client.release();
    }
  }

  it('a connection silent mid-query fails after query_timeout, and the next query gets a new connection', async () => {
    assert.equal((await query('select 1 as one')).rows[0].one, 1);
    proxy.freeze();
    const started = Date.now();
    await assert.rejects(query('select 2'), (err: Error) => {
      assert.ok(isDatabaseUnavailable(err), err.message);
      return true;
    });
    assert.ok(Date.now() - started < 2_000, 'failed after the query timeout');
    // One connection in the pool: were it handed out again, this would wait behind the dead query.
    assert.equal((await query('select 3 as three')).rows[0].three, 3);
  });

  it("a transaction's BEGIN goes out with its first statement, not a round trip before it", async () => {
    const client = await pool.connect();
    try {
      proxy.traffic.length = 0;
      proxy.recording = true;
      // As Kysely runs a transaction.
      await client.query('begin', []);
      assert.equal((await client.query('select $1::int as n', [5])).rows[0].n, 5);
      assert.equal(client.getTransactionStatus?.(), 'T', 'the statement ran inside the transaction');
      await client.query('commit', []);
    } finally {
      proxy.recording = false;
      client.release();
    }
    const firstAnswer = proxy.traffic.findIndex((c) => !c.up);
    const sentBefore = proxy.traffic.slice(0, firstAnswer).map((c) => c.text).join('');
    assert.match(sentBefore, /begin/);
    assert.match(sentBefore, /select \$1::int as n/, 'the statement left before any answer came back');
  });

  it('what a transaction wrote before a failed statement is rolled back with it', async () => {
    const client = await pool.connect();
    try {
      await client.query('create temporary table pipelined (x int)');
      await client.query('begin', []);
      await client.query('insert into pipelined values ($1)', [1]);
      await assert.rejects(client.query('select 1 / $1::int', [0]), /division by zero/);
      await client.query('rollback', []);
      assert.equal((await client.query('select count(*)::int as n from pipelined')).rows[0].n, 0, 'the insert was inside the transaction');
      await client.query('drop table pipelined');
    } finally {
      client.release();
    }
  });

  it('a connection lost while a client is checked out (between two queries) is not a crash', async () => {
    const client = await pool.connect();
    await client.query('begin');
    await proxy.cut();
    await new Promise((r) => setTimeout(r, 100));
    await assert.rejects(client.query('select 1'), (err: Error) => isDatabaseUnavailable(err));
    client.release();
    await proxy.restore();
    assert.equal((await query('select 4 as four')).rows[0].four, 4);
  });
});

describe('PostgreSQL prepared hot statements (store/postgres/prepared.ts)', { skip: pgKind.skip }, () => {
  const schema = `prep_${process.pid}`;
  let pool: pg.Pool;
  let admin: pg.Pool;
  before(async () => {
    admin = createPgPool(PG_URL, { max: 1 });
    await admin.query(`create schema ${schema}`);
    await admin.query(`create table ${schema}.t (id int primary key, a text)`);
    await admin.query(`insert into ${schema}.t values (1, 'one')`);
    await admin.query(`create table ${schema}.u (id int primary key, a text)`);
    await admin.query(`insert into ${schema}.u values (1, 'one')`);
    pool = createPgPool(PG_URL, { max: 1, schema });
  });
  after(async () => {
    await pool?.end();
    await admin?.query(`drop schema if exists ${schema} cascade`);
    await admin?.end();
  });

  async function run(text: string, values: unknown[]): Promise<pg.QueryResult> {
    const client = await pool.connect();
    try {
      return await client.query(text, values);
    } finally {
      client.release();
    }
  }

  it('a registered text runs as a named statement, parsed once per connection', async () => {
    const text = 'select a from t where id = $1';
    registerPrepared(text);
    const name = preparedName(text)!;
    assert.match(name, /^alias_\d+$/);
    assert.equal((await run(text, [1])).rows[0].a, 'one');
    assert.equal((await run(text, [1])).rows[0].a, 'one');
    const found = await run('select count(*)::int as n from pg_prepared_statements where name = $1', [name]);
    assert.equal(found.rows[0].n, 1, 'the statement is prepared on the connection');
  });

  it("a named statement's rows are pg's own, its row description turned into parsers once per connection (prepared_query.ts)", async () => {
    assert.equal(SHARES_ROWS, true, 'the installed pg has the members prepared_query.ts relies on');
    // Every kind of value the stores read: bigint, int, text, boolean, null, and a repeated
    // column name (the later one wins, as in pg).
    const text = `select id, a, 9007199254740991::bigint as big, (id > 0) as yes, null::text as none, 'x' as a2, 'later' as a2
                  from t where id = $1`;
    const unnamed = await run(`${text} and true`, [1]);
    registerPrepared(text);
    const first = await run(text, [1]);
    const second = await run(text, [1]);
    // bigint as the process's type parsers have it (a string here; dialect.ts makes it a number).
    const expected = { id: 1, a: 'one', big: pg.types.getTypeParser(20, 'text')('9007199254740991'), yes: true, none: null, a2: 'later' };
    assert.deepEqual(unnamed.rows, [expected]);
    assert.deepEqual(first.rows, [expected]);
    assert.deepEqual(second.rows, [expected]);
    assert.deepEqual(second.fields.map((f) => f.name), ['id', 'a', 'big', 'yes', 'none', 'a2', 'a2']);
    assert.equal(second.rowCount, 1);
    assert.equal(second.command, 'SELECT');
    const parsers = (r: pg.QueryResult) => (r as unknown as { _parsers: unknown[] })._parsers;
    assert.equal(parsers(second), parsers(first), 'the second answer reused the parsers made for the first');
    assert.notEqual(parsers(unnamed), parsers(first));
    // No row: the description still comes, and the answer is empty.
    assert.deepEqual((await run(text, [2])).rows, []);
  });

  it('a named statement that fails rejects with pg\'s error, and the connection goes on', async () => {
    const text = 'select 1 / $1::int as q';
    registerPrepared(text);
    // Its stack leads back to the code that awaited it (pg's promise API does the same).
    await assert.rejects(run(text, [0]), (err: Error & { code?: string }) =>
      err.code === '22012' && /division by zero/.test(err.message) && /at async run\b/.test(err.stack ?? ''));
    assert.deepEqual((await run(text, [1])).rows, [{ q: 1 }]);
  });

  it('a prepared select * whose table gained a column (another node migrated) runs again unnamed, and stays unnamed', async () => {
    const text = 'select * from t where id = $1';
    registerPrepared(text);
    assert.deepEqual((await run(text, [1])).rows[0], { id: 1, a: 'one' });
    await admin.query(`alter table ${schema}.t add column b text default 'bee'`);
    // PostgreSQL refuses the cached plan's row type (SQLSTATE 0A000); the caller still gets the row.
    assert.deepEqual((await run(text, [1])).rows[0], { id: 1, a: 'one', b: 'bee' });
    assert.equal(preparedName(text), undefined);
    assert.deepEqual((await run(text, [1])).rows[0], { id: 1, a: 'one', b: 'bee' });
  });

  it('inside a transaction the stale plan aborts it, and the transaction runs again with the statement unnamed', async () => {
    const text = 'select * from u where id = $1';
    registerPrepared(text);
    assert.deepEqual((await run(text, [1])).rows[0], { id: 1, a: 'one' });
    await admin.query(`alter table ${schema}.u add column b text default 'bee'`);
    let runs = 0;
    const row = await retryAborted(async () => {
      runs++;
      const client = await pool.connect();
      try {
        await client.query('begin');
        const r = await client.query(text, [1]);
        await client.query('commit');
        return r.rows[0];
      } catch (err) {
        await client.query('rollback');
        throw err;
      } finally {
        client.release();
      }
    });
    assert.equal(runs, 2, 'the first run was refused (SQLSTATE 0A000), the second was not');
    assert.deepEqual(row, { id: 1, a: 'one', b: 'bee' });
    assert.equal(preparedName(text), undefined);
  });
});
