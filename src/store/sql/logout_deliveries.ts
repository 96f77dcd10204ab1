// LogoutDeliveryRepo: the back-channel logout queue (leased.ts).
import type { Selectable } from 'kysely';
import type { LogoutDeliveriesTable } from '../schema.js';
import type { LogoutDeliveryRepo } from '../store.js';
import type { LogoutDelivery } from '../types.js';
import { claimLeased, releaseLeased } from './leased.js';
import type { Sql } from './context.js';

const toDelivery = (r: Selectable<LogoutDeliveriesTable>): LogoutDelivery => ({
  id: r.id,
  clientId: r.client_id,
  sub: r.sub,
  status: r.status === 'delivered' ? 'delivered' : r.status === 'failed' ? 'failed' : 'pending',
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  leaseUntil: r.lease_until,
  lastError: r.last_error,
  createdAt: r.created_at,
});

export function createLogoutDeliveryRepo(s: Sql): LogoutDeliveryRepo {
  const { k } = s;
  return {
    async enqueue(rows) {
      if (!rows.length) return;
      await k.insertInto('logout_deliveries').values(rows.map((d) => ({
        id: d.id, client_id: d.clientId, sub: d.sub, status: d.status, attempts: d.attempts,
        next_attempt_at: d.nextAttemptAt, lease_until: d.leaseUntil, last_error: d.lastError, created_at: d.createdAt,
      }))).execute();
    },
    async claim(now, leaseUntil, limit) {
      const rows = await claimLeased(s, 'logout_deliveries', 'pending', now, leaseUntil, limit);
      return rows.map(toDelivery);
    },
    async settle(id, r) {
      await k.updateTable('logout_deliveries').set({ status: r.status, attempts: r.attempts,
        next_attempt_at: r.nextAttemptAt, last_error: r.lastError, lease_until: null }).where('id', '=', id).execute();
    },
    release: (ids, leaseUntil) => releaseLeased(s, 'logout_deliveries', ids, leaseUntil),
    async get(id) {
      const r = await k.selectFrom('logout_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
      return r && toDelivery(r);
    },
    async listByClient(clientId) {
      const rows = await k.selectFrom('logout_deliveries').selectAll().where('client_id', '=', clientId)
        .orderBy('created_at').execute();
      return rows.map(toDelivery);
    },
  };
}
