import type { Kysely } from 'kysely';

// Dynamic client registration (RFC 7591, RFC 7592). Initial access tokens, made by
// `aliasid registration-token create`, each good for a number of registrations until it
// expires; and the registration access token of each client that registered itself. Both
// are stored only as digests. A deleted client takes its registration row with it.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('registration_tokens')
    .addColumn('digest', 'text', (c) => c.primaryKey())
    .addColumn('uses_left', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('client_registrations')
    .addColumn('client_id', 'text', (c) => c.primaryKey().references('clients.id').onDelete('cascade'))
    .addColumn('access_token_digest', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
}
