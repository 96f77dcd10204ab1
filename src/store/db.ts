// Opens the database named by --db / ALIAS_DB: a SQLite file path (embedded default)
// or a postgres:// URL. Both speak through one Kysely code base; what differs between
// them is the Dialect (dialect.ts).
import { Migrator, type Kysely } from 'kysely';
import type { Database } from './schema.js';
import { migrationProvider } from './migrations/index.js';
import type { ReadCache } from './sqlite/read_cache.js';
import type { GroupCommitStats } from './sqlite/group_commit.js';
import type { Dialect } from './dialect.js';
import { sqlite } from './sqlite/dialect.js';
import { postgres } from './postgres/dialect.js';

export interface Db {
  kysely: Kysely<Database>;
  dialect: Dialect;
  /** Human-readable location (file path or URL without password). */
  location: string;
  /** SQLite only: cached client and failure-counter reads (sqlite/read_cache.ts). */
  readCache?: ReadCache;
  /** SQLite only: how transactions were grouped into commits. */
  groupCommit?: GroupCommitStats;
  close(): Promise<void>;
}

export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

export interface OpenOptions {
  /** PostgreSQL schema to use (tests isolate themselves this way). */
  schema?: string;
  poolSize?: number;
}

export function openDatabase(location: string, opts: OpenOptions = {}): Db {
  return (isPostgresUrl(location) ? postgres : sqlite).open(location, opts);
}

export async function migrate(db: Db): Promise<string[]> {
  // Kysely looks for its bookkeeping tables in every schema; name ours, so another
  // schema in the same database (another app, another test) is never mistaken for it.
  const migrationTableSchema = await db.dialect.migrationTableSchema(db.kysely);
  const migrator = new Migrator({ db: db.kysely, provider: migrationProvider, migrationTableSchema });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
