// PurgeRepo over Kysely: one bounded DELETE per call (the rules are on PurgeKind in
// store.ts). Each picks at most `limit` keys through an index on the expiry column, so
// no call holds a lock for long; on PostgreSQL rows another node is deleting right now
// are skipped, so several nodes can run the janitor at once without waiting on each other.
import type { SelectQueryBuilder } from 'kysely';
import type { PurgeKind, PurgeRepo } from '../store.js';
import type { Sql } from './context.js';

export function createPurgeRepo({ k, dialect, writing }: Sql): PurgeRepo {
  const lockFree = <DB, TB extends keyof DB, O>(q: SelectQueryBuilder<DB, TB, O>) => dialect.skipLocked(q);
  const count = (r: { numDeletedRows: bigint }) => Number(r.numDeletedRows);

  async function purge(kind: PurgeKind, before: number, limit: number): Promise<number> {
    switch (kind) {
      case 'interactions': {
        const due = lockFree(k.selectFrom('interactions').select('id').where('expires_at', '<', before).limit(limit));
        return count(await k.deleteFrom('interactions').where('id', 'in', due).executeTakeFirst());
      }
      case 'sessions': {
        const due = lockFree(k.selectFrom('sessions').select('id_digest').where('expires_at', '<', before).limit(limit));
        return count(await k.deleteFrom('sessions').where('id_digest', 'in', due).executeTakeFirst());
      }
      case 'device_codes': {
        const due = lockFree(k.selectFrom('device_codes').select('device_digest').where('expires_at', '<', before).limit(limit));
        return count(await k.deleteFrom('device_codes').where('device_digest', 'in', due).executeTakeFirst());
      }
      case 'access_tokens': {
        const due = lockFree(k.selectFrom('access_tokens').select('digest').where('expires_at', '<', before).limit(limit));
        return count(await k.deleteFrom('access_tokens').where('digest', 'in', due).executeTakeFirst());
      }
      case 'refresh_tokens': {
        // RFC 9700 §4.14.2: a rotated token presented again revokes its family, so it
        // stays while any token of the family could still be refreshed.
        const due = lockFree(k.selectFrom('refresh_tokens as r').select('r.digest').where('r.expires_at', '<', before)
          .where((eb) => eb.not(eb.exists(eb.selectFrom('refresh_tokens as live').select('live.digest')
            .whereRef('live.family_id', '=', 'r.family_id').where('live.expires_at', '>=', before))))
          .limit(limit));
        return count(await k.deleteFrom('refresh_tokens').where('digest', 'in', due).executeTakeFirst());
      }
      case 'authorization_codes': {
        // RFC 6749 §4.1.2: a reused code revokes the tokens issued from it, so it stays
        // while its family has a token left (the rows above go first).
        const due = lockFree(k.selectFrom('authorization_codes as c').select('c.digest').where('c.expires_at', '<', before)
          .where((eb) => eb.not(eb.exists(eb.selectFrom('refresh_tokens as rt').select('rt.digest')
            .whereRef('rt.family_id', '=', 'c.family_id'))))
          .where((eb) => eb.not(eb.exists(eb.selectFrom('access_tokens as at').select('at.digest')
            .whereRef('at.family_id', '=', 'c.family_id'))))
          .limit(limit));
        return count(await k.deleteFrom('authorization_codes').where('digest', 'in', due).executeTakeFirst());
      }
      case 'throttles': {
        const due = lockFree(k.selectFrom('throttles').select('key').where('window_start', '<', before)
          .where('blocked_until', '<', before).limit(limit));
        return count(await k.deleteFrom('throttles').where('key', 'in', due).executeTakeFirst());
      }
      case 'webauthn_challenges': {
        const due = lockFree(k.selectFrom('webauthn_challenges').select('digest').where('expires_at', '<', before).limit(limit));
        return count(await k.deleteFrom('webauthn_challenges').where('digest', 'in', due).executeTakeFirst());
      }
      case 'jwt_replays': {
        const due = lockFree(k.selectFrom('jwt_replays').select('key').where('expires_at', '<', before).limit(limit));
        return count(await k.deleteFrom('jwt_replays').where('key', 'in', due).executeTakeFirst());
      }
      case 'pushed_authorization_requests': {
        const due = lockFree(k.selectFrom('pushed_authorization_requests').select('digest').where('expires_at', '<', before).limit(limit));
        return count(await k.deleteFrom('pushed_authorization_requests').where('digest', 'in', due).executeTakeFirst());
      }
      case 'logout_deliveries': {
        const due = lockFree(k.selectFrom('logout_deliveries').select('id').where('created_at', '<', before)
          .where('status', 'in', ['delivered', 'failed']).limit(limit));
        return count(await k.deleteFrom('logout_deliveries').where('id', 'in', due).executeTakeFirst());
      }
    }
  }

  return {
    // Throttles are read through the SQLite read cache: their purge is a write to it.
    purge: (kind, before, limit) => (kind === 'throttles' ? writing('throttle', () => purge(kind, before, limit))
      : purge(kind, before, limit)),
  };
}
