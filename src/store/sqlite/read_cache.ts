// A read cache for the rows every token request reads on SQLite (the client, its failure
// counter): at most one `PRAGMA data_version` per read transaction instead of a query and
// a row decode. It never serves a stale row (DESIGN: caches never serve stale or negative
// answers after a change):
// - another process's commit (`aliasid client …`, a worker) changes the connection's
//   data_version, which empties the cache at the first read of the next transaction (a
//   read transaction never spans a wait for I/O: group_commit.ts);
// - this process's writes to a cached table go through the store, which calls `changed()`
//   with the table's scope before and after writing; a read that overlapped a write to
//   its scope does not fill the cache;
// - reads inside a transaction neither fill nor use it (they may see uncommitted rows).
// PostgreSQL has no per-connection change counter to ask; it is told of changes instead
// (postgres/notified_cache.ts).
import type SQLite from 'better-sqlite3';

const MAX_ENTRIES = 10_000;

export interface ReadCache {
  /** The cached value for `key`, or a miss; `fill` stores what a miss then read. */
  lookup<T>(key: string): { hit: true; value: T | undefined } | { hit: false; fill(value: T | undefined): void };
  /**
   * A write is about to happen, or just happened: to the rows of `scope` (the keys'
   * prefix before the first colon: `client`, `throttle`), or to anything when none is named.
   */
  changed(scope?: string): void;
  /**
   * Where the cache must first learn of changes made elsewhere (PostgreSQL): await before a
   * hit is used, then look the key up again (a miss needs no wait; sql/context.ts).
   */
  sync?(): Promise<void>;
}

/**
 * The entries of a read cache, by scope (the key's prefix): a write to one table empties
 * that table's entries only. A sign-in writes its failure counters four times, and each
 * emptied the cached clients too, so every sign-in read its client again (issue 17).
 * `generation(key)` changes whenever the key's scope is emptied: a read that began before
 * must not fill.
 */
export class ScopedEntries<V> {
  readonly #scopes = new Map<string, { entries: Map<string, V>; cleared: number }>();
  #size = 0;
  /** Counts every emptying; each scope remembers its last, and so does emptying them all. */
  #clock = 0;
  #allCleared = 0;

  static scopeOf(key: string): string {
    const colon = key.indexOf(':');
    return colon < 0 ? key : key.slice(0, colon);
  }

  #scope(name: string) {
    let scope = this.#scopes.get(name);
    if (!scope) {
      scope = { entries: new Map(), cleared: 0 };
      this.#scopes.set(name, scope);
    }
    return scope;
  }

  /** A number that changes whenever `key`'s scope is emptied. */
  generation(key: string): number {
    return Math.max(this.#allCleared, this.#scope(ScopedEntries.scopeOf(key)).cleared);
  }

  has(key: string): boolean {
    return this.#scopes.get(ScopedEntries.scopeOf(key))?.entries.has(key) ?? false;
  }

  get(key: string): V | undefined {
    return this.#scopes.get(ScopedEntries.scopeOf(key))?.entries.get(key);
  }

  set(key: string, value: V): void {
    if (this.#size >= MAX_ENTRIES) this.clear();
    const entries = this.#scope(ScopedEntries.scopeOf(key)).entries;
    if (!entries.has(key)) this.#size++;
    entries.set(key, value);
  }

  /** Empties `scope`'s entries, or all of them. */
  clear(scope?: string): void {
    this.#clock++;
    if (scope === undefined) {
      this.#allCleared = this.#clock;
      for (const s of this.#scopes.values()) s.entries.clear();
      this.#size = 0;
      return;
    }
    const s = this.#scope(scope);
    s.cleared = this.#clock;
    this.#size -= s.entries.size;
    s.entries.clear();
  }
}

/**
 * `snapshot` names the transaction the handle's reads run in now, opening a shared read one
 * if none is open (group_commit.ts): within one transaction no other process's commit is
 * seen, so data_version is asked once per transaction, in it.
 */
export function createReadCache(sqlite: SQLite.Database, snapshot: () => number): ReadCache {
  const dataVersion = sqlite.prepare('PRAGMA data_version').pluck();
  const entries = new ScopedEntries<unknown>();
  let seenVersion = -1;
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
      const gen = entries.generation(key);
      return {
        hit: false as const,
        fill(value: T | undefined) {
          // Only if nothing changed since the read began, here (in its scope) or elsewhere.
          if (gen !== entries.generation(key) || version !== seenVersion) return;
          entries.set(key, value);
        },
      };
    },
    changed(scope) {
      entries.clear(scope);
    },
  };
}
