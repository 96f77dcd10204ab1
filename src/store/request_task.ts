// Whether the event-loop task running now has just read a request from its socket. The
// HTTP server marks the task that read a request's head and the one that read the last of
// its body (http/arrivals.ts). Such a task runs in the loop's poll phase, among the other
// sockets that one wait for I/O found ready. The SQLite store lets a read transaction
// opened there serve the rest of that phase's requests and ends it before the loop waits
// again (sqlite/group_commit.ts), so a request that arrives later never reads from it.
// The mark never outlives its task: a continuation in a later task (after a timer, or a
// group's COMMIT in the check phase) is not marked.
let marked = false;
const unmark = () => { marked = false; };

/** The current task has just read (the head or the end of) a request from its socket. */
export function requestArrived(): void {
  if (marked) return;
  marked = true;
  atTaskEnd(unmark);
}

/** True inside a task marked by requestArrived. */
export const servingArrival = (): boolean => marked;

/**
 * Runs `fn` at the end of the current task: the microtask is queued behind those waiting
 * now, and its tick runs once they, and every one they queue, have run.
 */
export function atTaskEnd(fn: () => void): void {
  queueMicrotask(() => process.nextTick(fn));
}
