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
  /** Client secrets, per client_id and source address (a client_id is public: RFC 6749 §2.1). */
  client: { allowed: 10, windowMs: 10 * 60_000, baseBlockMs: 1_000, maxBlockMs: 5 * 60_000 },
  /**
   * Client secrets, per client_id from every source: a ceiling for a guesser spread over
   * many addresses. One address gets about 20 tries in 10 minutes (10, then back-off), so
   * reaching it takes some 50 addresses; a 256-bit secret stays unguessable either way.
   */
  clientCeiling: { allowed: 1_000, windowMs: 10 * 60_000, baseBlockMs: 1_000, maxBlockMs: 5 * 60_000 },
  /**
   * Token scanning (RFC 7662 §4, RFC 7009 §2.2, RFC 9700 §4.15): introspections answered
   * `active: false` and revocations of unknown or foreign tokens, per authenticated client.
   * Generous: a resource server introspecting thousands of expired tokens an hour is never
   * slowed, while guessing 256-bit tokens stays hopeless either way.
   */
  scanClient: { allowed: 5_000, windowMs: 10 * 60_000, baseBlockMs: 1_000, maxBlockMs: 5 * 60_000 },
  /** The same misses without an authenticated client (public clients), per source address. */
  scanSource: { allowed: 1_000, windowMs: 10 * 60_000, baseBlockMs: 1_000, maxBlockMs: 10 * 60_000 },
  /**
   * Anonymous dynamic registrations (`--registration open`), per source address: every
   * attempt counts, made or refused, since each one is work and, when made, a stored client.
   * An agent registers once per installation; 20 an hour per address leaves room for many.
   */
  openRegistration: { allowed: 20, windowMs: 60 * 60_000, baseBlockMs: 60_000, maxBlockMs: 60 * 60_000 },
  /** Wrong initial or registration access tokens (RFC 7591, RFC 7592), per source address. */
  registrationToken: { allowed: 100, windowMs: 10 * 60_000, baseBlockMs: 1_000, maxBlockMs: 10 * 60_000 },
} satisfies Record<string, ThrottlePolicy>;

/**
 * An attempt reserved before the check (issue 16 item 1): `ok` — the attempt is already
 * counted as a failure; call `release()` when the check succeeded (it takes the attempt
 * back). Not ok — refused without counting; wait `retryAfter` seconds.
 */
export type Reservation = { ok: true; release(): Promise<void> } | { ok: false; retryAfter: number };

export interface Throttler {
  /** Seconds to wait before trying again, or 0. */
  retryAfter(key: string): Promise<number>;
  fail(key: string, policy: ThrottlePolicy): Promise<void>;
  clear(key: string): Promise<void>;
  /**
   * Atomically: refuses while the key is blocked; otherwise counts this attempt as a
   * failure *before* the caller checks anything, so N parallel guesses are N counted
   * attempts and a burst gets no more checks than `policy.allowed` (the attempt that uses
   * the last free try starts the block: `baseBlockMs`, doubled by each further attempt
   * counted in the window, up to `maxBlockMs`). The caller releases the reservation on
   * success: one attempt fewer, and no block once under the allowance.
   */
  reserve(key: string, policy: ThrottlePolicy): Promise<Reservation>;
}

/**
 * Reserves one attempt on every counter, in order; when one refuses, the ones already
 * reserved are released (nothing was checked) and the longest wait is returned.
 */
export async function reserveAll(throttle: Throttler, counters: { key: string; policy: ThrottlePolicy }[]): Promise<Reservation> {
  const held: Extract<Reservation, { ok: true }>[] = [];
  for (const c of counters) {
    const r = await throttle.reserve(c.key, c.policy);
    if (!r.ok) {
      for (const h of held) await h.release();
      return r;
    }
    held.push(r);
  }
  return { ok: true, async release() { for (const h of held) await h.release(); } };
}

/**
 * Counts one event (a sign-up, a mail asked for) on every counter, atomically, before the
 * work it limits: a burst of parallel requests gets no more through than the policies
 * allow (issue 16). The event stays counted; `policy.allowed` events pass in a window, the
 * next waits. Refused events are not counted on any counter.
 */
export async function countEvent(throttle: Throttler, counters: { key: string; policy: ThrottlePolicy }[]):
  Promise<{ ok: true } | { ok: false; retryAfter: number }> {
  const r = await reserveAll(throttle, counters);
  return r.ok ? { ok: true } : r;
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
      // Reset, never deleted: a reservation waiting on this row's lock would find it gone.
      await store.throttles.reset(key);
    },
    async reserve(key, policy) {
      // One atomic statement (the store's upsert computes the step in SQL): one round trip, and
      // reservations from every node are counted one by one.
      const t = now();
      const counted = await store.throttles.reserve(key, t, policy);
      if (!counted) {
        // Blocked: the wait is read apart (a block that ended meanwhile still says 1 s).
        const cur = await store.throttles.get(key);
        return { ok: false, retryAfter: Math.max(1, Math.ceil(((cur?.blockedUntil ?? 0) - t) / 1000)) };
      }
      let released = false;
      return {
        ok: true,
        async release() {
          if (released) return;
          released = true;
          // One atomic statement too; the row is never deleted here (the janitor removes
          // rows with no failures).
          await store.throttles.release(key, policy);
        },
      };
    },
  };
}
