import type { Kysely } from 'kysely';

// RFC 9449 (DPoP) and RFC 7523 (client assertions): single-use JWT ids, shared by every
// node (a proof or an assertion replayed at another node is refused too), and the key
// thumbprint (RFC 7638) a code, access token or refresh token is bound to.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('jwt_replays')
    // A digest of the issuer's name space and the jti, never the raw value.
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('jwt_replays_expires').on('jwt_replays').column('expires_at').execute();
  // RFC 9449 §10: dpop_jkt at the authorization endpoint binds the code.
  await db.schema.alterTable('authorization_codes').addColumn('dpop_jkt', 'text').execute();
  // RFC 9449 §6: cnf.jkt of a bound access token; §5: refresh tokens of public clients.
  await db.schema.alterTable('access_tokens').addColumn('dpop_jkt', 'text').execute();
  await db.schema.alterTable('refresh_tokens').addColumn('dpop_jkt', 'text').execute();
}
