import { sql, type Kysely } from 'kysely';

// Issue 18 item 6: a rotated key is published for a while (the publish window, default
// 2 minutes) before any node signs with it, so a verifier that fetched JWKS just before
// the rotation may refetch it (JWKS cool-downs: jose 30 s, oauth4webapi 60 s) by the time
// it first meets the new kid. Keys made before this kept the old fixed rule: 4 s.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('signing_keys').addColumn('activates_at', 'bigint').execute();
  await sql`UPDATE signing_keys SET activates_at = created_at + 4000`.execute(db);
}
