// A read cache for the rows every token request reads on SQLite (the client, its failure
// counter): at most one `PRAGMA data_version` per read transaction instead of a query and
// a row decode. It never serves a stale row (DESIGN: caches never serve stale or negative
// answers after a change):
// - another process's commit (`aliasid client …`, a worker) changes the connection's
//   data_version, which empties the cache at the first read of the next transaction (a
//   read transaction never spans a wait for I/O: group_commit.ts);
// - this process's writes to a cached table go through the store, which calls `changed()`
//   before and after writing; a read that overlapped a write does not fill the cache;
// - reads inside a transaction neither fill nor use it (they may see uncommitted rows).
// PostgreSQL has no per-connection change counter to ask; it is told of changes instead
// (postgres/notified_cache.ts).
import type SQLite from 'better-sqlite3';

const MAX_ENTRIES = 10_000;

export interface ReadCache {
  /** The cached value for `key`, or a miss; `fill` stores what a miss then read. */
  lookup<T>(key: string): { hit: true; value: T | undefined } | { hit: false; fill(value: T | undefined): void };
  /** A write to a cached table is about to happen, or just happened. */
  changed(): void;
  /**
   * Where the cache must first learn of changes made elsewhere (PostgreSQL): await before a
   * hit is used, then look the key up again (a miss needs no wait; sql/context.ts).
   */
  sync?(): Promise<void>;
}

/**
 * `snapshot` names the transaction the handle's reads run in now, opening a shared read one
 * if none is open (group_commit.ts): within one transaction no other process's commit is
 * seen, so data_version is asked once per transaction, in it.
 */
export function createReadCache(sqlite: SQLite.Database, snapshot: () => number): ReadCache {
  const dataVersion = sqlite.prepare('PRAGMA data_version').pluck();
  const entries = new Map<string, unknown>();
  let seenVersion = -1;
  let generation = 0;
  let checkedIn = -1;

  function fresh(): number {
    const current = snapshot();
    if (current === checkedIn) return seenVersion;
    checkedIn = current;
    const v = dataVersion.get() as number;
    if (v !== seenVersion) {
      entries.clear();
      seenVersion = v;
    }
    return v;
  }

  return {
    lookup<T>(key: string) {
      const version = fresh();
      if (entries.has(key)) return { hit: true as const, value: entries.get(key) as T | undefined };
      const gen = generation;
      return {
        hit: false as const,
        fill(value: T | undefined) {
          // Only if nothing changed since the read began, here or elsewhere.
          if (gen !== generation || version !== seenVersion) return;
          if (entries.size >= MAX_ENTRIES) entries.clear();
          entries.set(key, value);
        },
      };
    },
    changed() {
      generation++;
      entries.clear();
    },
  };
}
