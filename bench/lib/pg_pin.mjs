// Keeps a local PostgreSQL off the server core while the bench runs (bench/README.md,
// "PostgreSQL's core"). Unpinned, the kernel wakes a backend on the core of the process
// that wrote to its socket: Alias's core. Every statement then preempts Alias, and the
// profile books the backend's run time to Alias's `writev` (148 of 293 µs per client
// credentials request, 2026-12-06). An operator's database has cores (or a host) of its
// own; on a two-core box the only other core is the load generator's, so PostgreSQL shares
// that one: the load generator then has less than a core, which can only lower Alias on
// PostgreSQL's rate, never raise it. With more than two cores PostgreSQL gets the rest.
//
// The postmaster and every process it has started are pinned (new backends inherit the
// postmaster's mask), and `restore()` puts each one's previous mask back.
import { spawnSync } from 'node:child_process';
import os from 'node:os';

/**
 * Where a local PostgreSQL runs during a bench: the cores after the load generator's (0)
 * and the servers' (1) when there are more than two, else the load generator's.
 */
export function postgresCores() {
  const cores = os.cpus().length;
  return cores > 2 ? `2-${cores - 1}` : '0';
}

/** True when `url` names a PostgreSQL on this machine (a Unix socket or a loopback host). */
export function isLocal(url) {
  let host;
  try {
    const u = new URL(url);
    host = decodeURIComponent(u.hostname || '') || u.searchParams.get('host') || '';
  } catch {
    return false;
  }
  return host === '' || host.startsWith('/') || host === 'localhost' || host === '::1' || host === '[::1]' || /^127\./.test(host);
}

/** The pids of this machine's postgres processes (`-o`: only the oldest, the postmaster). */
function postgresPids(...flags) {
  const out = spawnSync('pgrep', [...flags, '-x', 'postgres'], { encoding: 'utf8' }).stdout ?? '';
  return out.split('\n').map(Number).filter((n) => n > 0);
}

function affinity(pid) {
  const r = spawnSync('taskset', ['-p', String(pid)], { encoding: 'utf8' });
  const m = /mask:\s*([0-9a-f]+)/i.exec(r.stdout ?? '');
  return r.status === 0 && m ? m[1] : undefined;
}

/**
 * Pins the local PostgreSQL's processes to `cpus` (a taskset list, e.g. "0" or "2-7").
 * Returns { pinned, note, restore() }; `pinned` is false (with the reason in `note`) when
 * the database is not local, no process was found, or taskset was refused.
 */
export function pinPostgres(url, cpus) {
  const none = (note) => ({ pinned: false, note, restore() {} });
  if (!isLocal(url)) return none('PostgreSQL is not on this machine: not pinned.');
  const pids = postgresPids();
  if (!pids.length) return none('No local postgres process found (pgrep -x postgres): PostgreSQL not pinned.');
  const before = new Map();
  for (const pid of pids) {
    const mask = affinity(pid);
    if (!mask) continue;
    if (spawnSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' }).status === 0) before.set(pid, mask);
  }
  if (!before.size) return none('taskset was refused for the postgres processes (not their owner?): PostgreSQL not pinned.');
  return {
    pinned: true,
    note: `PostgreSQL's ${before.size} processes pinned to core(s) ${cpus} for the run (bench/README.md, "PostgreSQL's core").`,
    restore() {
      // A process that has ended meanwhile refuses. Backends started during the run
      // inherited the pinned mask: they get the postmaster's (the oldest process's) old one.
      const [oldest] = postgresPids('-o');
      const fallback = before.get(oldest) ?? [...before.values()][0];
      for (const pid of new Set([...before.keys(), ...postgresPids()])) {
        spawnSync('taskset', ['-a', '-p', before.get(pid) ?? fallback, String(pid)], { stdio: 'ignore' });
      }
      before.clear();
    },
  };
}
