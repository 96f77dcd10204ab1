// The SQLite read cache (src/store/sqlite/read_cache.ts): a write empties the entries of
// its own table only (issue 17: a sign-in's four failure-counter writes emptied the cached
// clients too, so every sign-in read its client again), and still no entry is served after
// a change to it (DESIGN: caches never serve stale or negative answers after a change).
import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { createReadCache, ScopedEntries, type ReadCache } from '../../src/store/sqlite/read_cache.js';

describe('SQLite read cache: scopes', () => {
  let dir: string;
  let db: SQLite.Database;
  let other: SQLite.Database;
  let cache: ReadCache;
  /** The transaction reads run in: a new number stands for a new read transaction. */
  let transaction = 1;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'alias-read-cache-'));
    db = new SQLite(join(dir, 'x.db'));
    db.pragma('journal_mode = WAL');
    db.exec('create table t (x integer)');
    other = new SQLite(join(dir, 'x.db'));
    cache = createReadCache(db, () => transaction);
  });

  afterEach(() => {
    other.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Looks `key` up; on a miss fills `value` (as a read of the row would) and says so. */
  function read(key: string, value: string): 'hit' | 'miss' {
    const found = cache.lookup<string>(key);
    if (found.hit) return 'hit';
    found.fill(value);
    return 'miss';
  }

  it('a write to failure counters keeps the cached clients; a write to clients empties them', () => {
    assert.equal(read('client:a', 'A'), 'miss');
    assert.equal(read('throttle:k', '1'), 'miss');
    assert.equal(read('client:a', 'A'), 'hit');
    cache.changed('throttle');
    assert.equal(read('client:a', 'A'), 'hit', 'a counter write leaves the client cached');
    assert.equal(read('throttle:k', '2'), 'miss', 'and empties the counters');
    cache.changed('client');
    assert.equal(read('client:a', 'A2'), 'miss', 'a client write empties the clients');
    assert.equal(read('throttle:k', '2'), 'hit', 'and leaves the counters');
    cache.changed();
    assert.equal(read('client:a', 'A2'), 'miss', 'a change to anything (a group lost) empties all');
    assert.equal(read('throttle:k', '2'), 'miss');
  });

  it('a read that overlapped a write to its table does not fill; one to another table does', () => {
    const overlapped = cache.lookup<string>('client:b');
    assert.equal(overlapped.hit, false);
    cache.changed('client');
    if (!overlapped.hit) overlapped.fill('old B');
    assert.equal(read('client:b', 'new B'), 'miss', 'the value read before the write was not kept');

    const unrelated = cache.lookup<string>('client:c');
    cache.changed('throttle');
    if (!unrelated.hit) unrelated.fill('C');
    assert.equal(read('client:c', 'C'), 'hit');

    const everything = cache.lookup<string>('client:d');
    cache.changed();
    if (!everything.hit) everything.fill('D');
    assert.equal(read('client:d', 'D'), 'miss');
  });

  it("another process's commit empties every scope at the next read transaction", () => {
    assert.equal(read('client:a', 'A'), 'miss');
    assert.equal(read('throttle:k', '1'), 'miss');
    other.prepare('insert into t (x) values (1)').run();
    assert.equal(read('client:a', 'A'), 'hit', 'the same read transaction: what it saw stands');
    transaction++;
    assert.equal(read('client:a', 'A'), 'miss');
    assert.equal(read('throttle:k', '1'), 'miss');
  });

  it('keeps at most 10,000 entries across scopes', () => {
    const entries = new ScopedEntries<number>();
    for (let i = 0; i < 6_000; i++) entries.set(`client:${i}`, i);
    for (let i = 0; i < 4_000; i++) entries.set(`throttle:${i}`, i);
    assert.ok(entries.has('client:0') && entries.has('throttle:3999'));
    entries.clear('throttle');
    for (let i = 0; i < 4_000; i++) entries.set(`throttle:${i}`, i);
    assert.ok(entries.has('client:0'), 'emptying a scope counted its entries out');
    entries.set('throttle:one-too-many', 1);
    assert.ok(!entries.has('client:0'), 'full: emptied before the next');
    assert.ok(entries.has('throttle:one-too-many'));
  });
});
