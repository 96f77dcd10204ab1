import type { Kysely } from 'kysely';

// RFC 8707 (resource indicators) and RFC 9068 (JWT access tokens): the APIs the operator
// registers, and the audience each code, refresh token and access token is for.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('resources')
    // RFC 8707 §2: an absolute URI without a fragment; one registration per URI.
    .addColumn('uri', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    // JSON list of the scope names the API understands.
    .addColumn('scopes', 'text', (c) => c.notNull())
    // 'opaque' (the default) or 'jwt' (RFC 9068).
    .addColumn('token_format', 'text', (c) => c.notNull())
    // Access token lifetime in seconds.
    .addColumn('ttl', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  // RFC 8707 §2.2: the resources a code or refresh token was granted for (JSON list; NULL: none).
  await db.schema.alterTable('authorization_codes').addColumn('resources', 'text').execute();
  await db.schema.alterTable('refresh_tokens').addColumn('resources', 'text').execute();
  // The one resource an access token is for (its audience); NULL: Alias's own APIs.
  await db.schema.alterTable('access_tokens').addColumn('resource', 'text').execute();
}
