// OIDC Core §2 and §3.1.3.6: the ID token.
import { createHash } from 'node:crypto';
import { randomToken } from '../crypto/random.js';
import type { KeyService } from './keys.js';
import { ID_TOKEN_TTL_S } from './keys.js';
import { signJwt } from './jws.js';
import type { SigningAlg } from '../oauth/signing_algs.js';
import { acrOf } from '../oauth/acr.js';

export interface IdTokenInput {
  /** The client's id_token_signed_response_alg (OIDC Dynamic Client Registration §2). */
  alg: SigningAlg;
  issuer: string;
  clientId: string;
  sub: string;
  authTime: number;
  /** The sign-in methods (RFC 8176); the `acr` claim is derived from them. */
  amr: readonly string[];
  nonce?: string | null;
  accessToken?: string;
  nickname?: string | null;
  now: number;
}

/**
 * OIDC Core §3.1.3.6: left half of the hash of the access token, base64url, with the hash
 * of the ID token's alg: SHA-256 for both RS256 and ES256.
 */
export function atHash(accessToken: string): string {
  return createHash('sha256').update(accessToken, 'ascii').digest().subarray(0, 16).toString('base64url');
}

export async function signIdToken(keys: KeyService, input: IdTokenInput): Promise<string> {
  const key = await keys.signingKey(input.alg);
  const iat = Math.floor(input.now / 1000);
  // OIDC Core §2: auth_time, amr (RFC 8176 values) and acr (the level those methods reach).
  const claims: Record<string, unknown> = { auth_time: Math.floor(input.authTime / 1000), amr: [...input.amr], acr: acrOf(input.amr) };
  if (input.nonce) claims.nonce = input.nonce;
  if (input.accessToken) claims.at_hash = atHash(input.accessToken);
  if (input.nickname) claims.nickname = input.nickname;
  return signJwt(key, { typ: 'JWT' }, {
    ...claims, iss: input.issuer, aud: input.clientId, sub: input.sub, jti: randomToken(16), iat, exp: iat + ID_TOKEN_TTL_S,
  });
}
