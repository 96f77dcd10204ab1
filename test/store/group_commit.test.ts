// Group commit on the embedded SQLite store (src/store/sqlite/group_commit.ts): concurrent
// transactions share one COMMIT, yet each `transaction()` still returns only once its own
// writes are committed, a failing one undoes only its own writes, and a group that fails
// as a whole fails every transaction in it. Another handle on the same file (what an
// admin command or a second process sees) is the witness of what is committed.
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { CompiledQuery, sql, type Kysely } from 'kysely';
import { openDatabase, type Db } from '../../src/store/db.js';
import type { BatchKind } from '../../src/store/sqlite/group_commit.js';
import { atTaskEnd, requestArrived } from '../../src/store/request_task.js';

// A scratch table: the group commit is below the schema, so the test needs none of it.
interface Scratch { t: { x: number } ; child: { parent: number } }

describe('SQLite group commit', () => {
  let dir: string;
  let db: Db;
  let k: Kysely<Scratch>;
  let witness: SQLite.Database;
  const committed = (x: number) => (witness.prepare('select count(*) as n from t where x = ?').get(x) as { n: number }).n === 1;
  const rows = () => (witness.prepare('select x from t order by x').all() as { x: number }[]).map((r) => r.x);

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'alias-group-'));
    db = openDatabase(join(dir, 'alias.db'));
    k = db.kysely as unknown as Kysely<Scratch>;
    await sql`create table t (x integer primary key)`.execute(k);
    await sql`create table child (parent integer references t(x) deferrable initially deferred)`.execute(k);
    witness = new SQLite(join(dir, 'alias.db'));
  });

  afterEach(async () => {
    witness.close();
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const insert = (x: number) => k.transaction().execute((trx) => trx.insertInto('t').values({ x }).execute());

  it('concurrent transactions share commits, and each is committed when it returns', async () => {
    const before = { ...db.groupCommit! };
    const seen = await Promise.all(Array.from({ length: 50 }, (_, i) => insert(i).then(() => committed(i))));
    assert.deepEqual(seen, seen.map(() => true), 'another handle sees every row once its transaction returned');
    const commits = db.groupCommit!.commits - before.commits;
    assert.equal(db.groupCommit!.units - before.units, 50);
    assert.ok(commits >= 1 && commits < 50, `50 transactions in fewer commits (${commits})`);
  });

  it('a failing transaction undoes only its own writes; the others in its group commit', async () => {
    const boom = new Error('boom');
    const results = await Promise.allSettled([
      insert(1),
      k.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ x: 2 }).execute();
        throw boom;
      }),
      insert(3),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.equal((results[1] as PromiseRejectedResult).reason, boom);
    assert.deepEqual(rows(), [1, 3]);
  });

  it('a failed statement the transaction catches leaves its other writes and its group intact', async () => {
    await insert(1);
    await Promise.all([
      k.transaction().execute(async (trx) => {
        await trx.insertInto('t').values({ x: 2 }).execute();
        await assert.rejects(trx.insertInto('t').values({ x: 1 }).execute(), /UNIQUE/);
        await trx.insertInto('t').values({ x: 4 }).execute();
      }),
      insert(3),
    ]);
    assert.deepEqual(rows(), [1, 2, 3, 4]);
  });

  it('a group that fails at COMMIT fails every transaction in it and keeps none of their writes', async () => {
    // A deferred foreign key is checked at COMMIT: the only way to make a COMMIT fail on
    // a healthy disk. (The store's own schema has no deferred constraints, so in service
    // a group fails only with the disk: SQLITE_FULL, SQLITE_IOERR.)
    const before = db.groupCommit!.failedGroups;
    const results = await Promise.allSettled([
      insert(1),
      k.transaction().execute((trx) => trx.insertInto('child').values({ parent: 99 }).execute()),
      insert(3),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected', 'rejected']);
    for (const r of results) assert.match(String((r as PromiseRejectedResult).reason), /FOREIGN KEY/);
    assert.deepEqual(rows(), [], 'nothing of the failed group is kept');
    assert.equal(db.groupCommit!.failedGroups - before, 1);
    // The store goes on: the next transaction commits on its own.
    await insert(5);
    assert.ok(committed(5));
  });

  it('a write outside a transaction joins the open group, and is committed when it returns', async () => {
    const before = { ...db.groupCommit! };
    const inTx = insert(1);
    // Queued behind the transaction: runs while its group is still open.
    await k.insertInto('t').values({ x: 2 }).execute();
    assert.ok(committed(2), 'the plain write is committed when it returns');
    assert.ok(committed(1), 'with the group it joined');
    await inTx;
    assert.equal(db.groupCommit!.commits - before.commits, 1, 'one COMMIT for both');
    assert.equal(db.groupCommit!.units - before.units, 2);
  });

  it('writes outside a transaction join a group that is open, and each is committed when it returns', async () => {
    // A round trip's authorization code, while code exchanges' groups are open (issue 17).
    const before = { ...db.groupCommit! };
    const inTx = insert(100);
    const plain = (x: number) => k.insertInto('t').values({ x }).execute().then(() => committed(x));
    const seen = await Promise.all(Array.from({ length: 30 }, (_, i) => plain(i)));
    await inTx;
    assert.deepEqual(seen, seen.map(() => true), 'another handle sees every row once its write returned');
    assert.equal(db.groupCommit!.autocommits - before.autocommits, 0, 'none committed on its own');
    const commits = db.groupCommit!.commits - before.commits;
    assert.ok(commits >= 1 && commits < 5, `31 writes in ${commits} commit(s)`);
  });

  it('a write outside a transaction with no group open commits on its own at once', async () => {
    // A sign-in's writes mostly come one at a time: no BEGIN, COMMIT and turn for a group of one.
    await insert(1);
    const before = { ...db.groupCommit! };
    await k.insertInto('t').values({ x: 2 }).execute();
    assert.ok(committed(2));
    assert.equal(db.groupCommit!.autocommits - before.autocommits, 1);
    assert.equal(db.groupCommit!.commits - before.commits, 0);
  });

  it('a write outside a transaction waits for another process\'s write lock, then commits; so does a transaction beside it', async () => {
    // SQLite's own wait is kept short (SYNC_BUSY_MS); the write tries again, handing the
    // connection on between tries, and a transaction that came meanwhile goes on too.
    witness.pragma('busy_timeout = 0');
    witness.exec('BEGIN IMMEDIATE');
    const plain = k.insertInto('t').values({ x: 1 }).execute().then(() => committed(1));
    const other = new Promise((r) => setTimeout(r, 30)).then(() => insert(2)).then(() => committed(2));
    await new Promise((r) => setTimeout(r, 25));
    witness.exec('COMMIT');
    assert.deepEqual(await Promise.all([plain, other]), [true, true], 'each committed when it returned');
  });

  it('a failing write outside a transaction fails alone; the writes it shared a group with commit', async () => {
    await insert(1);
    const results = await Promise.allSettled([
      k.insertInto('t').values({ x: 2 }).execute(),
      k.insertInto('t').values({ x: 1 }).execute(),
      insert(3),
      k.updateTable('t').set({ x: 4 }).where('x', '=', 1).execute(),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    assert.match(String((results[1] as PromiseRejectedResult).reason), /UNIQUE/);
    assert.deepEqual(rows(), [2, 3, 4]);
  });

  it('a connection used again after a write outside a transaction takes the connection back first', async () => {
    // Kysely's connection(): several statements on one connection. The write hands the
    // connection on while it waits for its COMMIT; the next statement must not run unheld.
    const use = (x: number) => k.connection().execute(async (c) => {
      await c.insertInto('t').values({ x }).execute();
      await c.insertInto('t').values({ x: x + 100 }).execute();
      return (await c.selectFrom('t').select('x').where('x', 'in', [x, x + 100]).execute()).length;
    });
    assert.deepEqual(await Promise.all([use(1), use(2), insert(3).then(() => 'tx'), use(4)]), [2, 2, 'tx', 2]);
    assert.deepEqual(rows(), [1, 2, 3, 4, 101, 102, 104]);
  });

  it('a read outside a transaction sees the writes of transactions that have finished their work', async () => {
    const inTx = insert(7);
    const read = await k.selectFrom('t').select('x').where('x', '=', 7).execute();
    assert.deepEqual(read, [{ x: 7 }]);
    await inTx;
    assert.ok(committed(7));
  });

  describe('reads outside a transaction share one read transaction, never across a wait for I/O', () => {
    // group_commit.ts: a task's plain reads share one snapshot (one pair of read locks);
    // one opened by a task that read a request (request_task.ts) lasts to the check phase.
    const read = async () => (await k.selectFrom('t').select('x').orderBy('x').execute()).map((r) => r.x);
    const taskEnd = () => new Promise<void>((resolve) => atTaskEnd(resolve));
    const checkPhase = () => new Promise<void>((resolve) => setImmediate(resolve));
    // The witness stands for another process: its commit is nothing this process was told of.
    const elsewhere = (x: number) => witness.prepare('insert into t (x) values (?)').run(x);
    /** Whether a TRUNCATE checkpoint (which waits for no reader) finds a reader on the WAL. */
    const readerHoldsWal = () => {
      witness.pragma('busy_timeout = 0');
      return (witness.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[])[0]!.busy === 1;
    };

    it('within one task: one snapshot; the next task sees another process\'s commit', async () => {
      await checkPhase();
      assert.deepEqual(await read(), []);
      elsewhere(1);
      assert.ok(readerHoldsWal(), 'the read transaction is still open');
      assert.deepEqual(await read(), [], 'the same task reads the same snapshot');
      await taskEnd();
      assert.ok(!readerHoldsWal(), 'ended with its task');
      assert.deepEqual(await read(), [1]);
    });

    it('opened by a task that read a request, it lasts to the check phase, never past it', async () => {
      await checkPhase();
      requestArrived();
      assert.deepEqual(await read(), []);
      await taskEnd();
      elsewhere(1);
      assert.deepEqual(await read(), [], 'later tasks of the same poll phase share the snapshot');
      await checkPhase();
      assert.ok(!readerHoldsWal(), 'ended before the loop waits for I/O again');
      assert.deepEqual(await read(), [1]);
    });

    it('a write of this process, on this handle or another, is seen by the next read', async () => {
      await checkPhase();
      requestArrived();
      assert.deepEqual(await read(), []);
      await k.insertInto('t').values({ x: 1 }).execute();
      assert.deepEqual(await read(), [1], 'a write on this handle ends the shared read transaction');
      const other = openDatabase(join(dir, 'alias.db'));
      try {
        await (other.kysely as unknown as Kysely<Scratch>).insertInto('t').values({ x: 2 }).execute();
        assert.deepEqual(await read(), [1, 2], 'so does one on another handle of this process');
        await insert(3);
        assert.deepEqual(await read(), [1, 2, 3], 'and a transaction that opens a group');
      } finally {
        await other.close();
      }
    });
  });

  it('closing the database commits the open group', async () => {
    const inTx = insert(8);
    const closing = db.close();
    await inTx;
    await closing;
    assert.ok(committed(8));
    // afterEach closes again: a second close is a no-op.
  });

  it('a unit that changes many pages keeps their rollback copies in memory, never in a temp file', async () => {
    // Each unit is a savepoint: SQLite keeps the original of every page it changes, for
    // ROLLBACK TO. By default that copy spills to a temp file past 64 KiB, and every later
    // unit of the transaction then writes its pages there (a write call per page; refresh
    // spent a quarter of its CPU on it: bench/README.md). temp_store = MEMORY keeps it in
    // memory (SQLite's own temp files are created and unlinked at once: /proc shows them).
    const tempFiles = () => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return /etilqs_/.test(readlinkSync(`/proc/self/fd/${fd}`));
      } catch {
        return false;
      }
    }).length;
    await sql`create table big (id integer primary key, b blob)`.execute(k);
    await sql`insert into big (b) select randomblob(3000) from (with recursive n(i) as (select 1 union all select i + 1 from n where i < 200) select i from n)`.execute(k);
    let during = -1;
    await k.transaction().execute(async (trx) => {
      // 200 rows of 3 KB: about 600 KiB of existing pages changed in one unit.
      await sql`update big set b = randomblob(3000)`.execute(trx);
      during = tempFiles();
    });
    assert.equal(during, 0, 'no temp file was opened for the rollback copies');
  });

  describe('batched writes', () => {
    // A kind that stores numbers into t, all of a batch in one multi-row INSERT.
    const tries: { n: number; fellBack: boolean }[] = [];
    const numbers: BatchKind<number> = {
      max: 4,
      statements: (xs) => [CompiledQuery.raw(`insert into t (x) values ${xs.map(() => '(?)').join(', ')}`, [...xs])],
      tried: (n, fellBack) => tries.push({ n, fellBack }),
    };
    const batch = (x: number) => db.batch!(numbers, x);
    beforeEach(() => { tries.length = 0; });

    it('join the group of the turn\'s transactions: one COMMIT, each committed when it resolves', async () => {
      const before = { ...db.groupCommit! };
      const seen = await Promise.all([insert(1), batch(2), batch(3), insert(4), batch(5)]
        .map((p, i) => p.then(() => committed(i + 1))));
      assert.deepEqual(seen, [true, true, true, true, true]);
      assert.equal(db.groupCommit!.commits - before.commits, 1);
      assert.equal(db.groupCommit!.units - before.units, 5);
      assert.deepEqual(tries, [{ n: 3, fellBack: false }], 'the three batched numbers in one statement');
    });

    it('alone, open a group of their own; more than `max` are split', async () => {
      const xs = [10, 11, 12, 13, 14, 15];
      await Promise.all(xs.map(batch));
      assert.deepEqual(rows(), xs);
      assert.deepEqual(tries, [{ n: 4, fellBack: false }, { n: 2, fellBack: false }]);
    });

    it('a batch that fails is stored item by item: only the bad one fails, with its own error', async () => {
      await insert(20);
      const results = await Promise.allSettled([21, 20, 22].map(batch));
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
      assert.match(String((results[1] as PromiseRejectedResult).reason), /UNIQUE/);
      assert.deepEqual(rows(), [20, 21, 22]);
      assert.deepEqual(tries, [{ n: 0, fellBack: true }, { n: 1, fellBack: false }, { n: 1, fellBack: false }]);
    });

    it('a group that fails at COMMIT fails its batched writes too', async () => {
      const results = await Promise.allSettled([
        batch(30),
        k.transaction().execute((trx) => trx.insertInto('child').values({ parent: 99 }).execute()),
      ]);
      assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
      assert.match(String((results[0] as PromiseRejectedResult).reason), /FOREIGN KEY/);
      assert.deepEqual(rows(), []);
    });

    it('closing the database commits batched writes; after it, a batch is refused', async () => {
      const pending = batch(40);
      await db.close();
      await pending;
      assert.ok(committed(40));
      await assert.rejects(batch(41), /closed/);
    });
  });

  // Rows are built in JavaScript from a raw-mode statement (src/store/sqlite/rows.ts): they
  // must be the objects better-sqlite3 itself makes, whatever the schema does meanwhile.
  describe('rows', () => {
    const read = (q: string) => k.executeQuery(CompiledQuery.raw(q, [])).then((r) => r.rows);

    it('are keyed by column name, the later of two same-named columns winning, as better-sqlite3 does', async () => {
      await insert(7);
      const query = 'select x, x + 1 as y, null as n, \'a\' as x2, 5 as x2 from t';
      assert.deepEqual(await read(query), witness.prepare(query).all());
      assert.deepEqual(await read(query), [{ x: 7, y: 8, n: null, x2: 5 }]);
      assert.deepEqual(await read('select x from t where x = 999'), []);
    });

    it('follow a column another connection adds under a prepared select *', async () => {
      // Each read after the other connection's change in a later task: a read transaction
      // opened outside a request ends with its task (group_commit.ts).
      const nextTask = () => new Promise((resolve) => setImmediate(resolve));
      await insert(1);
      assert.deepEqual(await read('select * from t'), [{ x: 1 }]);
      await nextTask();
      witness.exec('alter table t add column label text default \'new\'');
      assert.deepEqual(await read('select * from t'), [{ x: 1, label: 'new' }]);
      await nextTask();
      witness.exec('alter table t drop column label');
      assert.deepEqual(await read('select * from t'), [{ x: 1 }]);
    });
  });
});
