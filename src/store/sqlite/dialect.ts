// SQLite (the embedded default): one better-sqlite3 handle behind group commit
// (group_commit.ts) and a read cache (read_cache.ts). Write transactions run one at a
// time, so there are no row locks to take or skip and no aborted transaction to rerun.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Kysely } from 'kysely';
import SQLite from 'better-sqlite3';
import type { Database } from '../schema.js';
import type { Dialect } from '../dialect.js';
import { createReadCache } from './read_cache.js';
import { groupCommitDialect } from './group_commit.js';

export const sqlite: Dialect = {
  name: 'sqlite',
  open(location) {
    const file = resolve(location);
    mkdirSync(dirname(file), { recursive: true });
    const db = new SQLite(file);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    // Admin commands run while `serve` holds the file: wait for a writer, never fail at
    // once. Beyond this, SQLITE_BUSY is answered 503 + Retry-After (store/unavailable.ts).
    db.pragma('busy_timeout = 5000');
    // Token tables outgrow the default 2 MiB page cache within minutes of traffic; with an 8 MiB
    // the working set cached, lookups and inserts stop re-reading pages (bench/README.md).
    db.pragma('cache_size = -8192');
    const readCache = createReadCache(db);
    // Concurrent transactions share one commit (group_commit.ts); a group whose
    // writes are lost takes what reads cached from it along.
    const dialect = groupCommitDialect(db, () => readCache.changed());
    const kysely = new Kysely<Database>({ dialect });
    return { kysely, dialect: sqlite, location: file, readCache, groupCommit: dialect.stats,
      close: () => kysely.destroy() };
  },
  migrationTableSchema: async () => undefined,
  forUpdate: (q) => q,
  skipLocked: (q) => q,
  writableCte: false,
  retrying: (once) => once(),
};
