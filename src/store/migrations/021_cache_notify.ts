import { SqliteAdapter, sql, type Kysely } from 'kysely';

// PostgreSQL: every statement that changes a client or a failure counter notifies channel
// `alias_cache` (payload: the schema) when its transaction commits, so every node's read
// cache of those rows (postgres/notified_cache.ts) empties at once, whoever made the
// change: another node, `aliasid client …`, the janitor, or a hand-written statement.
// Statement-level, and PostgreSQL folds identical notifications of one transaction into
// one, so a write costs one notification however many rows it touches. SQLite needs
// nothing: its cache checks the file's data_version instead.
export async function up(db: Kysely<any>): Promise<void> {
  if (db.getExecutor().adapter instanceof SqliteAdapter) return;
  await sql`create or replace function alias_cache_notify() returns trigger language plpgsql as $$
    begin
      perform pg_notify('alias_cache', tg_table_schema);
      return null;
    end $$`.execute(db);
  for (const table of ['clients', 'throttles']) {
    await sql`create trigger ${sql.id(`${table}_cache_notify`)}
      after insert or update or delete or truncate on ${sql.id(table)}
      for each statement execute function alias_cache_notify()`.execute(db);
  }
}
