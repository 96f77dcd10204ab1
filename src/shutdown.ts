// Graceful shutdown on SIGTERM/SIGINT for `serve` and `worker`: `stop` stops taking new
// work, finishes what is in flight and closes the database; the process then exits 0.
// The drain is bounded (ALIAS_DRAIN_TIMEOUT): past it the process exits 1 anyway, before
// a process manager's SIGKILL, saying so. A second signal exits at once.
export interface ShutdownOptions {
  drainTimeoutMs: number;
  /** Operator-facing lines (stdout). */
  out: (line: string) => void;
  /** Problems (stderr). */
  err: (line: string) => void;
  exit?: (code: number) => void;
}

export function exitOnSignals(stop: () => Promise<void>, opts: ShutdownOptions): void {
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      opts.err(`aliasid: ${signal} again: exiting without finishing the work in flight`);
      exit(1);
      return;
    }
    stopping = true;
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
