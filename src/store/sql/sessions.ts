// SessionRepo: browser sessions, by digest of the session id.
import type { QueryCreator, Selectable } from 'kysely';
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

export function createSessionRepo(s: Sql): SessionRepo {
  const { k, first, run, dialect } = s;
  return {
    async insert(session, opts = {}) {
      const row = { id_digest: session.idDigest, user_id: session.userId, auth_time: session.authTime, created_at: session.createdAt,
        expires_at: session.expiresAt, device: session.device, last_seen_at: session.lastSeenAt, amr: json(session.amr) };
      const interaction = opts.authenticates;
      if (interaction === undefined) {
        await run('sessions.insert', (b) => b.insertInto('sessions').values(placeholders(row)), row);
        return;
      }
      const args = { ...row, id: interaction, session: session.idDigest };
      // PostgreSQL: one statement, one round trip (a data-modifying CTE runs whether or
      // not the main statement reads it). SQLite: the two statements, each in process.
      if (dialect.writableCte) {
        await run('sessions.insertAuthenticating', (b) => authenticateInteraction(
          b.with('s', (w) => w.insertInto('sessions').values(placeholders(row))) as unknown as QueryCreator<Database>), args);
        return;
      }
      await run('sessions.insert', (b) => b.insertInto('sessions').values(placeholders(row)), row);
      await run('interactions.setAuthenticatedSession', authenticateInteraction, args);
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
