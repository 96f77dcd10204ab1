// PostgreSQL: a pool of connections (pool.ts), row locks, writable CTEs, a read cache kept
// valid by LISTEN/NOTIFY (notified_cache.ts), and transactions run again when the server
// aborts them for a deadlock or serialization failure (retry.ts).
import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import type { Database } from '../schema.js';
import type { Dialect } from '../dialect.js';
import { createPgPool } from './pool.js';
import { retryAborted } from './retry.js';
import { createNotifiedCache } from './notified_cache.js';

// PostgreSQL returns int8 as strings; every bigint we store is epoch milliseconds,
// well inside Number's exact range.
pg.types.setTypeParser(20, (v) => Number(v));

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}

export const postgres: Dialect = {
  name: 'postgres',
  open(location, opts) {
    const pool = createPgPool(location, { max: opts.poolSize ?? 10, schema: opts.schema });
    const kysely = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    // Client and failure-counter reads, kept valid across nodes by LISTEN/NOTIFY.
    const readCache = createNotifiedCache(location, opts.schema);
    return { kysely, dialect: postgres, location: redactUrl(location), readCache,
      close: async () => {
        await readCache.close();
        await kysely.destroy();
      } };
  },
  async migrationTableSchema(k) {
    return (await sql<{ s: string }>`select current_schema() as s`.execute(k)).rows[0]?.s;
  },
  forUpdate: (q) => q.forUpdate() as typeof q,
  skipLocked: (q) => q.forUpdate().skipLocked() as typeof q,
  writableCte: true,
  retrying: retryAborted,
};
