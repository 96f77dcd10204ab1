// Token revocation (RFC 7009 §2.1): a client takes back one of its own tokens. Revoking
// a refresh token revokes every token of its family.
import type { Audit } from '../audit/audit.js';
import type { Store } from '../store/store.js';
import type { FoundToken } from './lookup.js';

/**
 * Revokes the token if `clientId` owns it; false (nothing done) for another client's token
 * or none at all, which the caller answers exactly like an unknown token. The change and
 * its `token.revoked` event commit together; revoking a revoked token is no event.
 */
export async function revokeOwnToken(s: { store: Store; now: () => number; audit: Audit }, found: FoundToken | undefined,
  by: { clientId: string; ip: string }): Promise<boolean> {
  if (!found || found.rec.clientId !== by.clientId) return false;
  const { kind, rec } = found;
  const now = s.now();
  await s.store.transaction(async (tx) => {
    if (kind === 'refresh_token') await tx.families.revoke(rec.familyId, now);
    else await tx.accessTokens.revoke(rec.digest, now);
    if (rec.revokedAt === null) {
      await s.audit.record({ type: 'token.revoked', clientId: by.clientId, userId: rec.userId, ip: by.ip,
        detail: `token_type=${kind}` }, tx);
    }
  });
  return true;
}
