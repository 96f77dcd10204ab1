// AccessTokenRepo: opaque access tokens, by digest; read with their grant on the hot paths.
import type { Selectable } from 'kysely';
import type { AccessTokensTable } from '../schema.js';
import type { AccessTokenRepo } from '../store.js';
import type { AccessToken } from '../types.js';
import { param, placeholders } from '../compiled.js';
import { auditRow } from './audit.js';
import { toGrant } from './grants.js';
import { json, list, type Sql } from './context.js';

const toAccess = (r: Selectable<AccessTokensTable>): AccessToken => ({
  digest: r.digest,
  clientId: r.client_id,
  userId: r.user_id,
  grantId: r.grant_id,
  familyId: r.family_id,
  scopes: list(r.scopes),
  channels: list(r.channels),
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
  // Only bound rows carry it (the field is optional: Bearer tokens and unbound codes).
  ...(r.dpop_jkt ? { dpopJkt: r.dpop_jkt } : {}),
  ...(r.resource ? { resource: r.resource } : {}),
});

const accessRow = (t: AccessToken): Selectable<AccessTokensTable> => ({
  digest: t.digest, client_id: t.clientId, user_id: t.userId, grant_id: t.grantId, family_id: t.familyId,
  scopes: json(t.scopes), channels: json(t.channels), created_at: t.createdAt, expires_at: t.expiresAt,
  revoked_at: t.revokedAt, dpop_jkt: t.dpopJkt ?? null, resource: t.resource ?? null,
});

/** A grant's columns read through a left join (all null when there is no grant). */
interface GrantColumns {
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

export function createAccessTokenRepo(s: Sql): AccessTokenRepo {
  const { k, first, run, inTx, transaction, dialect } = s;
  return {
    async insert(t) {
      const row = accessRow(t);
      await run('accessTokens.insert', (b) => b.insertInto('access_tokens').values(placeholders(row)), row);
    },
    async insertWithEvent(t, event) {
      if (!dialect.writableCte || inTx) {
        // SQLite (no INSERT inside WITH): one transaction is one commit (and far cheaper than two autocommits).
        return transaction(async (tx) => {
          await tx.accessTokens.insert(t);
          await tx.audit.append(event);
        });
      }
      // PostgreSQL: one statement, so one round trip, and atomic all the same.
      const token = accessRow(t);
      const ev = auditRow(event);
      const args: Record<string, unknown> = {};
      for (const [key, v] of Object.entries(token)) args[`t_${key}`] = v;
      for (const [key, v] of Object.entries(ev)) args[`e_${key}`] = v;
      await run('accessTokens.insertWithEvent', (b) => b
        .with('t', (w) => w.insertInto('access_tokens').values(placeholders(token, 't_')))
        .insertInto('audit_events').values(placeholders(ev, 'e_')), args);
    },
    async get(digest) {
      const r = await first<Selectable<AccessTokensTable>>('accessTokens.get', (b) => b.selectFrom('access_tokens')
        .selectAll().where('digest', '=', param('digest')), { digest });
      return r && toAccess(r);
    },
    async getWithGrant(digest) {
      const r = await first<Selectable<AccessTokensTable> & GrantColumns>('accessTokens.getWithGrant', (b) => b
        .selectFrom('access_tokens as t').leftJoin('grants as g', 'g.id', 't.grant_id').selectAll('t')
        .select(['g.id as g_id', 'g.user_id as g_user_id', 'g.client_id as g_client_id', 'g.sub as g_sub',
          'g.scopes as g_scopes', 'g.channels as g_channels', 'g.created_at as g_created_at',
          'g.updated_at as g_updated_at', 'g.last_used_at as g_last_used_at'])
        .where('t.digest', '=', param('digest')), { digest });
      if (!r) return undefined;
      const grant = r.g_id === null ? undefined : toGrant({
        id: r.g_id, user_id: r.g_user_id!, client_id: r.g_client_id!, sub: r.g_sub!, scopes: r.g_scopes!,
        channels: r.g_channels!, created_at: r.g_created_at!, updated_at: r.g_updated_at!, last_used_at: r.g_last_used_at,
      });
      return { token: toAccess(r), grant };
    },
    async revoke(digest, now) {
      await k.updateTable('access_tokens').set({ revoked_at: now }).where('digest', '=', digest)
        .where('revoked_at', 'is', null).execute();
    },
  };
}
