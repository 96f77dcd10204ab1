// Graceful shutdown on SIGTERM/SIGINT for `serve` and `worker`: `stop` stops taking new
// work, finishes what is in flight and closes the database; the process then exits 0.
// The drain is bounded (ALIAS_DRAIN_TIMEOUT): past it the process exits 1 anyway, before
// a process manager's SIGKILL, saying so. A second signal exits at once, unless it is the
// same signal within a second of the first: that is one request delivered twice. Ctrl-C in
// a terminal signals the whole foreground process group, and `npm run` (whose script
// `exec`s node, so that `kill` of npm's PID reaches it) forwards the same SIGINT again.
export interface ShutdownOptions {
  drainTimeoutMs: number;
  /** Operator-facing lines (stdout). */
  out: (line: string) => void;
  /** Problems (stderr). */
  err: (line: string) => void;
  exit?: (code: number) => void;
}

/** A repeat of the first signal within this long is the same request, not "exit at once". */
export const DUPLICATE_SIGNAL_MS = 1000;

export function exitOnSignals(stop: () => Promise<void>, opts: ShutdownOptions): void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let stopping: { signal: NodeJS.Signals; at: number } | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      if (signal === stopping.signal && Date.now() - stopping.at < DUPLICATE_SIGNAL_MS) return;
      opts.err(`aliasid: ${signal} again: exiting without finishing the work in flight`);
      exit(1);
      return;
    }
    stopping = { signal, at: Date.now() };
    opts.out(`${signal}: stopping (finishing the work in flight, up to ${opts.drainTimeoutMs / 1000} s)`);
    const deadline = setTimeout(() => {
      opts.err(`aliasid: the work in flight did not finish within ${opts.drainTimeoutMs / 1000} s (ALIAS_DRAIN_TIMEOUT); exiting anyway`);
      exit(1);
    }, opts.drainTimeoutMs);
    stop().then(() => {
      clearTimeout(deadline);
      opts.out('Stopped.');
      exit(0);
    }, (e: unknown) => {
      clearTimeout(deadline);
      opts.err(`aliasid: error while stopping: ${(e as Error)?.message ?? String(e)}`);
      exit(1);
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
