// MailOutboxRepo: account mails waiting for the delivery worker (mail/outbox.ts); a
// leased queue like the relay's (leased.ts).
import type { Selectable } from 'kysely';
import type { MailOutboxTable } from '../schema.js';
import type { OutboxMail } from '../types.js';
import type { MailOutboxRepo } from '../store.js';
import type { Sql } from './context.js';
import { claimLeased, releaseLeased } from './leased.js';

const toOutboxMail = (r: Selectable<MailOutboxTable>): OutboxMail => ({
  id: r.id,
  userId: r.user_id,
  purpose: r.purpose,
  sealed: r.sealed,
  status: r.status === 'failed' ? 'failed' : 'queued',
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  leaseUntil: r.lease_until,
  lastError: r.last_error,
  createdAt: r.created_at,
});

export function createMailOutboxRepo(s: Sql): MailOutboxRepo {
  const { k } = s;
  return {
    async insert(m) {
      await k.insertInto('mail_outbox').values({
        id: m.id, user_id: m.userId, purpose: m.purpose, sealed: m.sealed, status: m.status, attempts: m.attempts,
        next_attempt_at: m.nextAttemptAt, lease_until: m.leaseUntil, last_error: m.lastError, created_at: m.createdAt,
      }).execute();
    },
    async claim(now, leaseUntil, limit) {
      return (await claimLeased(s, 'mail_outbox', 'queued', now, leaseUntil, limit)).map(toOutboxMail);
    },
    release: (ids, leaseUntil) => releaseLeased(s, 'mail_outbox', ids, leaseUntil),
    async remove(id) {
      await k.deleteFrom('mail_outbox').where('id', '=', id).execute();
    },
    async settle(id, r) {
      // Given up: the mail's content (its links) is not kept; the row says what happened.
      await k.updateTable('mail_outbox').set({
        status: r.status, attempts: r.attempts, next_attempt_at: r.nextAttemptAt, last_error: r.lastError,
        lease_until: null, ...(r.status === 'failed' ? { sealed: '' } : {}),
      }).where('id', '=', id).execute();
    },
    async listByUser(userId) {
      const rows = await k.selectFrom('mail_outbox').selectAll().where('user_id', '=', userId).orderBy('created_at').execute();
      return rows.map(toOutboxMail);
    },
  };
}
