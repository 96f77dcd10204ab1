// Work a request starts after its answer has been sent (the reset mail of /forgot: the
// answer must not reveal, by its timing, whether the address has an account). Such work
// is tracked here so that stopping waits for it before the database closes: a SIGTERM
// right after the answer must not lose the mail the page promised.

export interface Background {
  /** Runs `task` on the next turn of the event loop; a failure goes to `onError`. */
  run(task: () => Promise<void>, onError: (err: unknown) => void): void;
  /** Resolves when every task started so far (and any they started) has finished. */
  settled(): Promise<void>;
}

export function createBackground(): Background {
  const running = new Set<Promise<void>>();
  return {
    run(task, onError) {
      // Tracked from now on, although it starts on the next turn (after the answer).
      const p: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
        .then(task)
        .catch(onError)
        .finally(() => running.delete(p));
      running.add(p);
    },
    async settled() {
      while (running.size > 0) await Promise.all([...running]);
    },
  };
}
