// PasskeyRepo and WebauthnChallengeRepo over Kysely (accounts/passkeys.ts uses them).
import type { Selectable } from 'kysely';
import type { PasskeysTable, WebauthnChallengesTable } from '../schema.js';
import type { Passkey, WebauthnChallenge, WebauthnPurpose } from '../types.js';
import type { PasskeyRepo, WebauthnChallengeRepo } from '../store.js';
import { insertOrConflict, json, list, type Sql } from './context.js';

const toPasskey = (r: Selectable<PasskeysTable>): Passkey => ({
  id: r.id,
  userId: r.user_id,
  credentialId: r.credential_id,
  publicKey: r.public_key,
  counter: Number(r.counter),
  transports: list(r.transports),
  backupEligible: !!r.backup_eligible,
  backupState: !!r.backup_state,
  deviceType: r.device_type === 'multiDevice' ? 'multiDevice' : 'singleDevice',
  name: r.name,
  createdAt: Number(r.created_at),
  lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
});

const toChallenge = (r: Selectable<WebauthnChallengesTable>): WebauthnChallenge => ({
  digest: r.digest,
  purpose: r.purpose as WebauthnPurpose,
  browserDigest: r.browser_digest,
  userId: r.user_id,
  createdAt: Number(r.created_at),
  expiresAt: Number(r.expires_at),
});

export function createPasskeyRepo({ k }: Sql): PasskeyRepo {
  return {
    async insert(p) {
      await insertOrConflict('passkey', () => k.insertInto('passkeys').values({
        id: p.id, user_id: p.userId, credential_id: p.credentialId, public_key: p.publicKey, counter: p.counter,
        transports: json(p.transports), backup_eligible: p.backupEligible ? 1 : 0, backup_state: p.backupState ? 1 : 0,
        device_type: p.deviceType, name: p.name, created_at: p.createdAt, last_used_at: p.lastUsedAt,
      }).execute());
    },
    async getByCredentialId(credentialId) {
      const r = await k.selectFrom('passkeys').selectAll().where('credential_id', '=', credentialId).executeTakeFirst();
      return r && toPasskey(r);
    },
    async listByUser(userId) {
      const rows = await k.selectFrom('passkeys').selectAll().where('user_id', '=', userId)
        .orderBy('created_at').orderBy('id').execute();
      return rows.map(toPasskey);
    },
    async rename(userId, id, name) {
      const r = await k.updateTable('passkeys').set({ name }).where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    async delete(userId, id) {
      const r = await k.deleteFrom('passkeys').where('id', '=', id).where('user_id', '=', userId).returningAll().executeTakeFirst();
      return r && toPasskey(r);
    },
    async recordUse(id, expectedCounter, use) {
      const r = await k.updateTable('passkeys')
        .set({ counter: use.counter, backup_state: use.backupState ? 1 : 0, last_used_at: use.at })
        .where('id', '=', id).where('counter', '=', expectedCounter).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
  };
}

export function createWebauthnChallengeRepo({ k }: Sql): WebauthnChallengeRepo {
  return {
    async insert(c) {
      await k.insertInto('webauthn_challenges').values({
        digest: c.digest, purpose: c.purpose, browser_digest: c.browserDigest, user_id: c.userId,
        created_at: c.createdAt, expires_at: c.expiresAt,
      }).execute();
    },
    async take(digest, purpose, browserDigest, now) {
      // One DELETE … RETURNING: the database picks the single winner of concurrent uses.
      const r = await k.deleteFrom('webauthn_challenges').where('digest', '=', digest).where('purpose', '=', purpose)
        .where('browser_digest', '=', browserDigest).where('expires_at', '>', now).returningAll().executeTakeFirst();
      return r && toChallenge(r);
    },
  };
}
