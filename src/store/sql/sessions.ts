// SessionRepo: browser sessions, by digest of the session id.
import { sql, type Compilable, type Kysely, type QueryCreator, type Selectable } from 'kysely';
import type { Database, SessionsTable } from '../schema.js';
import type { SessionRepo } from '../store.js';
import type { Session } from '../types.js';
import { param, placeholders } from '../compiled.js';
import { json, list, type Sql } from './context.js';
import { authenticateInteraction } from './interactions.js';
import { PASSWORD_AMR } from '../../oauth/acr.js';

const toSession = (r: Selectable<SessionsTable>): Session => ({ idDigest: r.id_digest, userId: r.user_id,
  authTime: r.auth_time, createdAt: r.created_at, expiresAt: r.expires_at, device: r.device, lastSeenAt: r.last_seen_at,
  amr: r.amr === null ? [...PASSWORD_AMR] : list(r.amr) });

const sessionRow = (s: Session) => ({ id_digest: s.idDigest, user_id: s.userId, auth_time: s.authTime, created_at: s.createdAt,
  expires_at: s.expiresAt, device: s.device, last_seen_at: s.lastSeenAt, amr: json(s.amr) });

/** Each column's type, so PostgreSQL knows every parameter of an INSERT … SELECT. */
const COLUMN_TYPES = { id_digest: 'text', user_id: 'text', auth_time: 'bigint', created_at: 'bigint', expires_at: 'bigint',
  device: 'text', last_seen_at: 'bigint', amr: 'text' } as const;

/**
 * The session's row (named parameters), inserted only when its user has no TOTP factor:
 * the check and the insert are one statement, so a factor added meanwhile is never missed.
 */
function insertUnlessTotp(b: Kysely<Database>) {
  const columns = Object.keys(COLUMN_TYPES) as (keyof typeof COLUMN_TYPES)[];
  return b.insertInto('sessions').columns(columns).expression(b.selectNoFrom(columns.map((c) =>
    sql`cast(${param(c)} as ${sql.raw(COLUMN_TYPES[c])})`.as(c)))
    .where(sql<boolean>`not exists (select 1 from totp_factors where user_id = ${param('user_id')})`));
}

export function createSessionRepo(s: Sql): SessionRepo {
  const { k, first, run, dialect } = s;
  return {
    async insert(session, opts = {}) {
      const row = sessionRow(session);
      const interaction = opts.authenticates;
      const args = { ...row, id: interaction, session: session.idDigest };
      const variant = opts.unlessTotp ? ':unlessTotp' : '';
      const insert = (b: Kysely<Database>) =>
        (opts.unlessTotp ? insertUnlessTotp(b) : b.insertInto('sessions').values(placeholders(row))).returning('id_digest');
      if (interaction !== undefined && dialect.writableCte) {
        // PostgreSQL: the session and, only if it was stored, the interaction's mark, in one
        // statement (one round trip; a data-modifying CTE runs whether or not the main
        // statement reads it).
        const r = await run<{ n: number }>(`sessions.insertAuthenticating${variant}`, (b) => b
          .with('s', () => insert(b))
          .with('i', (w) => authenticateInteraction(w as unknown as QueryCreator<Database>)
            .where(sql<boolean>`exists (select 1 from s)`))
          .selectNoFrom(sql<number>`(select count(*) from s)`.as('n')) as unknown as Compilable, args);
        return Number(r.rows[0]?.n) > 0;
      }
      // SQLite (its statements cost no round trip), or no interaction: one statement after the other.
      const r = await run(`sessions.insert${variant}`, insert, args);
      if (!r.rows.length) return false;
      if (interaction !== undefined) await run('interactions.setAuthenticatedSession', authenticateInteraction, args);
      return true;
    },
    async get(idDigest, now) {
      const r = await first<Selectable<SessionsTable>>('sessions.get', (b) => b.selectFrom('sessions').selectAll()
        .where('id_digest', '=', param('digest')).where('expires_at', '>', param<number>('now')), { digest: idDigest, now });
      return r && toSession(r);
    },
    async touch(idDigest, at) {
      await k.updateTable('sessions').set({ last_seen_at: at }).where('id_digest', '=', idDigest).execute();
    },
    async delete(idDigest) {
      await k.deleteFrom('sessions').where('id_digest', '=', idDigest).execute();
    },
    async deleteByUser(userId) {
      await k.deleteFrom('sessions').where('user_id', '=', userId).execute();
    },
    async setAmr(idDigest, amr) {
      await k.updateTable('sessions').set({ amr: json(amr) }).where('id_digest', '=', idDigest).execute();
    },
    async listByUser(userId, now) {
      const rows = await k.selectFrom('sessions').selectAll().where('user_id', '=', userId).where('expires_at', '>', now)
        .orderBy('created_at').orderBy('id_digest').execute();
      return rows.map(toSession);
    },
  };
}
