// Runs a queue's `runOnce` on a timer, one run at a time: a kick or tick during a run
// asks for one more run right after it, and a full batch means more may be due, so the
// next run follows at once. A failed run (the database is down) backs off, doubling up
// to BACKOFF_MAX_MS, so an outage costs one attempt every few seconds and the worker
// resumes by itself. Shared by the relay worker and back-channel logout.
export interface Poller {
  /** Polls every `intervalMs` (at most 1 s, so queued work starts within 2 s) until stopped. */
  start(intervalMs?: number): void;
  /** Asks a started poller to look at the queue now (work was just queued: the database answers). */
  kick(): void;
  /** Stops polling: the run in progress sees its signal aborted; waits for it to end. */
  stop(): Promise<void>;
}

/** Longest pause between two attempts while runs keep failing. */
export const BACKOFF_MAX_MS = 15_000;

export interface PollerOptions {
  batch: number;
  /** A run failed; `failures` in a row so far, the next attempt in `retryInMs`. */
  onError: (err: unknown, failures: number, retryInMs: number) => void;
  /** A run succeeded after `failures` failed ones. */
  onRecover?: (failures: number) => void;
}

export function createPoller(runOnce: (signal: AbortSignal) => Promise<number>, opts: PollerOptions): Poller {
  let timer: NodeJS.Timeout | undefined;
  let controller = new AbortController();
  let running: Promise<unknown> | undefined;
  let again = false;
  let failures = 0;
  let resumeAt = 0;
  let intervalMs = 1_000;

  function tick(force = false) {
    if (running) {
      again = true;
      return;
    }
    if (!force && Date.now() < resumeAt) return;
    running = runOnce(controller.signal).then((n) => {
      if (failures > 0) opts.onRecover?.(failures);
      failures = 0;
      resumeAt = 0;
      if (n >= opts.batch) again = true;
    }, (err: unknown) => {
      failures++;
      const wait = Math.min(intervalMs * 2 ** (failures - 1), BACKOFF_MAX_MS);
      resumeAt = Date.now() + wait;
      again = false;
      opts.onError(err, failures, wait);
    }).finally(() => {
      running = undefined;
      if (again && timer) {
        again = false;
        tick();
      }
    });
  }

  return {
    start(ms = 1_000) {
      if (timer) return;
      intervalMs = Math.min(ms, 1_000);
      controller = new AbortController();
      timer = setInterval(tick, intervalMs).unref();
      tick();
    },
    kick() {
      if (timer) tick(true);
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      again = false;
      controller.abort();
      await running;
    },
  };
}
