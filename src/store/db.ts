// Opens the database named by --db / ALIAS_DB: a SQLite file path (embedded default)
// or a postgres:// URL. Both speak through one Kysely code base.
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import type { Database } from './schema.js';
import { migrationProvider } from './migrations/index.js';
import { createReadCache, type ReadCache } from './sqlite/read_cache.js';
import { createPgPool } from './postgres/pool.js';
import { groupCommitDialect, type GroupCommitStats } from './sqlite/group_commit.js';

export type DialectName = 'sqlite' | 'postgres';

export interface Db {
  kysely: Kysely<Database>;
  dialect: DialectName;
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

// PostgreSQL returns int8 as strings; every bigint we store is epoch milliseconds,
// well inside Number's exact range.
pg.types.setTypeParser(20, (v) => Number(v));

export interface OpenOptions {
  /** PostgreSQL schema to use (tests isolate themselves this way). */
  schema?: string;
  poolSize?: number;
}

export function openDatabase(location: string, opts: OpenOptions = {}): Db {
  if (isPostgresUrl(location)) {
    const pool = createPgPool(location, { max: opts.poolSize ?? 10, schema: opts.schema });
    const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return { kysely, dialect: 'postgres', location: redactUrl(location), close: () => kysely.destroy() };
  }
  const file = resolve(location);
  mkdirSync(dirname(file), { recursive: true });
  const sqlite = new SQLite(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  // Admin commands run while `serve` holds the file: wait for a writer, never fail at
  // once. Beyond this, SQLITE_BUSY is answered 503 + Retry-After (store/unavailable.ts).
  sqlite.pragma('busy_timeout = 5000');
  // Token tables outgrow the default 2 MiB page cache within minutes of traffic; with an 8 MiB
  // the working set cached, lookups and inserts stop re-reading pages (bench/README.md).
  sqlite.pragma('cache_size = -8192');
  const readCache = createReadCache(sqlite);
  // Concurrent transactions share one commit (sqlite/group_commit.ts); a group whose
  // writes are lost takes what reads cached from it along.
  const dialect = groupCommitDialect(sqlite, () => readCache.changed());
  const kysely = new Kysely<Database>({ dialect });
  return { kysely, dialect: 'sqlite', location: file, readCache, groupCommit: dialect.stats,
    close: () => kysely.destroy() };
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

export async function migrate(db: Db): Promise<string[]> {
  // Kysely looks for its bookkeeping tables in every schema; name ours, so another
  // schema in the same database (another app, another test) is never mistaken for it.
  const migrationTableSchema = db.dialect === 'postgres'
    ? (await sql<{ s: string }>`select current_schema() as s`.execute(db.kysely)).rows[0]?.s
    : undefined;
  const migrator = new Migrator({ db: db.kysely, provider: migrationProvider, migrationTableSchema });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
