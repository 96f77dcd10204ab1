// Opens the database named by --db / ALIAS_DB: a SQLite file path (embedded default)
// or a postgres:// URL. Both speak through one Kysely code base; what differs between
// them is the Dialect (dialect.ts).
import { Migrator, sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';
import { migrationProvider } from './migrations/index.js';
import type { ReadCache } from './sqlite/read_cache.js';
import type { BatchKind, GroupCommitStats } from './sqlite/group_commit.js';
import type { CheckpointOptions, CheckpointStats } from './sqlite/checkpointer.js';
import type { Dialect } from './dialect.js';
import { sqlite } from './sqlite/dialect.js';
import { postgres } from './postgres/dialect.js';

export interface Db {
  kysely: Kysely<Database>;
  dialect: Dialect;
  /** Human-readable location (file path or URL without password). */
  location: string;
  /**
   * Cached client and failure-counter reads: SQLite checks data_version (sqlite/read_cache.ts),
   * PostgreSQL listens for change notifications (postgres/notified_cache.ts).
   */
  readCache?: ReadCache;
  /** SQLite only: how transactions were grouped into commits. */
  groupCommit?: GroupCommitStats;
  /** SQLite only: stores `item` with the others of its kind at the next group commit. */
  batch?<T>(kind: BatchKind<T>, item: T): Promise<void>;
  /** SQLite only: the WAL checkpoints taken off the request path (sqlite/checkpointer.ts). */
  checkpoints?: CheckpointStats;
  close(): Promise<void>;
}

export function isPostgresUrl(location: string): boolean {
  return /^postgres(ql)?:\/\//i.test(location);
}

export interface OpenOptions {
  /** PostgreSQL schema to use (tests isolate themselves this way). */
  schema?: string;
  poolSize?: number;
  /** SQLite only: checkpoint interval and WAL limit (tests make them small). */
  walCheckpoint?: CheckpointOptions;
}

export function openDatabase(location: string, opts: OpenOptions = {}): Db {
  return (isPostgresUrl(location) ? postgres : sqlite).open(location, opts);
}

/** Kysely's default name for its bookkeeping table. */
const MIGRATION_TABLE = 'kysely_migration';

export async function migrate(db: Db): Promise<string[]> {
  // Kysely looks for its bookkeeping tables in every schema; name ours, so another
  // schema in the same database (another app, another test) is never mistaken for it.
  const migrationTableSchema = await db.dialect.migrationTableSchema(db.kysely);
  // Up to date (every node start, every CLI command): read our own bookkeeping table and
  // leave the Migrator alone. Its table check scans the catalog of every schema in the
  // database, which costs time there and fails when another session drops a schema
  // meanwhile (below).
  if (await upToDate(db.kysely, migrationTableSchema)) return [];
  const migrator = new Migrator({ db: db.kysely, provider: migrationProvider, migrationTableSchema });
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await migrator.migrateToLatest();
    if (!error) return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
    // PostgreSQL: the scan reads every schema's catalog while other sessions may change
    // theirs (a dropped schema: 3F000 from has_schema_privilege(); a table altered or
    // dropped: 42703 or 42P01 from pg_get_serial_sequence()). It comes before any migration
    // runs, so when no migration has a result nothing was applied: try again.
    if (attempt < 5 && results === undefined && catalogRace(error)) continue;
    throw error instanceof Error ? error : new Error(String(error));
  }
}

async function upToDate(k: Kysely<Database>, schema: string | undefined): Promise<boolean> {
  const table = schema ? sql.id(schema, MIGRATION_TABLE) : sql.id(MIGRATION_TABLE);
  let applied: string[];
  try {
    applied = (await sql<{ name: string }>`select name from ${table}`.execute(k)).rows.map((r) => r.name);
  } catch {
    return false; // a new database: no bookkeeping table yet
  }
  const known = Object.keys(await migrationProvider.getMigrations());
  // A migration the code does not know (a newer version ran here) is the Migrator's to report.
  return applied.length === known.length && known.every((name) => applied.includes(name));
}

function catalogRace(error: unknown): boolean {
  return ['3F000', '42703', '42P01'].includes((error as { code?: string })?.code ?? '');
}
