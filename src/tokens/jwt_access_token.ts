// RFC 9068: JWT access tokens for resources registered with `--token-format jwt`, signed
// with the keys that sign ID tokens (published in JWKS). The store keeps a row for each,
// keyed by a digest of its `jti`, so introspection, revocation and the grant's cascade
// work as for opaque tokens; validators that only check the signature do not see a
// revocation (docs/resources.md), which is why these tokens live 5 minutes by default.
import { decodeJwt } from 'jose';
import { acrOf } from '../oauth/acr.js';
import type { SigningAlg } from '../oauth/signing_algs.js';
import type { KeyService } from './keys.js';
import { signJwt } from './jws.js';
import { digest } from './opaque.js';

/** RFC 9068 §2.2 default lifetime of a JWT access token, and the longest one allowed. */
export const JWT_ACCESS_TOKEN_TTL_S = 300;
/** Signing keys stay published until an ID token's lifetime after retiring (keys.ts): no token may outlive that. */
export const MAX_RESOURCE_TTL_S = 3600;

export interface JwtAccessTokenInput {
  alg: SigningAlg;
  issuer: string;
  /** RFC 9068 §2.2 aud: the resource's URI. */
  audience: string;
  /** The pairwise alias ID for user tokens; the client_id for client credentials (RFC 9068 §2.2). */
  sub: string;
  clientId: string;
  jti: string;
  scopes: string[];
  issuedAt: number;
  expiresAt: number;
  /** RFC 9068 §2.2.1: when a person signed in. */
  authTime?: number;
  amr?: readonly string[];
  /** RFC 9449 §6.1: cnf.jkt of a DPoP-bound token. */
  dpopJkt?: string;
}

export async function signJwtAccessToken(keys: KeyService, t: JwtAccessTokenInput): Promise<string> {
  const key = await keys.signingKey(t.alg);
  const claims: Record<string, unknown> = { client_id: t.clientId, scope: t.scopes.join(' ') };
  if (t.authTime !== undefined) claims.auth_time = Math.floor(t.authTime / 1000);
  if (t.amr?.length) {
    claims.amr = [...t.amr];
    claims.acr = acrOf(t.amr);
  }
  if (t.dpopJkt) claims.cnf = { jkt: t.dpopJkt };
  // RFC 9068 §2.1: typ MUST be at+jwt.
  return signJwt(key, { typ: 'at+jwt' }, {
    ...claims, iss: t.issuer, aud: t.audience, sub: t.sub, jti: t.jti,
    iat: Math.floor(t.issuedAt / 1000), exp: Math.floor(t.expiresAt / 1000),
  });
}

/** What the store keys a JWT access token by: a digest of its jti, apart from opaque tokens' digests. */
export const jtiDigest = (jti: string): string => digest(`at+jwt:${jti}`);

const JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * The store key of a presented access token: an opaque token's digest, or for a JWT its
 * jti's. The signature is not checked here: only the holder of the token knows its jti
 * (256 random bits), and a lookup answers with what is stored, never with the JWT's claims.
 */
export function accessTokenDigest(token: string): string {
  if (token.length > 8192 || !JWS.test(token)) return digest(token);
  try {
    const { jti } = decodeJwt(token);
    return typeof jti === 'string' && jti ? jtiDigest(jti) : digest(token);
  } catch {
    return digest(token);
  }
}
