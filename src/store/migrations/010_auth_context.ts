import type { Kysely } from 'kysely';

// How the person signed in (RFC 8176 amr values, a JSON list): recorded on the session and
// carried by what a sign-in hands on (codes, approved device requests) into ID tokens.
// Rows from before are password sign-ins: NULL reads as ["pwd"].
export async function up(db: Kysely<any>): Promise<void> {
  for (const table of ['sessions', 'authorization_codes', 'device_codes']) {
    await db.schema.alterTable(table).addColumn('amr', 'text').execute();
  }
}
