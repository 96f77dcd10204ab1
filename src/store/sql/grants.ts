// GrantRepo: what one user allowed one client (the consent record).
import type { Selectable } from 'kysely';
import type { GrantsTable } from '../schema.js';
import { UniqueViolation, type GrantRepo } from '../store.js';
import type { Grant } from '../types.js';
import { param } from '../compiled.js';
import { json, list, type Sql } from './context.js';

export const toGrant = (r: Selectable<GrantsTable>): Grant => ({
  id: r.id,
  userId: r.user_id,
  clientId: r.client_id,
  sub: r.sub,
  scopes: list(r.scopes),
  channels: list(r.channels),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  lastUsedAt: r.last_used_at,
});

/** A grant's columns read through a left join as `g_…` (all null when there is no grant). */
export interface GrantColumns {
  g_id: string | null;
  g_user_id: string | null;
  g_client_id: string | null;
  g_sub: string | null;
  g_scopes: string | null;
  g_channels: string | null;
  g_created_at: number | null;
  g_updated_at: number | null;
  g_last_used_at: number | null;
}

/** The select list of GrantColumns, from the grants table joined as `g`. */
export const GRANT_COLUMNS = ['g.id as g_id', 'g.user_id as g_user_id', 'g.client_id as g_client_id', 'g.sub as g_sub',
  'g.scopes as g_scopes', 'g.channels as g_channels', 'g.created_at as g_created_at',
  'g.updated_at as g_updated_at', 'g.last_used_at as g_last_used_at'] as const;

/** GRANT_COLUMNS and the grant's user's nickname, from `users` joined as `u`. */
export const GRANT_AND_NICKNAME = [...GRANT_COLUMNS, 'u.nickname as u_nickname'] as const;
export type GrantAndNickname = GrantColumns & { u_nickname: string | null };

/** The grant of a joined row, or undefined when the join found none. */
export const joinedGrant = (r: GrantColumns): Grant | undefined => r.g_id === null ? undefined : toGrant({
  id: r.g_id, user_id: r.g_user_id!, client_id: r.g_client_id!, sub: r.g_sub!, scopes: r.g_scopes!,
  channels: r.g_channels!, created_at: r.g_created_at!, updated_at: r.g_updated_at!, last_used_at: r.g_last_used_at,
});

export function createGrantRepo(s: Sql): GrantRepo {
  const { k, first, run } = s;
  return {
    async get(userId, clientId) {
      const r = await first<Selectable<GrantsTable>>('grants.get', (b) => b.selectFrom('grants').selectAll()
        .where('user_id', '=', param('user')).where('client_id', '=', param('client')), { user: userId, client: clientId });
      return r && toGrant(r);
    },
    async getById(id) {
      const r = await first<Selectable<GrantsTable>>('grants.getById',
        (b) => b.selectFrom('grants').selectAll().where('id', '=', param('id')), { id });
      return r && toGrant(r);
    },
    async getBySub(clientId, sub) {
      const r = await k.selectFrom('grants').selectAll().where('client_id', '=', clientId)
        .where('sub', '=', sub).executeTakeFirst();
      return r && toGrant(r);
    },
    async listByUser(userId) {
      const rows = await k.selectFrom('grants').selectAll().where('user_id', '=', userId)
        .orderBy('created_at').execute();
      return rows.map(toGrant);
    },
    async save(g) {
      // Not `ON CONFLICT (user_id, client_id) DO UPDATE`: PostgreSQL arbitrates only that
      // constraint, so a concurrent save of the same grant (same sub) failed on
      // grants_client_sub with a duplicate key error. DO NOTHING without a target
      // arbitrates every unique constraint (waiting for a racing insert to commit), then
      // the existing (user, client) grant is updated. Rerun if that grant was deleted in
      // between; if there is still none, the conflict is with another grant's id or sub.
      for (let attempt = 0; attempt < 3; attempt++) {
        const inserted = await k.insertInto('grants').values({
          id: g.id, user_id: g.userId, client_id: g.clientId, sub: g.sub, scopes: json(g.scopes),
          channels: json(g.channels), created_at: g.createdAt, updated_at: g.updatedAt, last_used_at: g.lastUsedAt,
        }).onConflict((oc) => oc.doNothing()).returningAll().executeTakeFirst();
        if (inserted) return toGrant(inserted);
        const updated = await k.updateTable('grants')
          .set({ scopes: json(g.scopes), channels: json(g.channels), updated_at: g.updatedAt })
          .where('user_id', '=', g.userId).where('client_id', '=', g.clientId)
          .returningAll().executeTakeFirst();
        if (updated) return toGrant(updated);
      }
      throw new UniqueViolation('grant');
    },
    async touch(id, now) {
      await run('grants.touch', (b) => b.updateTable('grants').set({ last_used_at: param<number>('now') })
        .where('id', '=', param('id')), { id, now });
    },
    async delete(id) {
      const r = await k.deleteFrom('grants').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
  };
}
