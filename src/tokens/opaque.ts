import { hash, timingSafeEqual } from 'node:crypto';
import { randomToken } from '../crypto/random.js';

/** A fresh opaque token: 256 bits of randomness, base64url. */
export const mintOpaque = (bytes = 32): string => randomToken(bytes);

const TIME_DIGITS = 12;
const KEYED = /^[0-9a-f]{12}[A-Za-z0-9_-]{43}$/;
const KEYED_LENGTH = TIME_DIGITS + 43;

/**
 * A fresh token the store keys by its digest (access and refresh tokens, authorization
 * codes): the issue time (12 hex digits of epoch milliseconds), then 256 random bits.
 * Keys of tokens minted together then sort together, so the inserts of concurrent
 * requests land on the last pages of the token indexes instead of one random page each,
 * and a group commit writes those pages once (bench/README.md). The prefix tells the
 * holder only when the token was issued, which it knows anyway.
 */
export const mintKeyed = (): string => timePrefix(Date.now()) + randomToken(32);

/**
 * A time as the prefix of keyed tokens and token-family ids (issuer.ts): 12 hex digits of
 * epoch milliseconds, so that string order is time order (until the year 10889). A clock
 * before 1970 or not a number gives zeros.
 */
export const timePrefix = (ms: number): string =>
  (Number.isFinite(ms) ? Math.max(0, Math.floor(ms)) : 0).toString(16).padStart(TIME_DIGITS, '0').slice(-TIME_DIGITS);

/**
 * What the store keeps instead of a token, code or secret: its SHA-256, base64url. For a
 * `mintKeyed` token, its time prefix and then the SHA-256 of the whole token (the prefix
 * is no secret; the random part is kept only as a digest).
 */
export function digest(value: string): string {
  const sha = hash('sha256', value, 'base64url');
  return value.length === KEYED_LENGTH && KEYED.test(value) ? value.slice(0, TIME_DIGITS) + sha : sha;
}

/**
 * digest() of a name that repeats from request to request (a client id, a source address)
 * and is no secret: the throttle counters' keys. A bounded map lookup instead of a SHA-256
 * for each (bench/README.md). Never for a token, code or secret, which would stay in memory.
 */
export function nameDigest(name: string): string {
  let d = nameDigests.get(name);
  if (d === undefined) {
    if (nameDigests.size >= NAME_DIGESTS_MAX) nameDigests.clear();
    nameDigests.set(name, d = digest(name));
  }
  return d;
}
const nameDigests = new Map<string, string>();
const NAME_DIGESTS_MAX = 10_000;

/** Constant-time equality of two strings of any length. */
export function safeEqual(a: string, b: string): boolean {
  const ab = hash('sha256', a, 'buffer');
  const bb = hash('sha256', b, 'buffer');
  return timingSafeEqual(ab, bb) && a.length === b.length;
}

/** Compares `secret` with a stored digest in constant time. */
export function matchesDigest(secret: string, storedDigest: string | null): boolean {
  if (storedDigest === null) return false;
  const a = Buffer.from(digest(secret));
  const b = Buffer.from(storedDigest);
  return a.length === b.length && timingSafeEqual(a, b);
}
