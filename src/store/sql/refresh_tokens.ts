// RefreshTokenRepo: refresh tokens, by digest; each is rotated once.
import type { Selectable } from 'kysely';
import type { RefreshTokensTable } from '../schema.js';
import type { RefreshTokenRepo } from '../store.js';
import type { RefreshToken } from '../types.js';
import { param, placeholders } from '../compiled.js';
import { json, list, type Sql } from './context.js';

const toRefresh = (r: Selectable<RefreshTokensTable>): RefreshToken => ({
  digest: r.digest,
  clientId: r.client_id,
  userId: r.user_id,
  grantId: r.grant_id,
  familyId: r.family_id,
  scopes: list(r.scopes),
  channels: list(r.channels),
  authTime: r.auth_time,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  rotatedAt: r.rotated_at,
  revokedAt: r.revoked_at,
});

export function createRefreshTokenRepo(s: Sql): RefreshTokenRepo {
  const { k, first, run } = s;
  return {
    async insert(t) {
      const row: Selectable<RefreshTokensTable> = {
        digest: t.digest, client_id: t.clientId, user_id: t.userId, grant_id: t.grantId, family_id: t.familyId,
        scopes: json(t.scopes), channels: json(t.channels), auth_time: t.authTime, created_at: t.createdAt,
        expires_at: t.expiresAt, rotated_at: t.rotatedAt, revoked_at: t.revokedAt,
      };
      await run('refreshTokens.insert', (b) => b.insertInto('refresh_tokens').values(placeholders(row)), row);
    },
    async get(digest) {
      const r = await first<Selectable<RefreshTokensTable>>('refreshTokens.get', (b) => b.selectFrom('refresh_tokens')
        .selectAll().where('digest', '=', param('digest')), { digest });
      return r && toRefresh(r);
    },
    async rotate(digest, now) {
      // One conditional UPDATE decides the single winner and returns the token (as codes.consume).
      const r = await first<Selectable<RefreshTokensTable>>('refreshTokens.rotate', (b) => b.updateTable('refresh_tokens')
        .set({ rotated_at: param<number>('now') }).where('digest', '=', param('digest'))
        .where('rotated_at', 'is', null).where('revoked_at', 'is', null).returningAll(), { digest, now });
      return r && toRefresh(r);
    },
    async revoke(digest, now) {
      await k.updateTable('refresh_tokens').set({ revoked_at: now }).where('digest', '=', digest)
        .where('revoked_at', 'is', null).execute();
    },
  };
}
