// SQLite (the embedded default): one better-sqlite3 handle behind group commit
// (group_commit.ts) and a read cache (read_cache.ts). Write transactions run one at a
// time, so there are no row locks to take or skip and no aborted transaction to rerun.
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Kysely } from 'kysely';
import SQLite from 'better-sqlite3';
import type { Database } from '../schema.js';
import type { Dialect } from '../dialect.js';
import { createReadCache } from './read_cache.js';
import { groupCommitDialect, SYNC_BUSY_MS } from './group_commit.js';
import { startCheckpointer } from './checkpointer.js';

/**
 * The database holds password hashes, e-mail addresses and the pairwise salt (issue 16
 * item 10): a data directory Alias creates is 0700, and the file is created 0600 before
 * SQLite opens it (SQLite gives its -wal and -shm files the main file's permissions). An
 * existing file, -wal or -shm readable by group or others is tightened to 0600 (permissions
 * are only ever taken away); an existing directory is left as it is (it may be shared).
 */
function privateFiles(file: string) {
  if (!existsSync(dirname(file))) mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  try {
    closeSync(openSync(file, 'wx', 0o600));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  for (const f of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      const mode = statSync(f).mode & 0o777;
      if (mode & 0o077) chmodSync(f, mode & 0o700);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Not there yet, or not ours to change (EPERM): SQLite's own permission check decides.
      if (code !== 'ENOENT' && code !== 'EPERM') throw err;
    }
  }
}

export const sqlite: Dialect = {
  name: 'sqlite',
  open(location, opts) {
    const file = resolve(location);
    privateFiles(file);
    const db = new SQLite(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // Admin commands run while `serve` holds the file: wait for a writer, never fail at
    // once, but never freeze the event loop for long: SQLite waits SYNC_BUSY_MS, the group
    // commit driver retries asynchronously for up to BUSY_PATIENCE_MS (5 s). Beyond that,
    // SQLITE_BUSY is answered 503 + Retry-After (store/unavailable.ts).
    db.pragma(`busy_timeout = ${SYNC_BUSY_MS}`);
    // Token tables outgrow the default 2 MiB page cache within minutes of traffic; with an 8 MiB
    // the working set cached, lookups and inserts stop re-reading pages (bench/README.md).
    db.pragma('cache_size = -8192');
    // Every transaction is a savepoint in a group (group_commit.ts), and SQLite keeps the
    // original of each page a savepoint changes, for ROLLBACK TO. By default that copy
    // spills to a temp file past 64 KiB, and from then on each page of each later unit is
    // a write call: a quarter of a refresh's CPU (bench/README.md). In memory it is freed
    // at each RELEASE. Alias's other temp structures are bounded by their queries' results
    // or LIMITs (sorts of listed rows, a purge's batch of keys).
    db.pragma('temp_store = MEMORY');
    // Concurrent transactions share one commit (group_commit.ts); a group whose
    // writes are lost takes what reads cached from it along.
    const dialect = groupCommitDialect(db, () => readCache.changed());
    const readCache = createReadCache(db, () => dialect.snapshot());
    const kysely = new Kysely<Database>({ dialect });
    // Checkpoints run on a worker thread, not inside a commit on the event loop (checkpointer.ts).
    const stats = dialect.stats;
    const checkpointer = startCheckpointer(db, file, {
      writes: () => stats.commits + stats.autocommits,
      exclusive: (fn) => dialect.exclusive(fn),
    }, opts.walCheckpoint);
    return { kysely, dialect: sqlite, location: file, readCache, groupCommit: stats,
      batch: (kind, item) => dialect.batch(kind, item), checkpoints: checkpointer.stats,
      close: async () => {
        await checkpointer.close();
        await kysely.destroy();
      } };
  },
  migrationTableSchema: async () => undefined,
  forUpdate: (q) => q,
  skipLocked: (q) => q,
  writableCte: false,
  retrying: (once) => once(),
};
