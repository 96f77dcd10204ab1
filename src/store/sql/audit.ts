// AuditRepo over Kysely (SQLite and PostgreSQL): append, read newest first, purge by age.
// Nothing here updates or deletes a single event.
import { sql, type Selectable } from 'kysely';
import { placeholders } from '../compiled.js';
import type { AuditEventsTable } from '../schema.js';
import type { AuditRepo } from '../store.js';
import type { AuditEvent } from '../types.js';
import type { Sql } from './context.js';

export const auditRow = (e: AuditEvent): AuditEventsTable => ({
  id: e.id, at: e.at, type: e.type, outcome: e.outcome, client_id: e.clientId, sub: e.sub,
  user_ref: e.userRef, ip_digest: e.ipDigest, detail: e.detail,
});

const toEvent = (r: Selectable<AuditEventsTable>): AuditEvent => ({
  id: r.id,
  at: r.at,
  // Written only through append, whose type is the union.
  type: r.type as AuditEvent['type'],
  outcome: r.outcome === 'failure' ? 'failure' : 'success',
  clientId: r.client_id,
  sub: r.sub,
  userRef: r.user_ref,
  ipDigest: r.ip_digest,
  detail: r.detail,
});

export function createAuditRepo({ k, dialect, run }: Sql): AuditRepo {
  return {
    async append(e) {
      // One INSERT of fixed shape: a cached prepared statement on SQLite; inside the
      // caller's transaction when there is one.
      const row = auditRow(e);
      await run('audit.append', (b) => b.insertInto('audit_events').values(placeholders(row)), row);
    },
    async query(q) {
      let s = k.selectFrom('audit_events').selectAll();
      if (q.since !== undefined) s = s.where('at', '>=', q.since);
      if (q.clientId !== undefined) s = s.where('client_id', '=', q.clientId);
      if (q.user) {
        const { subs, userRef } = q.user;
        s = s.where((eb) => eb.or([
          eb('user_ref', '=', userRef),
          ...(subs.length ? [eb('sub', 'in', subs)] : []),
        ]));
      }
      const rows = await s.orderBy('at', 'desc').orderBy('id', 'desc').limit(q.limit).execute();
      return rows.map(toEvent);
    },
    async clientIds() {
      const rows = await k.selectFrom('audit_events').select('client_id').distinct()
        .where('client_id', 'is not', null).execute();
      return rows.map((r) => r.client_id!).sort();
    },
    async purgeOlderThan(before, limit) {
      // Several nodes purge at once: PostgreSQL skips rows another node is deleting.
      const old = dialect.skipLocked(k.selectFrom('audit_events').select(['at', 'id']).where('at', '<', before)
        .orderBy('at').limit(limit));
      // By the whole key (at, id): the table has no index on id alone.
      const r = await sql`delete from audit_events where (at, id) in (${old})`.execute(k);
      return Number(r.numAffectedRows ?? 0);
    },
  };
}
