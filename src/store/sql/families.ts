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
  };
}
