import type { Kysely } from 'kysely';

// What a person sees of their sessions (the account export, GDPR Art. 15): a coarse
// device label ("Firefox on Linux", never the raw User-Agent) and when it was last used.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('sessions').addColumn('device', 'text').execute();
  await db.schema.alterTable('sessions').addColumn('last_seen_at', 'bigint').execute();
}
