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

/** A counter and its policy. */
export interface Counter {
  key: string;
  policy: ThrottlePolicy;
}

/**
 * An attempt reserved before the check (issue 16 item 1): `ok` — the attempt is already
 * counted as a failure; call `release()` when the check succeeded (it takes the attempt
 * back). Not ok — refused without counting; wait `retryAfter` seconds.
 */
export type Reservation = { ok: true; release(opts?: ReleaseOptions): Promise<void> } | { ok: false; retryAfter: number };

export interface ReleaseOptions {
  /**
   * Keys of the reservation's counters to clear instead (Throttler.clear: failures and any
   * block forgotten), in the same step: a sign-in that succeeded ends its account's count
   * and takes back its source's attempt together.
   */
  clear?: readonly string[];
}

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
  /**
   * reserve() on every counter (distinct keys); when one refuses, the ones counted are
   * taken back (nothing was checked) and the longest wait is returned. The database's
   * counters do it in one statement; release() then takes every attempt back at once.
   */
  reserveAll(counters: readonly Counter[]): Promise<Reservation>;
}

/** A reservation that went through; `release` runs once however often it is called. */
export function held(release: (opts?: ReleaseOptions) => Promise<void>): Reservation {
  let released = false;
  return {
    ok: true,
    async release(opts) {
      if (released) return;
      released = true;
      await release(opts);
    },
  };
}

/** reserveAll() as reserve() after reserve(), in order: for counters with no step over several keys (Redis). */
export async function reserveInOrder(throttle: Throttler, counters: readonly Counter[]): Promise<Reservation> {
  const taken: { key: string; reservation: Extract<Reservation, { ok: true }> }[] = [];
  for (const c of counters) {
    let r: Reservation;
    try {
      r = await throttle.reserve(c.key, c.policy);
    } catch (err) {
      // Nothing was checked: the attempts already counted are taken back (as far as the
      // counters still answer) before the error goes on. withFallback then counts every
      // key on the database; without this the first keys stayed counted twice.
      await Promise.allSettled(taken.map((h) => h.reservation.release()));
      throw err;
    }
    if (!r.ok) {
      for (const h of taken) await h.reservation.release();
      return r;
    }
    taken.push({ key: c.key, reservation: r });
  }
  return held(async (opts) => {
    await Promise.all(taken.map((h) => (opts?.clear?.includes(h.key) ? throttle.clear(h.key) : h.reservation.release())));
  });
}

/**
 * Counts one event (a sign-up, a mail asked for) on every counter, atomically, before the
 * work it limits: a burst of parallel requests gets no more through than the policies
 * allow (issue 16). The event stays counted; `policy.allowed` events pass in a window, the
 * next waits. Refused events are not counted on any counter.
 */
export async function countEvent(throttle: Throttler, counters: readonly Counter[]):
  Promise<{ ok: true } | { ok: false; retryAfter: number }> {
  const r = await throttle.reserveAll(counters);
  return r.ok ? { ok: true } : r;
}

export function createThrottler(store: Store, now: () => number): Throttler {
  const throttler: Throttler = {
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
    reserve: (key, policy) => reserveCounters([{ key, policy }]),
    reserveAll: (counters) => (new Set(counters.map((c) => c.key)).size === counters.length
      ? reserveCounters(counters) : reserveInOrder(throttler, counters)),
  };
  return throttler;

  /**
   * One atomic statement reserves every counter (the store's upsert computes the step in
   * SQL): one round trip, and reservations from every node are counted one by one.
   */
  async function reserveCounters(counters: readonly Counter[]): Promise<Reservation> {
    if (!counters.length) return held(async () => {});
    const t = now();
    const counted = await store.throttles.reserveMany(counters, t);
    if (counted.some((c) => !c)) {
      // Blocked: the others' attempts are taken back, and the wait is read apart (a block
      // that ended meanwhile still says 1 s).
      const counting = counters.filter((_, i) => counted[i]);
      const blocked = counters.filter((_, i) => !counted[i]);
      const [, ...current] = await Promise.all([counting.length ? store.throttles.settle(counting, []) : undefined,
        ...blocked.map((c) => store.throttles.get(c.key))]);
      const until = Math.max(0, ...current.map((cur) => cur?.blockedUntil ?? 0));
      return { ok: false, retryAfter: Math.max(1, Math.ceil((until - t) / 1000)) };
    }
    return held(async (opts) => {
      // One atomic statement too; rows are never deleted here (the janitor removes rows
      // with no failures). Cleared counters are reset, not deleted, for the same reason.
      const clear = counters.filter((c) => opts?.clear?.includes(c.key)).map((c) => c.key);
      await store.throttles.settle(counters.filter((c) => !clear.includes(c.key)), clear);
    });
  }
}
