import { hash, timingSafeEqual } from 'node:crypto';
import { randomToken } from '../security/random.js';

/** A fresh opaque token: 256 bits of randomness, base64url. */
export const mintOpaque = (bytes = 32): string => randomToken(bytes);

/** What the store keeps instead of a token, code or secret. */
export const digest = (value: string): string => hash('sha256', value, 'base64url');

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
