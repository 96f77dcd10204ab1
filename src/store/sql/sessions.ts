// SessionRepo: browser sessions, by digest of the session id.
import type { Selectable } from 'kysely';
import type { SessionsTable } from '../schema.js';
import type { SessionRepo } from '../store.js';
import type { Session } from '../types.js';
import { param, placeholders } from '../compiled.js';
import { json, list, type Sql } from './context.js';
import { PASSWORD_AMR } from '../../oauth/acr.js';

const toSession = (r: Selectable<SessionsTable>): Session => ({ idDigest: r.id_digest, userId: r.user_id,
  authTime: r.auth_time, createdAt: r.created_at, expiresAt: r.expires_at, device: r.device, lastSeenAt: r.last_seen_at,
  amr: r.amr === null ? [...PASSWORD_AMR] : list(r.amr) });

export function createSessionRepo(s: Sql): SessionRepo {
  const { k, first, run } = s;
  return {
    async insert(s) {
      const row = { id_digest: s.idDigest, user_id: s.userId, auth_time: s.authTime, created_at: s.createdAt,
        expires_at: s.expiresAt, device: s.device, last_seen_at: s.lastSeenAt, amr: json(s.amr) };
      await run('sessions.insert', (b) => b.insertInto('sessions').values(placeholders(row)), row);
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
