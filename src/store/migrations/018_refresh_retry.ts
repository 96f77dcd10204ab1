import type { Kysely } from 'kysely';

// Issue 16 "and further": a retry after a lost token response (docs/security.md,
// "A retry after a lost answer"). A rotated refresh token remembers what its rotation
// issued, so a retry inside the grace window can take that unused answer back, and when
// the one retry it is allowed was answered.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('refresh_tokens').addColumn('next_digest', 'text').execute();
  await db.schema.alterTable('refresh_tokens').addColumn('next_access_digest', 'text').execute();
  await db.schema.alterTable('refresh_tokens').addColumn('retried_at', 'bigint').execute();
}
