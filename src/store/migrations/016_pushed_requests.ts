import type { Kysely } from 'kysely';

// RFC 9126 Pushed Authorization Requests. A pushed request waits here, validated and in
// its canonical parameter form, until the authorization endpoint takes it (once) or it
// expires (60 s). The request_uri is a bearer reference, so only its digest is stored.
// A deleted client takes its pushed requests with it.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('pushed_authorization_requests')
    .addColumn('digest', 'text', (c) => c.primaryKey())
    .addColumn('client_id', 'text', (c) => c.notNull().references('clients.id').onDelete('cascade'))
    .addColumn('params', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('pushed_authorization_requests_expires').on('pushed_authorization_requests').column('expires_at').execute();
}
