// Token scanning: guessing tokens at introspection or revocation. Neither endpoint says
// anything about a token that is not the caller's (RFC 7662 §4, RFC 7009 §2.2: an unknown
// and a foreign token get the same answer), and the misses are counted so that a client
// cannot try tokens without end (RFC 9700 §4.15). Only misses count, never a hit.
import type { Client } from '../store/types.js';
import { OAuthError } from '../oauth/errors.js';
import { nameDigest } from './opaque.js';
import { POLICIES, type ThrottlePolicy, type Throttler } from '../throttle/throttle.js';

export interface ScanCounter {
  key: string;
  policy: ThrottlePolicy;
}

/**
 * Misses of a confidential client count against that client; those of a public client
 * against the source address, because a public client_id proves nothing about the caller
 * (RFC 6749 §2.1): counting them per client_id would let anyone block the app's revocations.
 */
export function scanCounter(client: Client, source: string): ScanCounter {
  return client.isPublic
    ? { key: `scan-source:${nameDigest(source)}`, policy: POLICIES.scanSource }
    : { key: `scan-client:${nameDigest(client.id)}`, policy: POLICIES.scanClient };
}

/**
 * Throws 429 while the counter is blocked. Checked before the token is looked up, and
 * for hits too: answering hits during a block would tell a scanner which guess was right.
 */
export async function refuseWhileBlocked(throttle: Throttler, counter: ScanCounter): Promise<void> {
  const wait = await throttle.retryAfter(counter.key);
  if (wait > 0) {
    throw new OAuthError('too_many_requests', 'too many requests for unknown or inactive tokens; try again later',
      { status: 429, retryAfter: wait });
  }
}

export const countMiss = (throttle: Throttler, counter: ScanCounter): Promise<void> =>
  throttle.fail(counter.key, counter.policy);
