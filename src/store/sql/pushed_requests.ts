// PushedRequestRepo: RFC 9126 pushed authorization requests, found by the digest of their
// request_uri. `take` is one DELETE … RETURNING, so the database picks the single winner
// of concurrent uses (SQLite ≥ 3.35 and PostgreSQL both return deleted rows).
import type { Selectable } from 'kysely';
import type { PushedAuthorizationRequestsTable } from '../schema.js';
import type { PushedRequestRepo } from '../store.js';
import type { PushedRequest } from '../types.js';
import { json, type Sql } from './context.js';

const toPushed = (r: Selectable<PushedAuthorizationRequestsTable>): PushedRequest => ({
  digest: r.digest,
  clientId: r.client_id,
  params: JSON.parse(r.params) as Record<string, string>,
  createdAt: Number(r.created_at),
  expiresAt: Number(r.expires_at),
});

export function createPushedRequestRepo({ k }: Sql): PushedRequestRepo {
  return {
    async insert(p) {
      await k.insertInto('pushed_authorization_requests').values({
        digest: p.digest, client_id: p.clientId, params: json(p.params), created_at: p.createdAt, expires_at: p.expiresAt,
      }).execute();
    },
    async take(digest, clientId, now) {
      const r = await k.deleteFrom('pushed_authorization_requests').where('digest', '=', digest)
        .where('client_id', '=', clientId).where('expires_at', '>', now).returningAll().executeTakeFirst();
      return r && toPushed(r);
    },
  };
}
