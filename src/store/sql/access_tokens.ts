// AccessTokenRepo: opaque access tokens, by digest; read with their grant on the hot paths.
import type { Selectable } from 'kysely';
import type { AccessTokensTable } from '../schema.js';
import type { AccessTokenRepo } from '../store.js';
import type { AccessToken } from '../types.js';
import { param, placeholders } from '../compiled.js';
import { GRANT_AND_NICKNAME, joinedGrant, type GrantAndNickname } from './grants.js';
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

export const accessRow = (t: AccessToken): Selectable<AccessTokensTable> => ({
  digest: t.digest, client_id: t.clientId, user_id: t.userId, grant_id: t.grantId, family_id: t.familyId,
  scopes: json(t.scopes), channels: json(t.channels), created_at: t.createdAt, expires_at: t.expiresAt,
  revoked_at: t.revokedAt, dpop_jkt: t.dpopJkt ?? null, resource: t.resource ?? null,
});

export function createAccessTokenRepo(s: Sql): AccessTokenRepo {
  const { k, first, run } = s;
  return {
    async insert(t) {
      const row = accessRow(t);
      await run('accessTokens.insert', (b) => b.insertInto('access_tokens').values(placeholders(row)), row);
    },
    async get(digest) {
      const r = await first<Selectable<AccessTokensTable>>('accessTokens.get', (b) => b.selectFrom('access_tokens')
        .selectAll().where('digest', '=', param('digest')), { digest });
      return r && toAccess(r);
    },
    async getWithGrant(digest) {
      const r = await first<Selectable<AccessTokensTable> & GrantAndNickname>('accessTokens.getWithGrant', (b) => b
        .selectFrom('access_tokens as t').leftJoin('grants as g', 'g.id', 't.grant_id').leftJoin('users as u', 'u.id', 'g.user_id')
        .selectAll('t').select(GRANT_AND_NICKNAME)
        .where('t.digest', '=', param('digest')), { digest });
      if (!r) return undefined;
      return { token: toAccess(r), grant: joinedGrant(r), nickname: r.u_nickname };
    },
    async revoke(digest, now) {
      await k.updateTable('access_tokens').set({ revoked_at: now }).where('digest', '=', digest)
        .where('revoked_at', 'is', null).execute();
    },
  };
}
