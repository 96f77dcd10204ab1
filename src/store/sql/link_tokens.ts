// LinkTokenRepo: the single-use links mailed about an account (accounts/link_tokens.ts).
import type { Selectable } from 'kysely';
import type { AccountTokensTable } from '../schema.js';
import type { LinkPurpose, LinkToken } from '../types.js';
import type { LinkTokenRepo } from '../store.js';
import type { Sql } from './context.js';

const toLinkToken = (r: Selectable<AccountTokensTable>): LinkToken => ({
  digest: r.digest,
  purpose: r.purpose as LinkPurpose,
  userId: r.user_id,
  data: JSON.parse(r.data) as Record<string, string>,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  usedAt: r.used_at,
});

export function createLinkTokenRepo({ k }: Sql): LinkTokenRepo {
  return {
    async insert(t) {
      await k.insertInto('account_tokens').values({
        digest: t.digest, purpose: t.purpose, user_id: t.userId, data: JSON.stringify(t.data),
        created_at: t.createdAt, expires_at: t.expiresAt, used_at: t.usedAt,
      }).execute();
    },
    async use(digest, purpose, now) {
      // One conditional UPDATE: of two clicks at once, exactly one gets the row back.
      const r = await k.updateTable('account_tokens').set({ used_at: now })
        .where('digest', '=', digest).where('purpose', '=', purpose)
        .where('used_at', 'is', null).where('expires_at', '>', now)
        .returningAll().executeTakeFirst();
      return r && toLinkToken(r);
    },
    async get(digest) {
      const r = await k.selectFrom('account_tokens').selectAll().where('digest', '=', digest).executeTakeFirst();
      return r && toLinkToken(r);
    },
    async useAll(userId, purposes, now) {
      if (!purposes.length) return 0;
      const r = await k.updateTable('account_tokens').set({ used_at: now })
        .where('user_id', '=', userId).where('purpose', 'in', purposes).where('used_at', 'is', null)
        .executeTakeFirst();
      return Number(r.numUpdatedRows);
    },
  };
}
