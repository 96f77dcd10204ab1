// RFC 6749 §4.1.3 access token request with an authorization code; RFC 7636 §4.5–4.6.
import { OAuthError } from '../oauth/errors.js';
import { required, single } from '../oauth/params.js';
import { verifyS256 } from '../oauth/pkce.js';
import { intersect } from '../oauth/scopes.js';
import { digest } from '../tokens/opaque.js';
import type { GrantHandler } from './types.js';
import { auditIssued, revokeReusedFamily } from './audit.js';

const invalidGrant = (why: string) => new OAuthError('invalid_grant', why);

export const authorizationCode: GrantHandler = {
  grantType: 'authorization_code',
  async handle(ctx) {
    const { s, client, params } = ctx;
    const code = required(params, 'code');
    // RFC 6749 §4.1.3: redirect_uri REQUIRED when it was in the authorization request,
    // which Alias always requires (OIDC Core §3.1.2.1).
    const redirectUri = required(params, 'redirect_uri');
    const verifier = single(params, 'code_verifier');
    const codeDigest = digest(code);
    const rec = await s.store.codes.get(codeDigest);
    // Checks that fail change nothing: the code stays redeemable by its rightful client.
    if (!rec || rec.clientId !== client.id) throw invalidGrant('the authorization code is invalid');
    if (rec.consumedAt !== null) {
      // RFC 6749 §4.1.2: a reused code SHOULD revoke every token issued from it.
      await revokeReusedFamily(ctx, rec, 'code.reused');
      throw invalidGrant('the authorization code was already used');
    }
    if (rec.expiresAt <= s.now()) throw invalidGrant('the authorization code has expired');
    if (rec.redirectUri !== redirectUri) throw invalidGrant('redirect_uri does not match the authorization request');
    if (rec.codeChallenge !== null) {
      if (!verifier) throw invalidGrant('code_verifier is required (PKCE)');
      if (!verifyS256(verifier, rec.codeChallenge)) throw invalidGrant('code_verifier does not match the code_challenge');
    } else if (verifier !== undefined) {
      // RFC 9700 §4.8.2: reject a verifier when no challenge was sent (PKCE downgrade).
      throw invalidGrant('code_verifier sent but the authorization request had no code_challenge');
    }

    const result = await s.store.transaction(async (tx) => {
      const won = await tx.codes.consume(codeDigest, s.now());
      if (!won) return 'reused' as const;
      const grant = await tx.grants.getById(rec.grantId);
      if (!grant) return 'revoked' as const;
      // Rights the user revoked since the code was issued are gone.
      const scopes = intersect(rec.scopes, grant.scopes);
      const minted = await s.tokens.forUser(tx, {
        client, grant, familyId: rec.familyId, scopes, channels: intersect(rec.channels, grant.channels),
        authTime: rec.authTime, nonce: rec.nonce,
      });
      await auditIssued(ctx, tx, 'authorization_code', grant.sub);
      return minted;
    });
    if (result === 'reused') {
      await revokeReusedFamily(ctx, rec, 'code.reused');
      throw invalidGrant('the authorization code was already used');
    }
    if (result === 'revoked') throw invalidGrant('the user revoked this application');
    return { ...(await s.tokens.complete(result)) };
  },
};
