// The leased queues (logout deliveries, messages) share status, next_attempt_at and
// lease_until: a worker claims due rows for a while, settles each, and hands back what it
// never attempted.
import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../schema.js';
import type { Sql } from './context.js';

type LeasedTable = 'logout_deliveries' | 'messages' | 'mail_outbox';

/**
 * One UPDATE picks and leases due rows, so two workers never take the same one
 * (PostgreSQL also skips rows another worker is leasing right now).
 */
export async function claimLeased<T extends LeasedTable>({ k, dialect }: Sql, table: T, status: string, now: number,
  leaseUntil: number, limit: number): Promise<Selectable<Database[T]>[]> {
  type Leased = { id: string; status: string; next_attempt_at: number; lease_until: number | null };
  const q = k as unknown as Kysely<{ leased: Leased }>;
  const name = table as unknown as 'leased';
  const due = q.selectFrom(name).select('id').where('status', '=', status).where('next_attempt_at', '<=', now)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .orderBy('next_attempt_at').limit(limit);
  const rows = await q.updateTable(name).set({ lease_until: leaseUntil })
    .where('id', 'in', dialect.skipLocked(due))
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .returningAll().execute();
  return rows as unknown as Selectable<Database[T]>[];
}

/** Ends this claim's lease on rows never attempted; a row since leased by another worker is left alone. */
export async function releaseLeased({ k }: Sql, table: LeasedTable, ids: string[], leaseUntil: number): Promise<number> {
  if (!ids.length) return 0;
  const r = await k.updateTable(table).set({ lease_until: null })
    .where('id', 'in', ids).where('lease_until', '=', leaseUntil).executeTakeFirst();
  return Number(r.numUpdatedRows);
}
