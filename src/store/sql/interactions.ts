// InteractionRepo: authorization requests waiting for the user (login, consent).
import type { QueryCreator, Selectable } from 'kysely';
import type { Database, InteractionsTable } from '../schema.js';
import type { InteractionRepo } from '../store.js';
import type { Interaction } from '../types.js';
import { param } from '../compiled.js';
import { json, type Sql } from './context.js';

const toInteraction = (r: Selectable<InteractionsTable>): Interaction => ({
  id: r.id,
  browserDigest: r.browser_digest,
  clientId: r.client_id,
  params: JSON.parse(r.params) as Record<string, string>,
  authenticatedSession: r.authenticated_session,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

/** The interaction `id` signed in with session `session` (named parameters): on its own, or after a CTE (sessions.ts). */
export const authenticateInteraction = (b: QueryCreator<Database>) => b.updateTable('interactions')
  .set({ authenticated_session: param('session') }).where('id', '=', param('id'));

export function createInteractionRepo(s: Sql): InteractionRepo {
  const { k, first, run } = s;
  return {
    async insert(i) {
      await k.insertInto('interactions').values({
        id: i.id, browser_digest: i.browserDigest, client_id: i.clientId, params: json(i.params),
        authenticated_session: i.authenticatedSession, created_at: i.createdAt, expires_at: i.expiresAt,
      }).execute();
    },
    async get(id, now) {
      const r = await first<Selectable<InteractionsTable>>('interactions.get', (b) => b.selectFrom('interactions').selectAll()
        .where('id', '=', param('id')).where('expires_at', '>', param<number>('now')), { id, now });
      return r && toInteraction(r);
    },
    async setAuthenticatedSession(id, sessionDigest) {
      await run('interactions.setAuthenticatedSession', authenticateInteraction, { id, session: sessionDigest });
    },
    async delete(id) {
      await k.deleteFrom('interactions').where('id', '=', id).execute();
    },
  };
}
