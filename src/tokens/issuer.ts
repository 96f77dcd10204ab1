// Mints the tokens of one token response and builds the response body
// (RFC 6749 §5.1, OIDC Core §3.1.3.3).
import { randomHex } from '../crypto/random.js';
import type { Store, TokenSet } from '../store/store.js';
import type { AuditEvent, Client, Grant, RefreshToken, Resource } from '../store/types.js';
import { META_CHANNEL, formatList } from '../oauth/scopes.js';
import { scopesOf, withoutResourceScopes } from '../oauth/resource.js';
import { jtiDigest, signJwtAccessToken, type JwtAccessTokenInput } from './jwt_access_token.js';
import { digest, mintKeyed, timePrefix } from './opaque.js';
import { signIdToken, type IdTokenInput } from './id_token.js';
import type { KeyService } from './keys.js';

export const ACCESS_TOKEN_TTL_S = 1800;
export const REFRESH_TOKEN_TTL_S = 30 * 24 * 3600;
export const CODE_TTL_S = 60;

export interface TokenResponse {
  access_token: string;
  /** RFC 9449 §5: DPoP when the access token is bound to a key. */
  token_type: 'Bearer' | 'DPoP';
  expires_in: number;
  scope: string;
  channels?: string;
  id_token?: string;
  refresh_token?: string;
}

export interface UserTokenRequest {
  client: Client;
  grant: Grant;
  familyId: string;
  scopes: string[];
  channels: string[];
  authTime: number;
  /** How the person signed in (RFC 8176), for the ID token; needed when one is issued. */
  amr?: readonly string[];
  nonce?: string | null;
  /** Scopes the new refresh token carries (RFC 6749 §6: unchanged by narrowing). */
  refreshScopes?: string[];
  /** Channels the new refresh token carries (as refreshScopes). */
  refreshChannels?: string[];
  /**
   * False: no ID token even with `openid` (a refresh; the provider documentation: "New
   * user and refresh tokens are returned - new ID tokens are not").
   */
  idToken?: boolean;
  /** RFC 9449: the thumbprint of the DPoP key the access token is bound to. */
  dpopJkt?: string;
  /**
   * RFC 8707: the resource the access token is for (its audience): it carries only that
   * resource's scopes. Without one, it carries the user scopes (Alias's own APIs).
   */
  resource?: Resource;
  /** RFC 8707 §2.2: every resource granted, kept by the new refresh token. */
  resources?: string[];
  /** The refresh token this response rotates (its digest): it records what was issued for it. */
  rotated?: string;
  /** The response's audit event, stored with the tokens. */
  event?: AuditEvent;
  /** The user's nickname, when the caller has read it already (else read here if the ID token needs it). */
  nickname?: string | null;
}

/** Tokens stored in a transaction, with the ID token (and a JWT access token) still to sign. */
export interface MintedTokens {
  body: TokenResponse;
  idToken?: IdTokenInput;
  /** RFC 9068: signed in `complete`, after the commit (the row is keyed by its jti). */
  jwtAccessToken?: JwtAccessTokenInput;
}

export interface TokenIssuer {
  /**
   * Stores the tokens for a user's grant; call inside the transaction that consumed the
   * code or refresh token. Signing waits for `complete`, after the commit: it may read
   * keys from the database, which must not happen while a SQLite transaction holds it.
   */
  forUser(tx: Store, req: UserTokenRequest): Promise<MintedTokens>;
  complete(minted: MintedTokens): Promise<TokenResponse>;
  /** True when this client gets a refresh token for these scopes. */
  refreshAllowed(client: Client, scopes: string[]): boolean;
}

/**
 * A token family's id: the time it began (milliseconds, 12 hex digits) and 80 random bits.
 * Internal only (no token or answer carries it). Time-ordered so that a sign-in's code and
 * first tokens go to the end of the family indexes, onto the few pages the sign-ins just
 * before wrote, instead of a random page each (bench/README.md, "Time-ordered token
 * families"). A refresh joins its family where the family began, as with a random id.
 */
export const newFamilyId = (now: number): string => timePrefix(now) + randomHex(10);

