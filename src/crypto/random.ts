// Random identifiers for the token paths. `randomBytes` makes one getrandom() call per
// token, which showed up at several percent of a token request's CPU (bench/README.md);
// drawing from a pooled CSPRNG buffer costs one call per few hundred tokens. Every pool
// byte is handed out once, then the pool is refilled, so no two values share bytes.
import { randomFillSync } from 'node:crypto';

const POOL_SIZE = 8192;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let offset = POOL_SIZE;

/** `bytes` fresh random bytes (a copy: the caller may keep it). */
export function randomBuffer(bytes: number): Buffer {
  if (bytes > POOL_SIZE / 4) return randomFillSync(Buffer.alloc(bytes));
  if (offset + bytes > POOL_SIZE) {
    randomFillSync(pool);
    offset = 0;
  }
  const out = Buffer.from(pool.subarray(offset, offset + bytes));
  // Forget what was handed out, so the pool never holds a live token's bytes.
  pool.fill(0, offset, offset + bytes);
  offset += bytes;
  return out;
}

/** `bytes` random bytes as base64url (tokens, codes, identifiers). */
export const randomToken = (bytes: number): string => randomBuffer(bytes).toString('base64url');

/** `bytes` random bytes as hex (row identifiers). */
export const randomHex = (bytes: number): string => randomBuffer(bytes).toString('hex');
