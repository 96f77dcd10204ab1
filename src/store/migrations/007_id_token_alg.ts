import type { Kysely } from 'kysely';

// OpenID Connect Dynamic Client Registration §2: the algorithm a client's ID tokens (and
// back-channel logout tokens) are signed with. Existing clients keep RS256, the default.
// A constant default: PostgreSQL adds the column without rewriting the table; no CHECK,
// so a later algorithm needs no table rebuild on SQLite (the registry validates).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('clients')
    .addColumn('id_token_signed_response_alg', 'text', (c) => c.notNull().defaultTo('RS256'))
    .execute();
}
