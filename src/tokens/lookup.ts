// Finds what an opaque token is, for introspection and revocation: an access token or
// a refresh token, with the user's current grant applied; and the live user access
// token behind a Bearer request (userinfo, the relay).
import type { Store } from '../store/store.js';
import type { AccessToken, Grant, RefreshToken } from '../store/types.js';
import { intersect } from '../oauth/scopes.js';
import { digest } from './opaque.js';
import { accessTokenDigest } from './jwt_access_token.js';
import { qualify } from '../oauth/resource.js';

export type FoundToken =
  | { kind: 'access_token'; rec: AccessToken; active: boolean; grant?: Grant; scopes: string[]; channels: string[] }
  | { kind: 'refresh_token'; rec: RefreshToken; active: boolean; grant?: Grant; scopes: string[]; channels: string[] };

/** What a lookup reads: the token tables and the clock. The services object fits as it is. */
export interface LookupDeps {
  store: Store;
  now: () => number;
}

export async function findToken(s: LookupDeps, token: string, hint?: string): Promise<FoundToken | undefined> {
  const now = s.now();
  // RFC 7009 §2.1 / RFC 7662 §2.1: the hint only orders the search.
  const order: FoundToken['kind'][] = hint === 'refresh_token' ? ['refresh_token', 'access_token'] : ['access_token', 'refresh_token'];
  for (const kind of order) {
    if (kind === 'access_token') {
      const found = await s.store.accessTokens.getWithGrant(accessTokenDigest(token));
      if (!found) continue;
      const { token: rec, grant } = found;
      const live = rec.revokedAt === null && rec.expiresAt > now && (rec.grantId === null || grant !== undefined);
      return { kind, rec, active: live, grant,
        scopes: liveScopes(rec, grant),
        channels: grant ? intersect(rec.channels, grant.channels) : rec.channels };
    }
    // Each digest only when its table is read: a token found first costs one SHA-256.
    const rec = await s.store.refreshTokens.get(digest(token));
    if (!rec) continue;
    const grant = await s.store.grants.getById(rec.grantId);
    const live = rec.revokedAt === null && rec.rotatedAt === null && rec.expiresAt > now && grant !== undefined &&
      grant.scopes.includes('offline_access');
    return { kind, rec, active: live, grant,
      scopes: grant ? intersect(rec.scopes, grant.scopes) : [], channels: grant ? intersect(rec.channels, grant.channels) : [] };
  }
  return undefined;
}

/**
 * The access token's scopes the user still grants. A resource's token carries the names
 * of that resource's scopes, which the grant keeps qualified by the resource's URI.
 */
function liveScopes(rec: AccessToken, grant: Grant | undefined): string[] {
  if (!grant) return rec.scopes;
  const resource = rec.resource;
  return resource ? rec.scopes.filter((x) => grant.scopes.includes(qualify(resource, x))) : intersect(rec.scopes, grant.scopes);
}

export interface ActiveUserToken {
  token: AccessToken;
  grant: Grant;
  /** The token's scopes still granted by the user right now. */
  scopes: string[];
  channels: string[];
  /** The user's nickname, read with the token (userinfo: no second round trip). */
  nickname: string | null;
}

/** Looks a user access token up and applies revocations made since it was issued. */
export async function activeUserToken(s: LookupDeps, token: string): Promise<ActiveUserToken | undefined> {
  const found = await s.store.accessTokens.getWithGrant(accessTokenDigest(token));
  if (!found) return undefined;
  const { token: rec, grant, nickname } = found;
  // RFC 8707: a token for another resource (its audience) is not for Alias's own APIs.
  if (rec.resource) return undefined;
  if (rec.revokedAt !== null || rec.expiresAt <= s.now() || !rec.grantId || !grant) return undefined;
  return { token: rec, grant, scopes: intersect(rec.scopes, grant.scopes), channels: intersect(rec.channels, grant.channels), nickname };
}
