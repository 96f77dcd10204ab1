// FamilyRepo: every token minted from one authorization code, revoked together.
import type { FamilyRepo } from '../store.js';
import type { Sql } from './context.js';

export function createFamilyRepo(s: Sql): FamilyRepo {
  const { k } = s;
  return {
    async revoke(familyId, now) {
      await k.updateTable('access_tokens').set({ revoked_at: now }).where('family_id', '=', familyId)
        .where('revoked_at', 'is', null).execute();
      await k.updateTable('refresh_tokens').set({ revoked_at: now }).where('family_id', '=', familyId)
        .where('revoked_at', 'is', null).execute();
    },
    async revokeByUser(userId, now) {
      // Through the user's grants: every user token has one, and grant_id is indexed.
      const grantsOf = k.selectFrom('grants').select('id').where('user_id', '=', userId);
      await k.updateTable('access_tokens').set({ revoked_at: now }).where('grant_id', 'in', grantsOf)
        .where('revoked_at', 'is', null).execute();
      await k.updateTable('refresh_tokens').set({ revoked_at: now }).where('grant_id', 'in', grantsOf)
        .where('revoked_at', 'is', null).execute();
    },
  };
}
