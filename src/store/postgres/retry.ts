// PostgreSQL docs §13.6: a transaction aborted by a deadlock (40P01) or a serialization
// failure (40001) did nothing, and the remedy is to run it again. The same holds for a
// prepared statement refused after another node's migration (prepared.ts): its text is
// unprepared by then, so the second run works.
import { isStalePlanError } from './prepared.js';

/** Runs of a PostgreSQL transaction aborted by a deadlock, serialization failure or stale plan, in all. */
const TRANSACTION_ATTEMPTS = 3;

const isRetryableAbort = (err: unknown): boolean => {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '40P01' || code === '40001' || isStalePlanError(err);
};

/** Runs `once` (a whole transaction), again after a deadlock, serialization failure or stale plan. */
export async function retryAborted<T>(once: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await once();
    } catch (err) {
      if (attempt >= TRANSACTION_ATTEMPTS || !isRetryableAbort(err)) throw err;
      // Apart, so the transactions that collided do not collide again at once.
      await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 20 * attempt));
    }
  }
}
