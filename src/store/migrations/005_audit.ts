import { SqliteAdapter, sql, type Kysely } from 'kysely';

// The append-only audit log of security events, and the indexes the janitor's bounded
// deletes need (without them each batch would scan a whole table, and SQLite holds its
// one write lock for the whole statement).
export async function up(db: Kysely<any>): Promise<void> {
  // Keyed by (at, id): appends land at the end of one b-tree, which also serves the
  // newest-first reads and the purge by age; on SQLite without a separate rowid table.
  // Every index write is a page in each commit's WAL, so a token request writes few.
  const sqlite = db.getExecutor().adapter instanceof SqliteAdapter;
  await db.schema
    .createTable('audit_events')
    .addColumn('id', 'text', (c) => c.notNull())
    .addColumn('at', 'bigint', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    // No foreign key: the history of a deleted client stays until it ages out.
    .addColumn('client_id', 'text')
    .addColumn('sub', 'text')
    .addColumn('user_ref', 'text')
    .addColumn('ip_digest', 'text')
    .addColumn('detail', 'text')
    .addPrimaryKeyConstraint('audit_events_pk', ['at', 'id'])
    .$call((t) => (sqlite ? t.modifyEnd(sql`without rowid`) : t))
    .execute();
  // `aliasid audit` reads newest first, optionally by client or by user; purge goes by time.
  // Partial: events without a client, an alias ID or a user reference skip that index.
  for (const [name, column] of [['client', 'client_id'], ['sub', 'sub'], ['user', 'user_ref']] as const) {
    await db.schema.createIndex(`audit_events_${name}`).on('audit_events').columns([column, 'at'])
      .where(sql.ref(column), 'is not', null).execute();
  }

  for (const table of ['interactions', 'sessions', 'device_codes', 'authorization_codes', 'access_tokens', 'refresh_tokens']) {
    await db.schema.createIndex(`${table}_expires`).on(table).column('expires_at').execute();
  }
  await db.schema.createIndex('throttles_window').on('throttles').column('window_start').execute();
  await db.schema.createIndex('logout_deliveries_created').on('logout_deliveries').column('created_at').execute();
}
