// CodeRepo: authorization codes, by digest; single use.
import type { Selectable } from 'kysely';
import type { AuthorizationCodesTable } from '../schema.js';
import type { CodeRepo } from '../store.js';
import type { AuthorizationCode } from '../types.js';
import { param, placeholders } from '../compiled.js';
import { json, list, type Sql } from './context.js';

const toCode = (r: Selectable<AuthorizationCodesTable>): AuthorizationCode => ({
  digest: r.digest,
  clientId: r.client_id,
  userId: r.user_id,
  grantId: r.grant_id,
  familyId: r.family_id,
  redirectUri: r.redirect_uri,
  codeChallenge: r.code_challenge,
  scopes: list(r.scopes),
  channels: list(r.channels),
  nonce: r.nonce,
  authTime: r.auth_time,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  consumedAt: r.consumed_at,
});

export function createCodeRepo(s: Sql): CodeRepo {
  const { first, run } = s;
  return {
    async insert(c) {
      const row: Selectable<AuthorizationCodesTable> = {
        digest: c.digest, client_id: c.clientId, user_id: c.userId, grant_id: c.grantId, family_id: c.familyId,
        redirect_uri: c.redirectUri, code_challenge: c.codeChallenge, scopes: json(c.scopes),
        channels: json(c.channels), nonce: c.nonce, auth_time: c.authTime, created_at: c.createdAt,
        expires_at: c.expiresAt, consumed_at: c.consumedAt,
      };
      await run('codes.insert', (b) => b.insertInto('authorization_codes').values(placeholders(row)), row);
    },
    async get(digest) {
      const r = await first<Selectable<AuthorizationCodesTable>>('codes.get', (b) => b.selectFrom('authorization_codes')
        .selectAll().where('digest', '=', param('digest')), { digest });
      return r && toCode(r);
    },
    async consume(digest, now) {
      // One conditional UPDATE: the database decides the single winner.
      const r = await first<Selectable<AuthorizationCodesTable>>('codes.consume', (b) => b.updateTable('authorization_codes')
        .set({ consumed_at: param<number>('now') }).where('digest', '=', param('digest')).where('consumed_at', 'is', null)
        .returningAll(), { digest, now });
      return r && toCode(r);
    },
  };
}
