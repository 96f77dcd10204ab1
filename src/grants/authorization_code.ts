// RFC 6749 §4.1.3 access token request with an authorization code; RFC 7636 §4.5–4.6.
import { invalidGrant } from '../oauth/errors.js';
import { required, single } from '../oauth/params.js';
import { verifyS256 } from '../oauth/pkce.js';
import { intersect } from '../oauth/scopes.js';
import { digest } from '../tokens/opaque.js';
import type { GrantHandler } from './types.js';
import type { AuthorizationCode } from '../store/types.js';
import { issuedEvent, revokeReusedFamily } from './audit.js';
import { readTokenResource } from '../oauth/resource.js';
import { grantedResource } from './resource.js';

export const authorizationCode: GrantHandler = {
  grantType: 'authorization_code',
  params: ['code', 'redirect_uri', 'code_verifier', 'resource'],
  confidentialOnly: false,
  // RFC 6749 §4.1.1: the code comes back to a registered redirect URI.
  needsRedirectUri: true,
  async handle(ctx) {
    const { s, client, params } = ctx;
    const code = required(params, 'code');
    // RFC 6749 §4.1.3: redirect_uri REQUIRED when it was in the authorization request,
    // which Alias always requires (OIDC Core §3.1.2.1).
    const redirectUri = required(params, 'redirect_uri');
    const verifier = single(params, 'code_verifier');
    const requestedResource = readTokenResource(params);
    const codeDigest = digest(code);
    const now = s.now();

    // One conditional UPDATE decides the single winner and returns the code; a check
    // that fails afterwards throws inside the transaction, which rolls the redemption
    // back, so the code stays redeemable by its rightful client.
    const result = await s.store.transaction(async (tx) => {
      // The code, its grant and the user's nickname: one statement on PostgreSQL.
      const spent = await tx.codes.consumeWithGrant(codeDigest, now);
      if (!spent) return undefined;
      const rec = spent.row;
      checkRedemption(rec, client.id, redirectUri, verifier, now);
      // RFC 9449 §10: a code issued for dpop_jkt is redeemed only with a proof of that key.
      if (rec.dpopJkt && rec.dpopJkt !== ctx.dpopJkt) throw invalidGrant('the DPoP proof key does not match the dpop_jkt of the authorization request');
      const grant = spent.grant;
      if (!grant) throw invalidGrant('the user revoked this application');
      // RFC 8707 §2.2: the access token is for one of the resources the code was granted for.
      const resource = await grantedResource(tx, requestedResource, rec.resources ?? []);
      // Rights the user revoked since the code was issued are gone.
      const minted = await s.tokens.forUser(tx, {
        client, grant, familyId: rec.familyId, scopes: intersect(rec.scopes, grant.scopes),
        channels: intersect(rec.channels, grant.channels), authTime: rec.authTime, amr: rec.amr, nonce: rec.nonce,
        dpopJkt: ctx.dpopJkt, resource, resources: rec.resources, nickname: spent.nickname,
        // The tokens and their audit event: one write (one round trip on PostgreSQL).
        event: issuedEvent(ctx, 'authorization_code', grant.sub),
      });
      return minted;
    });
    if (result === undefined) {
      // Unknown, or already redeemed (by this request's rival or earlier).
      const rec = await s.store.codes.get(codeDigest);
      if (!rec || rec.clientId !== client.id) throw invalidGrant('the authorization code is invalid');
      // RFC 6749 §4.1.2: a reused code SHOULD revoke every token issued from it.
      await revokeReusedFamily(ctx, rec, 'code.reused');
      throw invalidGrant('the authorization code was already used');
    }
    return { ...(await s.tokens.complete(result)) };
  },
};

/** RFC 6749 §4.1.3 and RFC 7636 §4.6: what must hold for `client` to redeem `rec`. */
function checkRedemption(rec: AuthorizationCode, clientId: string, redirectUri: string, verifier: string | undefined,
  now: number): void {
  if (rec.clientId !== clientId) throw invalidGrant('the authorization code is invalid');
  if (rec.expiresAt <= now) throw invalidGrant('the authorization code has expired');
  if (rec.redirectUri !== redirectUri) throw invalidGrant('redirect_uri does not match the authorization request');
  if (rec.codeChallenge !== null) {
    if (!verifier) throw invalidGrant('code_verifier is required (PKCE)');
    if (!verifyS256(verifier, rec.codeChallenge)) throw invalidGrant('code_verifier does not match the code_challenge');
  } else if (verifier !== undefined) {
    // RFC 9700 §4.8.2: reject a verifier when no challenge was sent (PKCE downgrade).
    throw invalidGrant('code_verifier sent but the authorization request had no code_challenge');
  }
}
