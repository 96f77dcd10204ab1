import { SqliteAdapter, sql, type Kysely } from 'kysely';

// PostgreSQL: as 021, but the notification names the table too (channel
// `alias_cache_table`, payload `<schema>/<table>`), so a node empties only the entries of
// the table that changed. Under 021 every failure-counter write (four a sign-in) emptied
// every node's cached clients as well, and each node's next token requests read their
// clients again. 021's triggers stay: nodes of the previous release, still running during
// a rolling upgrade, listen to `alias_cache`. A later migration can drop them once no such
// node is left. SQLite needs nothing (its cache checks the file's data_version).
export async function up(db: Kysely<any>): Promise<void> {
  if (db.getExecutor().adapter instanceof SqliteAdapter) return;
  await sql`create or replace function alias_cache_notify_table() returns trigger language plpgsql as $$
    begin
      perform pg_notify('alias_cache_table', tg_table_schema || '/' || tg_table_name);
      return null;
    end $$`.execute(db);
  for (const table of ['clients', 'throttles']) {
    await sql`create trigger ${sql.id(`${table}_cache_notify_table`)}
      after insert or update or delete or truncate on ${sql.id(table)}
      for each statement execute function alias_cache_notify_table()`.execute(db);
  }
}
