// MessageRepo: the relay's outbox and the users' inboxes; a leased queue (leased.ts).
import type { Selectable } from 'kysely';
import type { MessagesTable } from '../schema.js';
import type { MessageRepo } from '../store.js';
import type { Message } from '../types.js';
import { insertOrConflict, type Sql } from './context.js';
import { claimLeased, releaseLeased } from './leased.js';

const toMessage = (r: Selectable<MessagesTable>): Message => ({
  id: r.id,
  clientId: r.client_id,
  userId: r.user_id,
  channel: r.channel,
  subject: r.subject,
  body: r.body,
  idempotencyKey: r.idempotency_key,
  status: r.status === 'sent' ? 'sent' : r.status === 'failed' ? 'failed' : 'queued',
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  leaseUntil: r.lease_until,
  lastError: r.last_error,
  createdAt: r.created_at,
  deliveredAt: r.delivered_at,
});

export function createMessageRepo(s: Sql): MessageRepo {
  const { k } = s;
  return {
    async insert(m) {
      await insertOrConflict('message', () => k.insertInto('messages').values({
        id: m.id, client_id: m.clientId, user_id: m.userId, channel: m.channel, subject: m.subject, body: m.body,
        idempotency_key: m.idempotencyKey, status: m.status, attempts: m.attempts, next_attempt_at: m.nextAttemptAt,
        lease_until: m.leaseUntil, last_error: m.lastError, created_at: m.createdAt, delivered_at: m.deliveredAt,
      }).execute());
    },
    async get(id) {
      const r = await k.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst();
      return r && toMessage(r);
    },
    async getByIdempotencyKey(clientId, key) {
      const r = await k.selectFrom('messages').selectAll().where('client_id', '=', clientId)
        .where('idempotency_key', '=', key).executeTakeFirst();
      return r && toMessage(r);
    },
    async listByUser(userId, limit) {
      const rows = await k.selectFrom('messages').selectAll().where('user_id', '=', userId)
        .orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
      return rows.map(toMessage);
    },
    async countsByUser(userId) {
      const rows = await k.selectFrom('messages').select(['client_id', 'channel', (eb) => eb.fn.countAll<number>().as('n')])
        .where('user_id', '=', userId).groupBy(['client_id', 'channel']).execute();
      return rows.map((r) => ({ clientId: r.client_id, channel: r.channel, count: Number(r.n) }));
    },
    async countSince(clientId, since, userId) {
      let q = k.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n'))
        .where('client_id', '=', clientId).where('created_at', '>=', since);
      if (userId) q = q.where('user_id', '=', userId);
      return Number((await q.executeTakeFirstOrThrow()).n);
    },
    async claim(now, leaseUntil, limit) {
      const rows = await claimLeased(s, 'messages', 'queued', now, leaseUntil, limit);
      return rows.map(toMessage);
    },
    async settle(id, r) {
      await k.updateTable('messages').set({ status: r.status, attempts: r.attempts, next_attempt_at: r.nextAttemptAt,
        last_error: r.lastError, delivered_at: r.deliveredAt, lease_until: null }).where('id', '=', id).execute();
    },
    release: (ids, leaseUntil) => releaseLeased(s, 'messages', ids, leaseUntil),
  };
}
