import type { Kysely } from 'kysely';

// The append-only audit log of security events, and the indexes the janitor's bounded
// deletes need (without them each batch would scan a whole table, and SQLite holds its
// one write lock for the whole statement).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    // No foreign key: the history of a deleted client stays until it ages out.
    .addColumn('client_id', 'text')
    .addColumn('sub', 'text')
    .addColumn('user_ref', 'text')
    .addColumn('ip_digest', 'text')
    .addColumn('detail', 'text')
    .execute();
  // `aliasid audit` reads newest first, optionally by client or by user; purge goes by time.
  await db.schema.createIndex('audit_events_at').on('audit_events').columns(['at', 'id']).execute();
  await db.schema.createIndex('audit_events_client').on('audit_events').columns(['client_id', 'at']).execute();
  await db.schema.createIndex('audit_events_sub').on('audit_events').columns(['sub', 'at']).execute();
  await db.schema.createIndex('audit_events_user').on('audit_events').columns(['user_ref', 'at']).execute();

  for (const table of ['interactions', 'sessions', 'device_codes', 'authorization_codes', 'access_tokens', 'refresh_tokens']) {
    await db.schema.createIndex(`${table}_expires`).on(table).column('expires_at').execute();
  }
  await db.schema.createIndex('throttles_window').on('throttles').column('window_start').execute();
  await db.schema.createIndex('logout_deliveries_created').on('logout_deliveries').column('created_at').execute();
}
