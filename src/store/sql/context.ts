// What every repository under sql/ is built from: the connection or transaction its
// statements run on, the dialect, the hot-query runner (compiled.ts) and the SQLite
// read cache. createSqlStore (index.ts) makes one per store and one per transaction.
import type { Compilable, Kysely, QueryResult, Transaction } from 'kysely';
import type { Database } from '../schema.js';
import type { Db } from '../db.js';
import type { Dialect } from '../dialect.js';
import { runShape, type Args } from '../compiled.js';
import { UniqueViolation, type Store } from '../store.js';

/** Builds a hot query's fixed shape (compiled once per dialect). */
export type ShapeOf = (b: Kysely<Database>) => Compilable;

export interface Sql {
  /** The connection, or the transaction this store runs in. */
  k: Kysely<Database> | Transaction<Database>;
  handle: Db;
  dialect: Dialect;
  inTx: boolean;
  /** A hot, fixed-shape query: compiled once per dialect (compiled.ts). */
  run<R>(name: string, shape: ShapeOf, args: Args): Promise<QueryResult<R>>;
  /** As run, the first row. */
  first<R>(name: string, shape: ShapeOf, args: Args): Promise<R | undefined>;
  /** A read through the SQLite read cache (sqlite/read_cache.ts); never inside a transaction. */
  cachedRead<T>(key: string, read: () => Promise<T | undefined>): Promise<T | undefined>;
  /** Every write to a cached table goes through here, with the table's cache scope (the keys' prefix). */
  writing<T>(scope: 'client' | 'throttle', run: () => Promise<T>): Promise<T>;
  /** The store's own transaction(), for a repository method that must be atomic on its own. */
  transaction: Store['transaction'];
}

/** Cached rows are shared by every reader: frozen, so no caller can change them. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

export function sqlContext(k: Kysely<Database> | Transaction<Database>, handle: Db, inTx: boolean,
  transaction: Store['transaction']): Sql {
  const dialect = handle.dialect;
  const run = <R>(name: string, shape: ShapeOf, args: Args) => runShape<R>(k, dialect.name, name, shape, args);
  // Cached reads (SQLite): never inside a transaction, which may see uncommitted rows.
  const cache = inTx ? undefined : handle.readCache;
  return {
    k, handle, dialect, inTx, run, transaction,
    first: async <R>(name: string, shape: ShapeOf, args: Args) => (await run<R>(name, shape, args)).rows[0],
    async cachedRead<T>(key: string, read: () => Promise<T | undefined>): Promise<T | undefined> {
      if (!cache) return read();
      let found = cache.lookup<T>(key);
      // PostgreSQL: a hit counts only after the barrier (postgres/notified_cache.ts). A miss
      // stays one, since a barrier only ever empties entries: it reads at once.
      if (found.hit && cache.sync) {
        await cache.sync();
        found = cache.lookup<T>(key);
      }
      if (found.hit) return found.value;
      const value = await read();
      found.fill(value === undefined ? value : deepFreeze(value));
      return value;
    },
    async writing<T>(scope: 'client' | 'throttle', run: () => Promise<T>): Promise<T> {
      handle.readCache?.changed(scope);
      try {
        return await run();
      } finally {
        handle.readCache?.changed(scope);
      }
    },
  };
}

/** A JSON list column (lists are JSON text, so one schema serves both databases). */
export const list = (text: string): string[] => JSON.parse(text) as string[];

export const json = (v: unknown): string => JSON.stringify(v);

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Runs an insert; a duplicate key becomes UniqueViolation(`what`). */
export async function insertOrConflict(what: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (err) {
    if (isUniqueViolation(err)) throw new UniqueViolation(what);
    throw err;
  }
}
