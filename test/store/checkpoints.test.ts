// WAL checkpoints off the request path (src/store/sqlite/checkpointer.ts, issue 17 §3):
// no commit of the serving connection checkpoints (wal_autocheckpoint = 0); a worker
// thread copies the WAL into the database after writes; under sustained writes with no
// lull the WAL stays bounded (writers pause for a RESTART checkpoint past the limit);
// and the worker neither keeps a process alive nor outlives `close()`.
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { openDatabase, type Db } from '../../src/store/db.js';

interface Scratch { t: { x: number; pad: string } }
const PAGE = 4096;

describe('SQLite checkpoints on a worker thread', () => {
  let dir: string;
  let db: Db | undefined;
  afterEach(async () => {
    await db?.close();
    db = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  async function open(walCheckpoint: { intervalMs: number; limitFrames?: number }) {
    dir = mkdtempSync(join(tmpdir(), 'alias-ckpt-'));
    const file = join(dir, 'alias.db');
    db = openDatabase(file, { walCheckpoint });
    const k = db.kysely as unknown as Kysely<Scratch>;
    await sql`create table t (x integer primary key, pad text)`.execute(k);
    // A group of 20 transactions in one event-loop turn: one commit of a few dozen pages.
    let next = 0;
    const group = () => Promise.all(Array.from({ length: 20 }, () => {
      const x = next++;
      return k.transaction().execute((trx) => trx.insertInto('t').values({ x, pad: 'p'.repeat(500) }).execute());
    }));
    const walPages = () => Math.ceil(statSync(`${file}-wal`).size / PAGE);
    return { k, file, group, walPages, count: async () => (await sql<{ n: number }>`select count(*) as n from t`.execute(k)).rows[0]!.n };
  }

  it('after writes the worker checkpoints, and the next write starts the WAL over', async () => {
    const s = await open({ intervalMs: 20 });
    const { rows } = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(s.k);
    assert.equal(rows[0]!.wal_autocheckpoint, 0, 'no commit of the serving connection checkpoints');
    for (let i = 0; i < 30; i++) await s.group();
    const grown = s.walPages();
    const until = Date.now() + 5_000;
    while (db!.checkpoints!.passive === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    assert.ok(db!.checkpoints!.passive > 0, 'a PASSIVE checkpoint ran on the worker');
    // Everything was copied during the lull: the next commit writes from the WAL's start,
    // so the file does not grow by another commit's worth.
    await new Promise((r) => setTimeout(r, 100));
    await s.group();
    assert.equal(s.walPages(), grown, 'the WAL was reused, not extended');
    assert.equal(await s.count(), 620);
  });

  it('sustained writes with no lull keep the WAL near its limit (RESTART checkpoints with writers paused)', async () => {
    const limitFrames = 200;
    const s = await open({ intervalMs: 10, limitFrames });
    let maxPages = 0;
    let groups = 0;
    // One group after another, back to back: the WAL is never fully copied when a write
    // begins. Long enough for an unbounded WAL to pass its limit many times over.
    const until = Date.now() + 15_000;
    while (Date.now() < until && (groups < 200 || db!.checkpoints!.restarts < 3)) {
      await s.group();
      groups++;
      maxPages = Math.max(maxPages, s.walPages());
    }
    const { restarts, maxFrames, inline } = db!.checkpoints!;
    assert.equal(inline, false, 'the worker kept running');
    assert.ok(restarts > 0, `the WAL passed ${limitFrames} pages and was restarted (${restarts} times)`);
    // The limit, plus what commits add between two checkpoints and during the RESTART (a
    // loaded machine slows the worker): far below what all the groups wrote.
    assert.ok(maxPages < limitFrames * 6, `the WAL file stayed bounded: at most ${maxPages} pages (checkpoints saw ${maxFrames}) after ${groups} groups`);
  });

  it('the worker does not keep a process alive, and close() ends it', async () => {
    dir = mkdtempSync(join(tmpdir(), 'alias-ckpt-'));
    const script = `
      import { openDatabase } from ${JSON.stringify(new URL('../../src/store/db.ts', import.meta.url).href)};
      import { sql } from 'kysely';
      const db = openDatabase(${JSON.stringify(join(dir, 'a.db'))}, { walCheckpoint: { intervalMs: 5 } });
      await sql\`create table t (x integer)\`.execute(db.kysely);
      await sql\`insert into t values (1)\`.execute(db.kysely);
      for (let i = 0; i < 500 && !db.checkpoints.passive; i++) await new Promise((r) => setTimeout(r, 10));
      if (!db.checkpoints.passive) throw new Error('no checkpoint ran');
      // Left open on purpose: the unref'd timer and worker must not hold the process.
    `;
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 0, r.stderr);
  });
});
