import type { Kysely } from 'kysely';

// RFC 7523 §2.2 / OIDC Core §9 client_secret_jwt: the assertion is an HMAC keyed with the
// client secret itself, which a digest cannot check. For clients registered with that
// method only, the secret is also kept sealed (AES-256-GCM under a key derived from
// ALIAS_SECRET, like signing keys and TOTP secrets), and so is the previous one while a
// `client rotate-secret --overlap` window lasts. Every other client keeps digests only.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('clients').addColumn('secret_sealed', 'text').execute();
  await db.schema.alterTable('clients').addColumn('previous_secret_sealed', 'text').execute();
}
