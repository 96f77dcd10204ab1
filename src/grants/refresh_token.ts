// RFC 6749 §6 refreshing an access token, with rotation and reuse detection
// (RFC 9700 §4.14.2).
import { OAuthError, invalidGrant } from '../oauth/errors.js';
import { required, single } from '../oauth/params.js';
import { intersect, parseList, subset } from '../oauth/scopes.js';
import { digest } from '../tokens/opaque.js';
import type { GrantHandler } from './types.js';
import { auditIssued, revokeReusedFamily } from './audit.js';

export const refreshToken: GrantHandler = {
  grantType: 'refresh_token',
  params: ['refresh_token', 'scope'],
  // DESIGN: refresh tokens only for confidential clients.
  confidentialOnly: true,
  needsRedirectUri: false,
  async handle(ctx) {
    const { s, client, params } = ctx;
    const token = required(params, 'refresh_token');
    const scopeParam = single(params, 'scope');
    const tokenDigest = digest(token);
    const now = s.now();

    // One conditional UPDATE decides the single winner and returns the token; a check
    // that fails afterwards throws inside the transaction, which rolls the rotation back,
    // so the token stays usable by its rightful client.
    const result = await s.store.transaction(async (tx) => {
      const rec = await tx.refreshTokens.rotate(tokenDigest, now);
      if (!rec) return undefined;
      if (rec.clientId !== client.id) throw invalidGrant('the refresh token is invalid');
      if (rec.expiresAt <= now) throw invalidGrant('the refresh token has expired');
      // RFC 6749 §6: the requested scope MUST NOT include any scope not originally granted.
      const requested = scopeParam === undefined ? rec.scopes : parseList(scopeParam);
      if (!subset(requested, rec.scopes)) throw new OAuthError('invalid_scope', 'scope exceeds what the refresh token grants');
      const grant = await tx.grants.getById(rec.grantId);
      if (!grant || !grant.scopes.includes('offline_access')) {
        throw invalidGrant('the user revoked offline access for this application');
      }
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
    if (result === undefined) {
      // Unknown, revoked, or already rotated (by this request's rival or earlier).
      const rec = await s.store.refreshTokens.get(tokenDigest);
      if (!rec || rec.clientId !== client.id || rec.revokedAt !== null || rec.rotatedAt === null) {
        throw invalidGrant('the refresh token is invalid');
      }
      // RFC 9700 §4.14.2: a rotated refresh token used again revokes its whole family.
      await revokeReusedFamily(ctx, rec, 'refresh_token.reused');
      throw invalidGrant('the refresh token was already used');
    }
    return { ...(await s.tokens.complete(result)) };
  },
};
