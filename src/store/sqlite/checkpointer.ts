// WAL checkpoints off the request path (issue 17 §3). SQLite's automatic checkpoint runs
// inside the COMMIT that crosses 1,000 WAL pages, on the event loop: it copies the pages
// into the database file and syncs both files, 5–15 ms during which no request moves
// (bench/README.md, "SQLite checkpoints"). The serving connection turns it off
// (`wal_autocheckpoint = 0`) and this module checkpoints from a worker thread with its own
// connection to the same file:
//
// - At most every CHECKPOINT_INTERVAL_MS, after writes, a PASSIVE checkpoint (never waits for and
//   never blocks a writer or a reader: https://sqlite.org/c3ref/wal_checkpoint_v2.html).
//   After a lull it copies the whole WAL, and the next write starts the WAL over.
// - Under sustained writes the WAL is never fully copied at the moment a write begins, so
//   it never starts over and would grow without bound. Once it holds more than
//   `limitFrames` pages, writers of this process pause (the group-commit driver holds its
//   connection; the event loop runs on and requests wait for it) while the worker runs a
//   RESTART checkpoint: only the pages since the last PASSIVE one are left to copy, and the
//   next write starts the WAL over. The WAL file stays near `limitFrames` pages.
// - If the worker cannot run (it failed to start or died), the connection falls back to
//   SQLite's automatic checkpoint, so the WAL is bounded in every case.
// Nothing here keeps a process alive: the timer and the worker are unref'd, and `close()`
// ends the worker before the connection closes (whose own checkpoint empties the WAL).
import { Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import type SQLite from 'better-sqlite3';

/**
 * How often, at most, a PASSIVE checkpoint runs while there are writes. Each one lets the
 * next write start the WAL over, which syncs the WAL header on the event loop (one fsync):
 * once a second keeps that rare (bench/README.md, "SQLite checkpoints").
 */
export const CHECKPOINT_INTERVAL_MS = 1000;
/** WAL pages beyond which writers pause for a RESTART checkpoint (64 MiB of 4 KiB pages). */
export const WAL_LIMIT_FRAMES = 16_384;
/** SQLite's own default, restored if the worker cannot run. */
const SQLITE_AUTOCHECKPOINT = 1000;
/** How long the RESTART checkpoint waits for readers (other processes') to leave the WAL. */
const RESTART_BUSY_MS = 200;

export interface CheckpointOptions {
  intervalMs?: number;
  limitFrames?: number;
}

export interface CheckpointStats {
  /** PASSIVE checkpoints run by the worker. */
  passive: number;
  /** RESTART checkpoints run with writers paused (the WAL had passed its limit). */
  restarts: number;
  /** The most WAL pages a checkpoint found. */
  maxFrames: number;
  /** True once the worker failed and SQLite's automatic checkpoint took over again. */
  inline: boolean;
}

export interface Checkpointer {
  readonly stats: CheckpointStats;
  close(): Promise<void>;
}

interface WalCheckpointResult {
  busy: number;
  log: number;
  checkpointed: number;
}

type Reply = { ok: WalCheckpointResult } | { error: string };

/**
 * The worker thread's whole program. It runs from its source text (`eval`), so it uses
 * nothing from this module's scope: `require` and the paths come in as arguments.
 */
function checkpointWorker(req: NodeJS.Require): void {
  const { parentPort, workerData } = req('node:worker_threads') as typeof import('node:worker_threads');
  const { module, file, busyMs } = workerData as { module: string; file: string; busyMs: number };
  const Database = req(module) as typeof SQLite;
  const db = new Database(file, { fileMustExist: true });
  db.pragma(`busy_timeout = ${busyMs}`);
  parentPort!.on('message', (mode: 'PASSIVE' | 'RESTART') => {
    try {
      parentPort!.postMessage({ ok: (db.pragma(`wal_checkpoint(${mode})`) as WalCheckpointResult[])[0] });
    } catch (err) {
      parentPort!.postMessage({ error: (err as Error)?.message ?? String(err) });
    }
  });
}

/**
 * Takes checkpoints of `file` off `db` (the serving connection). `writes` counts this
 * process's commits; `exclusive` runs a function while none of its transactions is open.
 */
export function startCheckpointer(db: SQLite.Database, file: string, hooks: {
  writes(): number;
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
}, opts: CheckpointOptions = {}): Checkpointer {
  const intervalMs = opts.intervalMs ?? CHECKPOINT_INTERVAL_MS;
  const limitFrames = opts.limitFrames ?? WAL_LIMIT_FRAMES;
  const stats: CheckpointStats = { passive: 0, restarts: 0, maxFrames: 0, inline: false };
  db.pragma('wal_autocheckpoint = 0');
  let worker: Worker | undefined;
  let pending: { resolve(r: Reply): void } | undefined;
  let running: Promise<void> | undefined;
  let seenWrites = hooks.writes();
  let closed = false;

  function fallBack() {
    if (stats.inline || closed) return;
    stats.inline = true;
    clearInterval(timer);
    db.pragma(`wal_autocheckpoint = ${SQLITE_AUTOCHECKPOINT}`);
  }

  /** The worker, started with the first checkpoint (short-lived CLI commands never start one). */
  function ensureWorker(): Worker {
    if (worker) return worker;
    const w = new Worker(`(${checkpointWorker.toString()})(require)`, {
      eval: true,
      // Plain CommonJS whatever flags this process runs with (--input-type, --import tsx, --cpu-prof).
      execArgv: [],
      workerData: { module: createRequire(import.meta.url).resolve('better-sqlite3'), file, busyMs: RESTART_BUSY_MS },
    });
    w.on('message', (reply: Reply) => {
      const p = pending;
      pending = undefined;
      p?.resolve(reply);
    });
    const gone = (err?: unknown) => {
      if (worker !== w) return;
      worker = undefined;
      pending?.resolve({ error: (err as Error)?.message ?? 'the checkpoint worker stopped' });
      pending = undefined;
      fallBack();
    };
    w.on('error', gone);
    w.on('exit', () => gone());
    // After the listeners: adding a 'message' listener refs the worker's port again.
    w.unref();
    worker = w;
    return w;
  }

  function checkpoint(mode: 'PASSIVE' | 'RESTART'): Promise<Reply> {
    const w = ensureWorker();
    // A checkpoint in flight holds the process until it answers (milliseconds): `close()`
    // waits for it, and an unref'd worker's answer would otherwise never come.
    w.ref();
    return new Promise<Reply>((resolve) => {
      pending = { resolve };
      w.postMessage(mode);
    }).finally(() => w.unref());
  }

  async function tick() {
    const writes = hooks.writes();
    if (writes === seenWrites) return;
    seenWrites = writes;
    const passive = await checkpoint('PASSIVE');
    // Another process's checkpoint running (SQLITE_BUSY): the next tick tries again.
    if (!('ok' in passive) || closed) return;
    stats.passive++;
    stats.maxFrames = Math.max(stats.maxFrames, passive.ok.log);
    if (passive.ok.log <= limitFrames) return;
    const restart = await hooks.exclusive(() => checkpoint('RESTART'));
    if ('ok' in restart) stats.restarts++;
  }

  const timer = setInterval(() => {
    if (running || closed) return;
    running = tick().catch(() => {}).finally(() => { running = undefined; });
  }, intervalMs);
  timer.unref();

  return {
    stats,
    async close() {
      closed = true;
      clearInterval(timer);
      await running;
      const w = worker;
      worker = undefined;
      await w?.terminate();
    },
  };
}