export function createTokenIssuer(deps: {
  issuer: string;
  keys: KeyService;
  now: () => number;
  nickname: (userId: string, tx: Store) => Promise<string | null>;
}): TokenIssuer {
  const refreshAllowed = (client: Client, scopes: string[]) =>
    !client.isPublic && client.grantTypes.includes('refresh_token') && scopes.includes('offline_access');

  return {
    refreshAllowed,
    async forUser(tx, req) {
      const t = deps.now();
      const resource = req.resource;
      // RFC 8707 §2.2: a resource's token carries that resource's scopes only; a token
      // for Alias's own APIs carries no resource's scopes.
      const atScopes = resource ? scopesOf(req.scopes, resource.uri) : withoutResourceScopes(req.scopes);
      const channels = !resource && req.scopes.includes('contact') ? req.channels.filter((c) => c !== META_CHANNEL) : [];
      const ttlS = resource ? resource.ttlS : ACCESS_TOKEN_TTL_S;
      const expiresAt = t + ttlS * 1000;
      const jwt = resource?.tokenFormat === 'jwt';
      const accessToken = mintKeyed();
      const accessDigest = jwt ? jtiDigest(accessToken) : digest(accessToken);
      const set: TokenSet = { access: {
        digest: accessDigest, clientId: req.client.id, userId: req.grant.userId,
        grantId: req.grant.id, familyId: req.familyId, scopes: atScopes, channels, createdAt: t, expiresAt,
        revokedAt: null, ...(req.dpopJkt ? { dpopJkt: req.dpopJkt } : {}), ...(resource ? { resource: resource.uri } : {}),
      } };
      const body: TokenResponse = {
        access_token: accessToken,
        token_type: req.dpopJkt ? 'DPoP' : 'Bearer',
        expires_in: ttlS,
        scope: formatList(atScopes),
      };
      if (!resource && req.scopes.includes('contact')) body.channels = formatList(channels);
      const jwtAccessToken: JwtAccessTokenInput | undefined = jwt ? {
        alg: req.client.idTokenSignedResponseAlg, issuer: deps.issuer, audience: resource.uri, sub: req.grant.sub,
        clientId: req.client.id, jti: accessToken, scopes: atScopes, issuedAt: t, expiresAt, authTime: req.authTime,
        amr: req.amr, ...(req.dpopJkt ? { dpopJkt: req.dpopJkt } : {}),
      } : undefined;
      const refreshScopes = req.refreshScopes ?? req.scopes;
      if (refreshAllowed(req.client, refreshScopes)) {
        const refreshToken = mintKeyed();
        const refresh: RefreshToken = {
          digest: digest(refreshToken), clientId: req.client.id, userId: req.grant.userId, grantId: req.grant.id,
          familyId: req.familyId, scopes: refreshScopes,
          channels: refreshScopes.includes('contact') ? (req.refreshChannels ?? req.channels).filter((c) => c !== META_CHANNEL) : [],
          authTime: req.authTime, createdAt: t, expiresAt: t + REFRESH_TOKEN_TTL_S * 1000, rotatedAt: null,
          revokedAt: null,
          ...(req.resources?.length ? { resources: req.resources } : {}),
          // RFC 9449 §5: a public client's refresh token is bound to its DPoP key; a
          // confidential client's is not (it authenticates at every refresh).
          ...(req.dpopJkt && req.client.isPublic ? { dpopJkt: req.dpopJkt } : {}),
        };
        set.refresh = refresh;
        // What this rotation answered, so a retry after a lost answer can take it back.
        if (req.rotated !== undefined) set.rotated = { digest: req.rotated, next: { refresh: refresh.digest, access: accessDigest } };
        body.refresh_token = refreshToken;
      }
      let idToken: IdTokenInput | undefined;
      if (req.scopes.includes('openid') && req.idToken !== false) {
        if (!req.amr) throw new Error('an ID token needs the sign-in methods (amr)');
        idToken = {
          alg: req.client.idTokenSignedResponseAlg,
          issuer: deps.issuer,
          clientId: req.client.id,
          sub: req.grant.sub,
          authTime: req.authTime,
          amr: req.amr,
          nonce: req.nonce,
          accessToken,
          nickname: !req.scopes.includes('nickname') ? null
            : req.nickname !== undefined ? req.nickname : await deps.nickname(req.grant.userId, tx),
          now: t,
        };
      }
      // "Last used" is shown by the minute; skip the write when it is already that fresh.
      if (req.grant.lastUsedAt === null || t - req.grant.lastUsedAt >= 60_000) set.touch = { grantId: req.grant.id, at: t };
      if (req.event) set.event = req.event;
      // Every row in one write: one round trip on PostgreSQL.
      await tx.tokenSets.insert(set);
      return { body, idToken, jwtAccessToken };
    },
    async complete({ body, idToken, jwtAccessToken }) {
      if (jwtAccessToken) {
        const jwt = await signJwtAccessToken(deps.keys, jwtAccessToken);
        body = { ...body, access_token: jwt };
        // OIDC Core §3.1.3.6: at_hash is of the access token as the client receives it.
        if (idToken) idToken = { ...idToken, accessToken: jwt };
      }
      return idToken ? { ...body, id_token: await signIdToken(deps.keys, idToken) } : body;
    },
  };
}
