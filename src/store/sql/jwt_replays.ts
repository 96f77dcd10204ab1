// JwtReplayRepo: single-use JWT ids. One INSERT … ON CONFLICT decides: a new key is
// inserted, an expired one is taken over, a live one is left alone (0 rows changed). The
// database's unique key makes the decision atomic across connections and nodes.
import type { JwtReplayRepo } from '../store.js';
import type { Sql } from './context.js';

export function createJwtReplayRepo({ k }: Sql): JwtReplayRepo {
  return {
    async claim(key, expiresAt, now) {
      const r = await k.insertInto('jwt_replays').values({ key, expires_at: expiresAt })
        .onConflict((oc) => oc.column('key').doUpdateSet({ expires_at: expiresAt }).where('jwt_replays.expires_at', '<=', now))
        .executeTakeFirst();
      return Number(r.numInsertedOrUpdatedRows ?? 0n) > 0;
    },
  };
}
