// RFC 8628 §3.4–3.5: the device polls the token endpoint with its device_code.
import { OAuthError, invalidGrant } from '../oauth/errors.js';
import { required } from '../oauth/params.js';
import { intersect } from '../oauth/scopes.js';
import { PASSWORD_AMR } from '../oauth/acr.js';
import { newFamilyId } from '../tokens/issuer.js';
import { digest } from '../tokens/opaque.js';
import { DEVICE_GRANT } from '../device/device_flow.js';
import type { GrantHandler } from './types.js';
import { issuedEvent } from './audit.js';

export const deviceCode: GrantHandler = {
  grantType: DEVICE_GRANT,
  params: ['device_code'],
  // RFC 8628 §3.4: public clients too (a TV app has no secret to keep).
  confidentialOnly: false,
  needsRedirectUri: false,
  async handle(ctx) {
    const { s, client, params } = ctx;
    const d = digest(required(params, 'device_code'));
    const rec = await s.store.deviceCodes.get(d);
    if (!rec || rec.clientId !== client.id) throw invalidGrant('the device code is invalid');
    if (rec.consumedAt !== null) throw invalidGrant('the device code was already used');
    const now = s.now();
    if (rec.expiresAt <= now) throw new OAuthError('expired_token', 'the device code has expired; start again');
    // §3.5 slow_down: polling faster than the interval adds 5 s to it.
    if (rec.lastPolledAt !== null && now - rec.lastPolledAt < rec.intervalS * 1000) {
      await s.store.deviceCodes.polled(d, now, rec.intervalS + 5);
      throw new OAuthError('slow_down', `poll at most every ${rec.intervalS + 5} seconds`);
    }
    await s.store.deviceCodes.polled(d, now, rec.intervalS);
    if (rec.status === 'pending') throw new OAuthError('authorization_pending', 'the user has not finished yet');
    if (rec.status === 'denied') throw new OAuthError('access_denied', 'the user denied the request');

    const minted = await s.store.transaction(async (tx) => {
      if (!(await tx.deviceCodes.consume(d, now))) return 'used' as const;
      const grant = rec.grantId ? await tx.grants.getById(rec.grantId) : undefined;
      if (!grant) return 'revoked' as const;
      const tokens = await s.tokens.forUser(tx, {
        client, grant, familyId: newFamilyId(now),
        scopes: intersect(rec.approvedScopes ?? [], grant.scopes),
        channels: intersect(rec.approvedChannels ?? [], grant.channels),
        authTime: rec.authTime ?? now,
        amr: rec.amr ?? PASSWORD_AMR,
        dpopJkt: ctx.dpopJkt,
        event: issuedEvent(ctx, DEVICE_GRANT, grant.sub),
      });
      return tokens;
    });
    if (minted === 'used') throw invalidGrant('the device code was already used');
    if (minted === 'revoked') throw invalidGrant('the user revoked this application');
    return { ...(await s.tokens.complete(minted)) };
  },
};
