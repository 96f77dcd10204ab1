// Works through the rows a worker has claimed (leased), a few at a time. When the worker
// stops (SIGTERM), the rows it has not started are handed back at once, so another node
// takes them without waiting for the lease to run out; the rows already started finish
// (a send cut short might still have gone out, and must not be sent again).
export interface ClaimedWork<T extends { id: string }> {
  /** At most this many rows are worked on at once. */
  concurrency: number;
  /** Aborted when the worker stops. */
  signal: AbortSignal;
  work(row: T): Promise<void>;
  /** Ends the lease of rows never started (store `release`). */
  release(ids: string[]): Promise<unknown>;
  /** `work` threw (e.g. the database failed while settling): the lease runs out and the row is retried. */
  onError(row: T, err: unknown): void;
}

export async function workClaimed<T extends { id: string }>(rows: T[], opts: ClaimedWork<T>): Promise<void> {
  const waiting = [...rows];
  let released: Promise<unknown> | undefined;
  const handBack = () => {
    const ids = waiting.splice(0).map((r) => r.id);
    if (ids.length) released = opts.release(ids);
  };
  if (opts.signal.aborted) handBack();
  else opts.signal.addEventListener('abort', handBack, { once: true });

  async function lane() {
    for (let row = waiting.shift(); row; row = waiting.shift()) {
      try {
        await opts.work(row);
      } catch (err) {
        opts.onError(row, err);
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, rows.length) }, lane));
  } finally {
    opts.signal.removeEventListener('abort', handBack);
  }
  // A failed release (the database is down too) only delays those rows until their lease ends.
  await released;
}
