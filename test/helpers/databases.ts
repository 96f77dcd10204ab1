// The databases every store-backed test runs on: SQLite always, PostgreSQL when it is
// reachable. In CI (CI=true) an unreachable PostgreSQL is a failure, never a skip.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { spawnSync } from 'node:child_process';

export const PG_URL = process.env.ALIAS_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  /** Value for --db / Config.db. */
  location: string;
  /** PostgreSQL schema isolating this test (undefined for SQLite). */
  schema?: string;
  /** Environment for child processes (aliasid CLI) so they use the same database. */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

export interface DatabaseKind {
  name: 'sqlite' | 'postgres';
  /** Undefined when the kind is not available here (and may be skipped). */
  skip?: string;
  create(): Promise<TestDatabase>;
}

// node:test in Node 20 ignores suites declared after a top-level await, so the check is
// synchronous: a child process tries to connect.
let pgSkip: { why: string | undefined } | undefined;
function checkPostgres(): string | undefined {
  const script = `const pg=require('pg');const c=new pg.Client({connectionString:process.argv[1],connectionTimeoutMillis:3000});` +
    `c.connect().then(()=>c.query('select 1')).then(()=>process.exit(0),(e)=>{console.error(e.message);process.exit(1)})`;
  const r = spawnSync(process.execPath, ['-e', script, PG_URL], { encoding: 'utf8', timeout: 10_000 });
  if (r.status === 0) return undefined;
  const why = `PostgreSQL at ${PG_URL} is unreachable (${(r.stderr || 'timeout').trim().split('\n').pop()})`;
  if (process.env.CI) throw new Error(`${why}; CI must run the PostgreSQL tests`);
  process.stderr.write(`\n!!! SKIPPING PostgreSQL tests: ${why}. Set ALIAS_TEST_PG or start PostgreSQL.\n\n`);
  return why;
}

export const sqlite: DatabaseKind = {
  name: 'sqlite',
  async create() {
    const dir = mkdtempSync(join(tmpdir(), 'alias-test-'));
    const location = join(dir, 'alias.db');
    return {
      location,
      env: { ALIAS_DB: location },
      async cleanup() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};

export const TEST_SECRET = 'test-secret-that-is-long-enough-0123456789';

export const postgres: DatabaseKind = {
  name: 'postgres',
  async create() {
    const schema = `t_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    const url = new URL(PG_URL);
    // Child processes reach the schema through the connection's options parameter.
    url.searchParams.set('options', `-c search_path=${schema}`);
    return {
      location: PG_URL,
      schema,
      env: { ALIAS_DB: url.toString(), ALIAS_SECRET: TEST_SECRET },
      async cleanup() {
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        await c.query(`drop schema if exists ${schema} cascade`);
        await c.end();
      },
    };
  },
};

/** SQLite and PostgreSQL, the latter marked skipped (loudly) when unreachable outside CI. */
export function databaseKinds(): DatabaseKind[] {
  pgSkip ??= { why: checkPostgres() };
  return [sqlite, { ...postgres, skip: pgSkip.why }];
}
