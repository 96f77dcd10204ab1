// Where SQLite and PostgreSQL differ, in one object: the store's SQL (sql/) is written
// once and asks the dialect at each of these points instead of testing which database
// it runs on. The implementations are sqlite/dialect.ts and postgres/dialect.ts.
import type { Kysely, SelectQueryBuilder } from 'kysely';
import type { Database } from './schema.js';
import type { Db, OpenOptions } from './db.js';

export type DialectName = 'sqlite' | 'postgres';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnySelect = SelectQueryBuilder<any, any, any>;

export interface Dialect {
  /** Also keys the compiled hot queries (compiled.ts): one compilation per dialect. */
  readonly name: DialectName;
  /** Opens the database at `location`: a SQLite file path, or a postgres:// URL. */
  open(location: string, opts: OpenOptions): Db;
  /**
   * The schema Kysely keeps its migration bookkeeping in. PostgreSQL names the current
   * one, so another schema in the same database is never mistaken for ours; SQLite has none.
   */
  migrationTableSchema(k: Kysely<Database>): Promise<string | undefined>;
  /**
   * `… FOR UPDATE`: the rows read stay locked until the transaction ends (PostgreSQL).
   * SQLite runs write transactions one at a time and needs no row lock: `q` unchanged.
   */
  forUpdate<Q extends AnySelect>(q: Q): Q;
  /**
   * `… FOR UPDATE SKIP LOCKED`: rows another transaction is changing right now are
   * skipped, not waited for (queues, purges on several nodes). SQLite: `q` unchanged.
   */
  skipLocked<Q extends AnySelect>(q: Q): Q;
  /** An INSERT may run inside WITH, so two inserts are one atomic statement (PostgreSQL). */
  readonly writableCte: boolean;
  /**
   * Runs a transaction (`once`) and, where the database aborts one and asks for it to be
   * run again (PostgreSQL deadlocks, serialization failures), runs it again.
   */
  retrying<T>(once: () => Promise<T>): Promise<T>;
}
