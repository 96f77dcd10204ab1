import type { Kysely } from 'kysely';

// Issue 15 §2: a person's second factor. One TOTP authenticator per account (RFC 6238),
// its secret sealed with a key derived from ALIAS_SECRET (crypto/secrets.ts, the signing
// keys' mechanism, purpose `totp-secrets`), and the last time step a code was accepted
// for, so a code is never accepted twice. Recovery codes are stored as keyed digests
// only; a used one keeps its row (used_at) until the person makes a new set.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('totp_factors')
    .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
    .addColumn('secret_sealed', 'text', (c) => c.notNull())
    .addColumn('last_step', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('recovery_codes')
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('digest', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .addPrimaryKeyConstraint('recovery_codes_pk', ['user_id', 'digest'])
    .execute();
}
