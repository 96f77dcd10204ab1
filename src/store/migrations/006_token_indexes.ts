import { sql, type Kysely } from 'kysely';

// Client-credentials access tokens have no family and no grant, and they are the most
// frequent insert. Indexing only the rows that have a value (partial indexes, on both
// SQLite and PostgreSQL) spares that insert two index writes; every lookup by family or
// grant compares with a value, which implies IS NOT NULL, so the planners still use them.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('access_tokens_family').execute();
  await db.schema.dropIndex('access_tokens_grant').execute();
  await db.schema.createIndex('access_tokens_family').on('access_tokens').column('family_id')
    .where(sql.ref('family_id'), 'is not', null).execute();
  await db.schema.createIndex('access_tokens_grant').on('access_tokens').column('grant_id')
    .where(sql.ref('grant_id'), 'is not', null).execute();
}
