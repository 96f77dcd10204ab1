// Failure counting with exponential back-off (RFC 9700 §4.15 / OWASP). Only failures
// count, so well-behaved traffic is never slowed; every block ends.
import type { Store } from '../store/store.js';

export interface ThrottlePolicy {
  /** Failures within `windowMs` tolerated before blocking. */
  allowed: number;
  windowMs: number;
  /** First block length; doubles with each further failure, up to `maxBlockMs`. */
  baseBlockMs: number;
  maxBlockMs: number;
}

export const POLICIES = {
  /** Passwords, per account. */
  account: { allowed: 5, windowMs: 15 * 60_000, baseBlockMs: 1_000, maxBlockMs: 15 * 60_000 },
  /** Passwords, per source address: at least 100 failures per 10 minutes. */
  source: { allowed: 100, windowMs: 10 * 60_000, baseBlockMs: 60_000, maxBlockMs: 10 * 60_000 },
  /** Client secrets, per client_id. */
  client: { allowed: 10, windowMs: 10 * 60_000, baseBlockMs: 1_000, maxBlockMs: 5 * 60_000 },
  /**
   * Token scanning (RFC 7662 §4, RFC 7009 §2.2, RFC 9700 §4.15): introspections answered
   * `active: false` and revocations of unknown or foreign tokens, per authenticated client.
   * Generous: a resource server introspecting thousands of expired tokens an hour is never
   * slowed, while guessing 256-bit tokens stays hopeless either way.
   */
  scanClient: { allowed: 5_000, windowMs: 10 * 60_000, baseBlockMs: 1_000, maxBlockMs: 5 * 60_000 },
  /** The same misses without an authenticated client (public clients), per source address. */
  scanSource: { allowed: 1_000, windowMs: 10 * 60_000, baseBlockMs: 1_000, maxBlockMs: 10 * 60_000 },
} satisfies Record<string, ThrottlePolicy>;

export interface Throttler {
  /** Seconds to wait before trying again, or 0. */
  retryAfter(key: string): Promise<number>;
  fail(key: string, policy: ThrottlePolicy): Promise<void>;
  clear(key: string): Promise<void>;
}

export function createThrottler(store: Store, now: () => number): Throttler {
  return {
    async retryAfter(key) {
      const t = await store.throttles.get(key);
      const wait = t ? t.blockedUntil - now() : 0;
      return wait > 0 ? Math.ceil(wait / 1000) : 0;
    },
    async fail(key, policy) {
      await store.transaction(async (tx) => {
        const t = now();
        const cur = await tx.throttles.lock(key, t);
        const fresh = cur.failures === 0 || t - cur.windowStart > policy.windowMs;
        const failures = fresh ? 1 : cur.failures + 1;
        const over = failures - policy.allowed;
        const blockedUntil = over > 0
          ? t + Math.min(policy.baseBlockMs * 2 ** Math.min(over - 1, 30), policy.maxBlockMs)
          : 0;
        await tx.throttles.put({ key, failures, windowStart: fresh ? t : cur.windowStart, blockedUntil });
      });
    },
    async clear(key) {
      await store.throttles.delete(key);
    },
  };
}
