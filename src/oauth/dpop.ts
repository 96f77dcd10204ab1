// RFC 9449 §4.3: checking a DPoP proof JWT. Stateless: the replay check (the proof's
// `jti`, §11.1) and the server nonce (§8) are the caller's, through the hooks below.
import { createHash } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, EmbeddedJWK, jwtVerify, type JWK } from 'jose';
import { OAuthError } from './errors.js';

/** Asymmetric algorithms only (§4.3 item 5: no `none`, no MAC). Advertised in discovery. */
export const DPOP_SIGNING_ALGS = ['ES256', 'PS256', 'RS256', 'EdDSA'] as const;
/** A proof may be this old (its `iat`), or this far ahead for clocks that run fast (§4.3 item 11). */
export const DPOP_MAX_AGE_S = 120;
export const DPOP_MAX_SKEW_S = 30;
/** A proof is a small JWT; anything larger is refused before it is parsed. */
const MAX_PROOF_LENGTH = 8192;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

export interface DpopRequest {
  /** The request's method and URL (the URL as the issuer names it, without query). */
  method: string;
  url: string;
  /** The access token the proof must name (`ath`, §4.3 item 12), at protected resources. */
  accessToken?: string;
  now: number;
}

export interface DpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's public key: what tokens are bound to (`cnf.jkt`). */
  jkt: string;
  jti: string;
  iat: number;
  nonce?: string;
}

export const invalidProof = (why: string, status = 400) => new OAuthError('invalid_dpop_proof', why, { status });

/** §4.3 item 9: compares URIs without query and fragment, normalised (scheme, host, default port). */
function sameHtu(claimed: string, expected: string): boolean {
  try {
    const a = new URL(claimed);
    const b = new URL(expected);
    a.search = ''; a.hash = ''; b.search = ''; b.hash = '';
    return a.href === b.href;
  } catch {
    return false;
  }
}

/** `ath` (§4.2): base64url of the SHA-256 of the access token's ASCII. */
export const accessTokenHash = (token: string): string => createHash('sha256').update(token, 'ascii').digest('base64url');

/**
 * Reads the one DPoP header of a request: undefined when there is none; throws when it is
 * repeated or not a JWT (§4.3 item 1: exactly one).
 */
export function dpopHeader(value: string | string[] | undefined, status = 400): string | undefined {
  if (value === undefined) return undefined;
  // Node joins repeated unknown headers with ", ": a comma is never part of a JWT.
  if (Array.isArray(value) || value.includes(',')) throw invalidProof('more than one DPoP header', status);
  const v = value.trim();
  if (!v || v.length > MAX_PROOF_LENGTH || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(v)) {
    throw invalidProof('the DPoP header is not a JWT', status);
  }
  return v;
}

/** Checks a proof (§4.3 items 2–12 but the nonce and replay); throws invalid_dpop_proof. */
export async function verifyDpopProof(proof: string, req: DpopRequest, status = 400): Promise<DpopProof> {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    throw invalidProof('the DPoP proof header is malformed', status);
  }
  if (header.typ !== 'dpop+jwt') throw invalidProof('the DPoP proof typ must be dpop+jwt', status);
  if (typeof header.alg !== 'string' || !(DPOP_SIGNING_ALGS as readonly string[]).includes(header.alg)) {
    throw invalidProof(`unsupported DPoP proof alg (supported: ${DPOP_SIGNING_ALGS.join(', ')})`, status);
  }
  const jwk = header.jwk as JWK | undefined;
  if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk)) throw invalidProof('the DPoP proof has no jwk', status);
  if (PRIVATE_MEMBERS.some((m) => m in jwk)) throw invalidProof('the DPoP proof jwk must be a public key', status);
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(proof, EmbeddedJWK, { typ: 'dpop+jwt', algorithms: [...DPOP_SIGNING_ALGS],
      currentDate: new Date(req.now) }));
  } catch {
    throw invalidProof('the DPoP proof signature or key is invalid', status);
  }
  const { jti, htm, htu, iat, ath, nonce } = payload;
  if (typeof jti !== 'string' || jti.length < 1 || jti.length > 256) throw invalidProof('the DPoP proof needs a jti', status);
  if (htm !== req.method) throw invalidProof('the DPoP proof htm does not match the request method', status);
  if (typeof htu !== 'string' || !sameHtu(htu, req.url)) throw invalidProof('the DPoP proof htu does not match the request URI', status);
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw invalidProof('the DPoP proof needs an iat', status);
  const nowS = req.now / 1000;
  if (iat < nowS - DPOP_MAX_AGE_S || iat > nowS + DPOP_MAX_SKEW_S) throw invalidProof('the DPoP proof iat is outside the accepted window', status);
  if (req.accessToken !== undefined) {
    if (typeof ath !== 'string' || ath !== accessTokenHash(req.accessToken)) throw invalidProof('the DPoP proof ath does not match the access token', status);
  }
  if (nonce !== undefined && typeof nonce !== 'string') throw invalidProof('the DPoP proof nonce is malformed', status);
  let jkt: string;
  try {
    jkt = await calculateJwkThumbprint(jwk, 'sha256');
  } catch {
    throw invalidProof('the DPoP proof jwk is malformed', status);
  }
  return { jkt, jti, iat, nonce: nonce as string | undefined };
}

/** RFC 7638 thumbprints are 43 base64url characters (SHA-256); `dpop_jkt` must be one (§10). */
export const isJkt = (value: string): boolean => /^[A-Za-z0-9_-]{43}$/.test(value);
