// CodeRepo: authorization codes, by digest; single use.
import type { Selectable } from 'kysely';
import type { AuthorizationCodesTable } from '../schema.js';
import type { CodeRepo } from '../store.js';
import type { AuthorizationCode } from '../types.js';
import { placeholders } from '../compiled.js';
import { json, list, type Sql } from './context.js';
import { singleUse } from './single_use.js';
import { PASSWORD_AMR } from '../../oauth/acr.js';

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
  amr: r.amr === null ? [...PASSWORD_AMR] : list(r.amr),
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  consumedAt: r.consumed_at,
  // Only bound rows carry it (the field is optional: Bearer tokens and unbound codes).
  ...(r.dpop_jkt ? { dpopJkt: r.dpop_jkt } : {}),
  ...(r.resources ? { resources: list(r.resources) } : {}),
});

/** A code is consumed once (single_use.ts). */
const codes = singleUse({
  table: 'authorization_codes', getName: 'codes.get', spendName: 'codes.consume', mark: 'consumed_at', to: toCode,
});

export function createCodeRepo(s: Sql): CodeRepo {
  const { run } = s;
  return {
    async insert(c) {
      const row: Selectable<AuthorizationCodesTable> = {
        digest: c.digest, client_id: c.clientId, user_id: c.userId, grant_id: c.grantId, family_id: c.familyId,
        redirect_uri: c.redirectUri, code_challenge: c.codeChallenge, scopes: json(c.scopes),
        channels: json(c.channels), nonce: c.nonce, auth_time: c.authTime, amr: json(c.amr), created_at: c.createdAt,
        expires_at: c.expiresAt, consumed_at: c.consumedAt, dpop_jkt: c.dpopJkt ?? null,
        resources: c.resources?.length ? json(c.resources) : null,
      };
      await run('codes.insert', (b) => b.insertInto('authorization_codes').values(placeholders(row)), row);
    },
    get: (digest) => codes.get(s, digest),
    consume: (digest, now) => codes.spend(s, digest, now),
    consumeWithGrant: (digest, now) => codes.spendWithGrant(s, digest, now),
  };
}
