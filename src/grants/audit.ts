// The token endpoint's audit events, each written in the transaction of the change it
// records: with the tokens, in the same write (TokenSetRepo).
import type { Store } from '../store/store.js';
import type { AuditEvent } from '../store/types.js';
import type { GrantContext } from './types.js';

/**
 * `token.issued`, for the grant type that issued it (`sub` is null for client tokens),
 * for the store method that writes it with the tokens.
 */
export function issuedEvent(ctx: GrantContext, grantType: string, sub: string | null): AuditEvent {
  return ctx.s.audit.event({ type: 'token.issued', clientId: ctx.client.id, sub, ip: ctx.source,
    detail: `grant_type=${grantType}` });
}

/**
 * RFC 6749 §4.1.2 (codes), RFC 9700 §4.14.2 (refresh tokens): a second use revokes every
 * token of the family; the revocation and its audit event commit together.
 */
export function revokeReusedFamily(ctx: GrantContext, rec: { familyId: string; userId: string },
  type: 'code.reused' | 'refresh_token.reused'): Promise<void> {
  return ctx.s.store.transaction(async (tx) => {
    await tx.families.revoke(rec.familyId, ctx.s.now());
    await ctx.s.audit.record({ type, outcome: 'failure', clientId: ctx.client.id, userId: rec.userId, ip: ctx.source,
      detail: 'family=revoked' }, tx);
  });
}
