import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A fresh opaque token: 256 bits of randomness, base64url. */
export const mintOpaque = (bytes = 32): string => randomBytes(bytes).toString('base64url');

/** What the store keeps instead of a token, code or secret. */
export const digest = (value: string): string => createHash('sha256').update(value, 'utf8').digest('base64url');

/** Constant-time equality of two strings of any length. */
export function safeEqual(a: string, b: string): boolean {
  const ab = createHash('sha256').update(a).digest();
  const bb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ab, bb) && a.length === b.length;
}

/** Compares `secret` with a stored digest in constant time. */
export function matchesDigest(secret: string, storedDigest: string | null): boolean {
  if (storedDigest === null) return false;
  const a = Buffer.from(digest(secret));
  const b = Buffer.from(storedDigest);
  return a.length === b.length && timingSafeEqual(a, b);
}
