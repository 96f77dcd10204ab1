// The periodic clean-up run by `serve`: deletes rows nothing will read again (expired
// interactions, sessions, device codes, codes and tokens once reuse detection no longer
// needs them, ended throttle windows, settled logout deliveries, expired WebAuthn challenges
// and pushed authorization requests) and audit events older
// than the retention (ALIAS_AUDIT_RETENTION_DAYS). Every delete is a bounded batch and a
// run does a bounded number of them, so it never holds a lock for long; any number of
// nodes may run it at once (store.ts PurgeRepo).
import type { PurgeKind, Store } from '../store/store.js';
import { POLICIES } from '../throttle/throttle.js';

export const JANITOR_INTERVAL_MS = 10 * 60_000;
/** Rows are deleted this long after they expired, so nodes whose clocks lag still agree. */
export const GRACE_MS = 10 * 60_000;
/** Delivered or failed back-channel logouts are kept this long, for looking into problems. */
export const SETTLED_QUEUE_MS = 7 * 24 * 3600_000;
const DAY_MS = 24 * 3600_000;
/** Throttle rows are read with the longest window of any policy. */
export const LONGEST_WINDOW_MS = Math.max(...Object.values(POLICIES).map((p) => p.windowMs));

// Tokens before codes: a code goes only when no token of its family is left.
const ORDER: PurgeKind[] = ['interactions', 'sessions', 'device_codes', 'access_tokens', 'refresh_tokens',
  'authorization_codes', 'throttles', 'logout_deliveries', 'webauthn_challenges', 'jwt_replays',
  'pushed_authorization_requests'];

export interface JanitorOptions {
  store: Store;
  now: () => number;
  auditRetentionDays: number;
  /** Rows per DELETE. */
  batch?: number;
  /** DELETEs per kind per run; the rest waits for the next run. */
  maxBatches?: number;
  log?: (msg: string, fields: Record<string, unknown>) => void;
}

export type JanitorReport = Record<PurgeKind | 'audit_events', number>;

export interface Janitor {
  /** One pass over every kind; returns how many rows of each went. */
  runOnce(): Promise<JanitorReport>;
  /** Runs at once, then every `intervalMs`, until stopped. */
  start(intervalMs?: number): void;
  /** Stops and waits for the run in progress. */
  stop(): Promise<void>;
}

/** The instant before which rows of each kind may go (store.ts PurgeKind). */
export function cutoffs(now: number, auditRetentionDays: number): Record<PurgeKind | 'audit_events', number> {
  const expired = now - GRACE_MS;
  return {
    interactions: expired, sessions: expired, device_codes: expired, access_tokens: expired,
    refresh_tokens: expired, authorization_codes: expired,
    throttles: now - LONGEST_WINDOW_MS - GRACE_MS,
    logout_deliveries: now - SETTLED_QUEUE_MS,
    webauthn_challenges: expired,
    jwt_replays: expired,
    pushed_authorization_requests: expired,
    audit_events: now - auditRetentionDays * DAY_MS,
  };
}

// Between batches, let requests waiting on the event loop (and on SQLite's lock) run.
const breathe = () => new Promise<void>((resolve) => setImmediate(resolve));

export function createJanitor(opts: JanitorOptions): Janitor {
  const batch = opts.batch ?? 500;
  const maxBatches = opts.maxBatches ?? 20;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;

  async function drain(purge: (limit: number) => Promise<number>): Promise<number> {
    let total = 0;
    for (let i = 0; i < maxBatches; i++) {
      const n = await purge(batch);
      total += n;
      if (n < batch) break;
      await breathe();
    }
    return total;
  }

  async function runOnce(): Promise<JanitorReport> {
    const before = cutoffs(opts.now(), opts.auditRetentionDays);
    const report = {} as JanitorReport;
    for (const kind of ORDER) report[kind] = await drain((limit) => opts.store.expired.purge(kind, before[kind], limit));
    report.audit_events = await drain((limit) => opts.store.audit.purgeOlderThan(before.audit_events, limit));
    return report;
  }

  function tick() {
    if (running) return;
    running = runOnce().catch((err: unknown) => {
      opts.log?.('janitor run failed', { err: err instanceof Error ? err.message : String(err) });
    }).finally(() => { running = undefined; });
  }

  return {
    runOnce,
    start(intervalMs = JANITOR_INTERVAL_MS) {
      if (timer) return;
      timer = setInterval(tick, intervalMs).unref();
      tick();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
