// RFC 6749 §6 refreshing an access token, with rotation and reuse detection
// (RFC 9700 §4.14.2).
import { OAuthError } from '../oauth/errors.js';
import { required, single } from '../oauth/params.js';
import { intersect, parseList, subset } from '../oauth/scopes.js';
import { digest } from '../tokens/opaque.js';
import type { GrantHandler } from './types.js';
import { auditIssued, revokeReusedFamily } from './audit.js';

const invalidGrant = (why: string) => new OAuthError('invalid_grant', why);

export const refreshToken: GrantHandler = {
  grantType: 'refresh_token',
  async handle(ctx) {
    const { s, client, params } = ctx;
    const token = required(params, 'refresh_token');
    const scopeParam = single(params, 'scope');
    const tokenDigest = digest(token);
    const rec = await s.store.refreshTokens.get(tokenDigest);
    if (!rec || rec.clientId !== client.id || rec.revokedAt !== null) throw invalidGrant('the refresh token is invalid');
    if (rec.rotatedAt !== null) {
      await revokeReusedFamily(ctx, rec, 'refresh_token.reused');
      throw invalidGrant('the refresh token was already used');
    }
    if (rec.expiresAt <= s.now()) throw invalidGrant('the refresh token has expired');
    // RFC 6749 §6: the requested scope MUST NOT include any scope not originally granted.
    const requested = scopeParam === undefined ? rec.scopes : parseList(scopeParam);
    if (!subset(requested, rec.scopes)) throw new OAuthError('invalid_scope', 'scope exceeds what the refresh token grants');

    const result = await s.store.transaction(async (tx) => {
      const grant = await tx.grants.getById(rec.grantId);
      if (!grant || !grant.scopes.includes('offline_access')) return 'revoked' as const;
      if (!(await tx.refreshTokens.rotate(tokenDigest, s.now()))) return 'reused' as const;
      // Scopes the user revoked since are dropped from both tokens.
      const minted = await s.tokens.forUser(tx, {
        client, grant, familyId: rec.familyId,
        scopes: intersect(requested, grant.scopes),
        channels: intersect(rec.channels, grant.channels),
        refreshScopes: intersect(rec.scopes, grant.scopes),
        authTime: rec.authTime,
      });
      await auditIssued(ctx, tx, 'refresh_token', grant.sub);
      return minted;
    });
    if (result === 'reused') {
      await revokeReusedFamily(ctx, rec, 'refresh_token.reused');
      throw invalidGrant('the refresh token was already used');
    }
    if (result === 'revoked') throw invalidGrant('the user revoked offline access for this application');
    return { ...(await s.tokens.complete(result)) };
  },
};
