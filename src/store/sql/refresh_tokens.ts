// RefreshTokenRepo: refresh tokens, by digest; each is rotated once.
import type { Selectable } from 'kysely';
import type { RefreshTokensTable } from '../schema.js';
import type { RefreshTokenRepo } from '../store.js';
import type { RefreshToken } from '../types.js';
import { param, placeholders } from '../compiled.js';
import { json, list, type Sql } from './context.js';
import { singleUse } from './single_use.js';

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
  // Only bound rows carry it (the field is optional: Bearer tokens and unbound codes).
  ...(r.dpop_jkt ? { dpopJkt: r.dpop_jkt } : {}),
  ...(r.resources ? { resources: list(r.resources) } : {}),
  // Migration 018, set only on rotated tokens.
  ...(r.next_digest ? { nextDigest: r.next_digest, nextAccessDigest: r.next_access_digest } : {}),
  ...(r.retried_at !== null && r.retried_at !== undefined ? { retriedAt: Number(r.retried_at) } : {}),
});

export const refreshRow = (t: RefreshToken): Selectable<RefreshTokensTable> => ({
  digest: t.digest, client_id: t.clientId, user_id: t.userId, grant_id: t.grantId, family_id: t.familyId,
  scopes: json(t.scopes), channels: json(t.channels), auth_time: t.authTime, created_at: t.createdAt,
  expires_at: t.expiresAt, rotated_at: t.rotatedAt, revoked_at: t.revokedAt, dpop_jkt: t.dpopJkt ?? null,
  resources: t.resources?.length ? json(t.resources) : null,
  next_digest: t.nextDigest ?? null, next_access_digest: t.nextAccessDigest ?? null, retried_at: t.retriedAt ?? null,
});

/** A token is rotated once, and only while it is current: neither rotated nor revoked (single_use.ts). */
const tokens = singleUse({
  table: 'refresh_tokens', getName: 'refreshTokens.get', spendName: 'refreshTokens.rotate', mark: 'rotated_at',
  alsoNull: ['revoked_at'], to: toRefresh,
});

export function createRefreshTokenRepo(s: Sql): RefreshTokenRepo {
  const { k, run } = s;
  return {
    async insert(t) {
      const row = refreshRow(t);
      await run('refreshTokens.insert', (b) => b.insertInto('refresh_tokens').values(placeholders(row)), row);
    },
    get: (digest) => tokens.get(s, digest),
    rotate: (digest, now) => tokens.spend(s, digest, now),
    rotateWithGrant: (digest, now) => tokens.spendWithGrant(s, digest, now),
    async link(digest, next) {
      await run('refreshTokens.link', (b) => b.updateTable('refresh_tokens')
        .set({ next_digest: param<string>('refresh'), next_access_digest: param<string>('access') })
        .where('digest', '=', param('digest')), { digest, refresh: next.refresh, access: next.access });
    },
    async claimRetry(digest, now, rotatedSince) {
      // One conditional UPDATE: the database picks the single winner among parallel retries
      // (PostgreSQL re-checks the WHERE after waiting on the row lock; SQLite writes serially).
      const r = await s.first<Selectable<RefreshTokensTable>>('refreshTokens.claimRetry', (b) => b.updateTable('refresh_tokens')
        .set({ retried_at: param<number>('now') }).where('digest', '=', param('digest'))
        .where('retried_at', 'is', null).where('revoked_at', 'is', null).where('rotated_at', '>=', param<number>('since'))
        .returningAll(), { digest, now, since: rotatedSince });
      return r && toRefresh(r);
    },
    supersede: (digest, now) => tokens.spend(s, digest, now),
    async revoke(digest, now) {
      await k.updateTable('refresh_tokens').set({ revoked_at: now }).where('digest', '=', digest)
        .where('revoked_at', 'is', null).execute();
    },
  };
}
