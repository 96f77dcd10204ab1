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

/** A leased queue in the store (logout deliveries, relayed messages). */
export interface LeasedQueue<T> {
  claim(now: number, leaseUntil: number, limit: number): Promise<T[]>;
  release(ids: string[], leaseUntil: number): Promise<unknown>;
}

/**
 * Claims up to `batch` due rows of `queue` for `leaseMs` and works through them; rows
 * handed back are released under the same lease they were claimed with. Returns how
 * many rows were claimed.
 */
export async function claimAndWork<T extends { id: string }>(queue: LeasedQueue<T>,
  opts: Omit<ClaimedWork<T>, 'release'> & { now: number; leaseMs: number; batch: number }): Promise<number> {
  const leaseUntil = opts.now + opts.leaseMs;
  const rows = await queue.claim(opts.now, leaseUntil, opts.batch);
  await workClaimed(rows, { ...opts, release: (ids) => queue.release(ids, leaseUntil) });
  return rows.length;
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
