// RFC 6749 §6 refreshing an access token, with rotation and reuse detection
// (RFC 9700 §4.14.2), as the provider documentation defines it: "New user and refresh
// tokens are returned - new ID tokens are not"; a `scope` with any scope not among the
// original ones, or revoked since, fails; `openid` must be in every request; the rotated
// refresh token "always has the same functionality … as the one used".
// A used token presented again is a reuse, except for one retry after a lost answer
// (refresh_retry.ts, docs/security.md).
import { OAuthError, invalidGrant } from '../oauth/errors.js';
import { required, single } from '../oauth/params.js';
import { intersect, parseList, subset } from '../oauth/scopes.js';
import { digest } from '../tokens/opaque.js';
import type { MintedTokens } from '../tokens/issuer.js';
import type { Store } from '../store/store.js';
import type { Grant, RefreshToken } from '../store/types.js';
import type { GrantContext, GrantHandler } from './types.js';
import { issuedEvent, revokeReusedFamily } from './audit.js';
import { qualify, readTokenResource } from '../oauth/resource.js';
import { grantedResource } from './resource.js';
import { retryLostAnswer } from './refresh_retry.js';

export const refreshToken: GrantHandler = {
  grantType: 'refresh_token',
  params: ['refresh_token', 'scope', 'resource'],
  // DESIGN: refresh tokens only for confidential clients.
  confidentialOnly: true,
  needsRedirectUri: false,
  async handle(ctx) {
    const { s, client, params } = ctx;
    const token = required(params, 'refresh_token');
    const scopeParam = single(params, 'scope');
    const requestedResource = readTokenResource(params);
    const tokenDigest = digest(token);
    const now = s.now();

    // One conditional UPDATE decides the single winner and returns the token; a check
    // that fails afterwards throws inside the transaction, which rolls the rotation back,
    // so the token stays usable by its rightful client.
    const result = await s.store.transaction(async (tx) => {
      // The token and its grant: one statement on PostgreSQL.
      const spent = await tx.refreshTokens.rotateWithGrant(tokenDigest, now);
      return spent && refreshWith(ctx, tx, spent.row, scopeParam, requestedResource, spent);
    });
    if (result !== undefined) return { ...(await s.tokens.complete(result)) };

    // Unknown, revoked, or already rotated (by this request's rival or earlier).
    const rec = await s.store.refreshTokens.get(tokenDigest);
    if (!rec || rec.clientId !== client.id || rec.revokedAt !== null || rec.rotatedAt === null) {
      throw invalidGrant('the refresh token is invalid');
    }
    const retry = await retryLostAnswer(ctx, rec, (tx, claimed) => refreshWith(ctx, tx, claimed, scopeParam, requestedResource));
    if (retry === 'answered-already') throw invalidGrant('the refresh token was already used');
    if (retry === 'reuse') {
      // RFC 9700 §4.14.2: a rotated refresh token used again revokes its whole family.
      await revokeReusedFamily(ctx, rec, 'refresh_token.reused');
      throw invalidGrant('the refresh token was already used');
    }
    return { ...(await s.tokens.complete(retry)) };
  },
};

/**
 * The checks and the new tokens for a refresh token this request has just spent (rotated,
 * or claimed for a retry), inside that transaction: a failure throws and rolls it back.
 */
async function refreshWith(ctx: GrantContext, tx: Store, rec: RefreshToken, scopeParam: string | undefined,
  requestedResource: string | undefined, read?: { grant?: Grant }): Promise<MintedTokens> {
  const { s, client } = ctx;
  const now = s.now();
  if (rec.clientId !== client.id) throw invalidGrant('the refresh token is invalid');
  if (rec.expiresAt <= now) throw invalidGrant('the refresh token has expired');
  // RFC 9449 §5: a bound refresh token is used only with a proof of its key.
  if (rec.dpopJkt && rec.dpopJkt !== ctx.dpopJkt) throw invalidGrant('the DPoP proof key does not match the refresh token');
  // The grant as read with the token (a rotation), or now (a retry's claim).
  const grant = read ? read.grant : await tx.grants.getById(rec.grantId);
  if (!grant || !grant.scopes.includes('offline_access')) {
    throw invalidGrant('the user revoked offline access for this application');
  }
  // What the token may still do: its scopes that the user has not revoked since.
  const live = intersect(rec.scopes, grant.scopes);
  // RFC 8707 §2.2: the new access token is for one resource the refresh token was
  // granted for; without `resource`, the only one (a refresh keeps the audience).
  const resource = await grantedResource(tx, requestedResource, rec.resources ?? []);
  let scopes = live;
  if (scopeParam !== undefined && resource) {
    // RFC 8707 §2.2 with RFC 6749 §6: names of the resource's scopes, never beyond.
    const requested = parseList(scopeParam).map((x) => qualify(resource.uri, x));
    if (!subset(requested, rec.scopes)) throw new OAuthError('invalid_scope', 'scope exceeds what the refresh token grants');
    if (!subset(requested, live)) throw new OAuthError('invalid_scope', 'the user has revoked a requested scope');
    scopes = requested;
  } else if (scopeParam !== undefined) {
    const requested = parseList(scopeParam);
    // Provider docs: "The openid scope must be included in all requests".
    if (!requested.includes('openid')) throw new OAuthError('invalid_scope', 'the scope must include openid');
    // RFC 6749 §6 and the provider docs: no scope beyond the original ones or revoked since.
    if (!subset(requested, rec.scopes)) throw new OAuthError('invalid_scope', 'scope exceeds what the refresh token grants');
    if (!subset(requested, live)) throw new OAuthError('invalid_scope', 'the user has revoked a requested scope');
    scopes = requested;
  }
  const minted = await s.tokens.forUser(tx, {
    client, grant, familyId: rec.familyId, scopes,
    channels: intersect(rec.channels, grant.channels),
    // The rotated token keeps the full scopes and channels of the one used; what the
    // user revoked is taken away again at each use.
    refreshScopes: rec.scopes,
    refreshChannels: rec.channels,
    authTime: rec.authTime,
    idToken: false,
    dpopJkt: ctx.dpopJkt, resource, resources: rec.resources,
    // What this rotation answered is recorded on the spent token, so a retry after a lost
    // answer can take it back (refresh_retry.ts); with the tokens and the audit event, in
    // one write (one round trip on PostgreSQL).
    rotated: rec.digest,
    event: issuedEvent(ctx, 'refresh_token', grant.sub),
  });
  return minted;
}
