// Checks on RFC 7591 §2 client metadata values that need no state: the https URLs shown
// to people (logo_uri, policy_uri, tos_uri, client_uri) or fetched by Alias (jwks_uri),
// and a client's JWK Set (jwks), which must hold public keys only.
import { createPublicKey } from 'node:crypto';

/** At most this many keys in a registered JWK Set (a client rotating keys needs two or three). */
export const MAX_JWKS_KEYS = 20;
const MAX_URL_LENGTH = 2000;

/**
 * Why `uri` is not an acceptable https URL for client metadata, or undefined. Absolute
 * https, no credentials, no fragment (RFC 7591 §2: jwks_uri and the display URLs are URLs
 * the server or the user's browser dereferences; nothing on them may be secret).
 */
export function httpsUrlProblem(uri: string): string | undefined {
  if (uri.length > MAX_URL_LENGTH) return `is longer than ${MAX_URL_LENGTH} characters`;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URL';
  }
  if (url.protocol !== 'https:') return 'must be an https URL';
  if (url.username || url.password) return 'must not contain credentials';
  if (url.hash || uri.includes('#')) return 'must not contain a fragment';
  return undefined;
}

// RFC 7518 §6.2.2 / §6.3.2 / §6.4 and RFC 8037 §2: members that only private (or
// symmetric) keys have. A client registers the keys Alias verifies with, never the keys it signs with.
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
const PUBLIC_KEY_TYPES = new Set(['RSA', 'EC', 'OKP']);

/** Why `value` is not a JWK Set of public keys (RFC 7517 §5), or undefined. */
export function jwksProblem(value: unknown): string | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return 'must be a JWK Set: an object with a "keys" array';
  const keys = (value as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.length === 0) return 'must be a JWK Set with at least one key in "keys"';
  if (keys.length > MAX_JWKS_KEYS) return `may hold at most ${MAX_JWKS_KEYS} keys`;
  const kids = new Set<string>();
  for (const [i, key] of keys.entries()) {
    const where = `key ${i + 1}`;
    if (!key || typeof key !== 'object' || Array.isArray(key)) return `${where} is not a JSON object`;
    const jwk = key as Record<string, unknown>;
    for (const member of PRIVATE_MEMBERS) {
      if (member in jwk) return `${where} has the private member "${member}": register public keys only`;
    }
    if (typeof jwk.kty !== 'string' || !PUBLIC_KEY_TYPES.has(jwk.kty)) {
      return `${where} must have kty RSA, EC or OKP (public keys; symmetric "oct" keys are secrets)`;
    }
    for (const member of ['kid', 'use', 'alg']) {
      if (member in jwk && typeof jwk[member] !== 'string') return `${where}: "${member}" must be a string`;
    }
    if (jwk.use !== undefined && jwk.use !== 'sig') return `${where}: "use" must be "sig" (client authentication keys sign)`;
    if (typeof jwk.kid === 'string') {
      if (kids.has(jwk.kid)) return `${where} repeats the kid "${jwk.kid}"`;
      kids.add(jwk.kid);
    }
    try {
      const k = createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
      if (k.type !== 'public') return `${where} is not a public key`;
    } catch {
      return `${where} is not a valid ${jwk.kty} public key`;
    }
  }
  return undefined;
}
