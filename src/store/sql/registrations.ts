// RegistrationTokenRepo and ClientRegistrationRepo: the digests behind dynamic client
// registration (RFC 7591 §3 initial access tokens, RFC 7592 registration access tokens).
import type { Selectable } from 'kysely';
import type { RegistrationTokensTable } from '../schema.js';
import type { ClientRegistrationRepo, RegistrationTokenRepo } from '../store.js';
import type { RegistrationToken } from '../types.js';
import { insertOrConflict, type Sql } from './context.js';

const toToken = (r: Selectable<RegistrationTokensTable>): RegistrationToken => ({
  digest: r.digest, usesLeft: r.uses_left, createdAt: r.created_at, expiresAt: r.expires_at,
});

export function createRegistrationTokenRepo({ k }: Sql): RegistrationTokenRepo {
  return {
    async insert(t) {
      await insertOrConflict('registration token', () => k.insertInto('registration_tokens').values({
        digest: t.digest, uses_left: t.usesLeft, created_at: t.createdAt, expires_at: t.expiresAt,
      }).execute());
    },
    async get(digest) {
      const r = await k.selectFrom('registration_tokens').selectAll().where('digest', '=', digest).executeTakeFirst();
      return r && toToken(r);
    },
    async spend(digest, now) {
      // One conditional UPDATE: the database counts concurrent spends one by one.
      const r = await k.updateTable('registration_tokens').set((eb) => ({ uses_left: eb('uses_left', '-', 1) }))
        .where('digest', '=', digest).where('uses_left', '>', 0).where('expires_at', '>', now)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
  };
}

export function createClientRegistrationRepo({ k }: Sql): ClientRegistrationRepo {
  return {
    async insert(reg) {
      await insertOrConflict('client registration', () => k.insertInto('client_registrations').values({
        client_id: reg.clientId, access_token_digest: reg.accessTokenDigest, created_at: reg.createdAt,
      }).execute());
    },
    async get(clientId) {
      const r = await k.selectFrom('client_registrations').selectAll().where('client_id', '=', clientId).executeTakeFirst();
      return r && { clientId: r.client_id, accessTokenDigest: r.access_token_digest, createdAt: r.created_at };
    },
  };
}
