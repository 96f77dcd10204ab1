// Runs a queue's `runOnce` on a timer, one run at a time: a kick or tick during a run
// asks for one more run right after it, and a full batch means more may be due, so the
// next run follows at once. Shared by the relay worker and back-channel logout.
export interface Poller {
  /** Polls every `intervalMs` (at most 1 s, so queued work starts within 2 s) until stopped. */
  start(intervalMs?: number): void;
  /** Asks a started poller to look at the queue now. */
  kick(): void;
  /** Stops polling and waits for the run in progress. */
  stop(): Promise<void>;
}

export function createPoller(runOnce: () => Promise<number>, opts: { batch: number; onError: (err: unknown) => void }): Poller {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let again = false;

  function tick() {
    if (running) {
      again = true;
      return;
    }
    running = runOnce().then((n) => {
      if (n >= opts.batch) again = true;
    }, opts.onError).finally(() => {
      running = undefined;
      if (again && timer) {
        again = false;
        tick();
      }
    });
  }

  return {
    start(intervalMs = 1_000) {
      if (timer) return;
      timer = setInterval(tick, Math.min(intervalMs, 1_000)).unref();
      tick();
    },
    kick() {
      if (timer) tick();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      again = false;
      await running;
    },
  };
}
