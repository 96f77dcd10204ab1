#!/usr/bin/env node
// `npm run bench:profile -- [--scenario S]... [--db sqlite|pg] [--seconds N] [--conns C] [--no-pin-pg] [--trace-gc] [--timeline] [--threads] [--no-cpu-prof] [--perf] [--perf-all] [--warm S] [--node-flag F]…`
// Runs Alias (dist/, pinned to one core, default log level) under `node --cpu-prof`,
// drives one scenario with autocannon, stops it and summarises where the time went: self
// time by function and by module, and inclusive time of Alias's own functions, per
// request. Scenarios: client_credentials introspection code_exchange refresh userinfo
// round_trip login (default: client_credentials userinfo code_exchange). --threads adds each
// thread's CPU per unit from /proc (Node names most threads "node": they are told apart by id);
// --no-cpu-prof leaves the profiler out, whose own thread shares the core.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { cpuSeconds, freshTokens, loginForm, mintCodes, ROOT, signIn, startAlias } from './lib/targets.mjs';
import { pgSchema } from './lib/nodes.mjs';
import { pinPostgres, postgresCores } from './lib/pg_pin.mjs';
import {
  clientCredentialsSteps, codeExchangeSteps, drained, introspectionSteps, loginSteps, refreshSteps, roundTripSteps, runLoad, userinfoSteps,
} from './lib/load.mjs';

const argv = process.argv.slice(2);
const values = (name) => argv.flatMap((a, i) => (a === name && argv[i + 1] ? [argv[i + 1]] : []));
const scenarios = values('--scenario').length ? values('--scenario') : ['client_credentials', 'userinfo', 'code_exchange'];
const dbKind = values('--db')[0] ?? 'sqlite';
const seconds = Math.min(30, Number(values('--seconds')[0] ?? 5));
const conns = Math.min(200, Number(values('--conns')[0] ?? 20));
const top = Number(values('--top')[0] ?? 25);
/** --trace-gc: V8's GC lines of the measured window, summarised (pauses behind p99). */
const TRACE_GC = argv.includes('--trace-gc');
/** --timeline: when the measured run's slow answers came, per 50 ms (load.mjs timelineOf). */
const TIMELINE = argv.includes('--timeline');
/** --node-flag F (repeatable): a flag for Alias's node, to try a V8 or Node setting. */
const NODE_FLAGS = values('--node-flag');
/** --no-cpu-prof: run without V8's profiler (which samples on a thread of its own), e.g. with --threads. */
const CPU_PROF = !argv.includes('--no-cpu-prof');
/**
 * --perf: `perf record -g` of the main thread over the measured window (its own clock, not
 * a thread on the server's core: the V8 profile's samples lean to idle there), written to
 * the output directory as <scenario>-<db>.perf.data; with --node-flag --perf-basic-prof for
 * JavaScript names.
 */
const PERF = argv.includes('--perf') || argv.includes('--perf-all');
/** --perf-all: as --perf, every thread of the process (GC helpers, the thread pool, the JIT's compilers). */
const PERF_ALL = argv.includes('--perf-all');
/** --warm S: S seconds each of userinfo and the round trip first, so code shared with them is optimized as in a long-running server. */
const WARM_S = Math.min(30, Number(values('--warm')[0] ?? 0));
/** --threads: CPU per unit of each of Alias's threads in the measured window, from /proc (no sampling). */
const THREADS = argv.includes('--threads');
const outDir = values('--out')[0] ?? join(ROOT, 'bench/results/profiles');
const PG_URL = process.env.ALIAS_BENCH_PG ?? process.env.ALIAS_TEST_PG ?? 'postgres://postgres@%2Fvar%2Frun%2Fpostgresql/test';
const SERVER_CORE = os.cpus().length > 1 ? 1 : 0;
spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });

const ALIAS_DIST = new URL('../dist/', import.meta.url).href;

function moduleOf(url) {
  if (!url) return '(native/V8)';
  if (url.startsWith('node:')) return url.replace(/^node:internal\//, 'node:').split('/').slice(0, 2).join('/');
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  if (url.startsWith(ALIAS_DIST)) return `alias:${url.slice(ALIAS_DIST.length)}`;
  return url.replace(/^file:\/\//, '');
}

/** Microseconds on CLOCK_MONOTONIC, the clock of V8's profile timestamps. */
const monoUs = () => Number(process.hrtime.bigint() / 1000n);

function analyse(profile, units, window) {
  const { nodes, samples, timeDeltas } = profile;
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const selfMs = new Map();
  // Only the samples of the measured window (not sign-in or minting codes).
  let ts = profile.startTime;
  let kept = 0;
  for (let i = 0; i < samples.length; i++) {
    ts += timeDeltas[i] ?? 0;
    if (window && (ts < window.start || ts > window.end)) continue;
    kept++;
    selfMs.set(samples[i], (selfMs.get(samples[i]) ?? 0) + (timeDeltas[i] ?? 0) / 1000);
  }
  if (window && kept === 0) return analyse(profile, units, undefined);
  const parent = new Map();
  for (const n of nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n) => `${n.callFrame.functionName || '(anonymous)'} ${moduleOf(n.callFrame.url)}:${n.callFrame.lineNumber + 1}`;
  const total = [...selfMs.values()].reduce((a, b) => a + b, 0);
  const idle = [...selfMs].filter(([id]) => ['(idle)', '(program)', '(garbage collector)'].includes(byId.get(id).callFrame.functionName));
  const bySelf = new Map();
  const byModule = new Map();
  const inclusive = new Map();
  for (const [id, ms] of selfMs) {
    const n = byId.get(id);
    bySelf.set(key(n), (bySelf.get(key(n)) ?? 0) + ms);
    const mod = ['(idle)', '(program)', '(garbage collector)'].includes(n.callFrame.functionName) ? n.callFrame.functionName : moduleOf(n.callFrame.url);
    byModule.set(mod, (byModule.get(mod) ?? 0) + ms);
    // Inclusive time of Alias's own functions (each function once per stack).
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const m = byId.get(cur);
      if (!m.callFrame.url.startsWith(ALIAS_DIST)) continue;
      const k = key(m);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + ms);
    }
  }
  const idleMs = idle.reduce((a, [, ms]) => a + ms, 0);
  const sort = (m) => [...m].sort((a, b) => b[1] - a[1]);
  const per = (ms) => (units ? `${((ms * 1000) / units).toFixed(1).padStart(7)} µs/unit` : '');
  const pct = (ms) => `${((100 * ms) / total).toFixed(1).padStart(5)}%`;
  const lines = [];
  lines.push(`profile${window ? ' (measured window only)' : ' (whole process: set-up included)'}: ${(total / 1000).toFixed(1)} s sampled, ${((total - idleMs) / 1000).toFixed(1)} s busy, ${units} units → ${per(total - idleMs).trim()} busy`);
  lines.push('\nby module (self time):');
  for (const [k, ms] of sort(byModule).slice(0, top)) lines.push(`  ${pct(ms)} ${per(ms)}  ${k}`);
  lines.push('\nby function (self time):');
  for (const [k, ms] of sort(bySelf).slice(0, top)) lines.push(`  ${pct(ms)} ${per(ms)}  ${k}`);
  lines.push('\nAlias functions (inclusive time):');
  for (const [k, ms] of sort(inclusive).slice(0, top)) lines.push(`  ${pct(ms)} ${per(ms)}  ${k}`);
  return lines.join('\n');
}

/**
 * The measured window's collections from --trace-gc lines ("Scavenge … 0.52 / 0.00 ms",
 * "Mark-Compact … 5.31 / 0.00 ms"): count, total and longest pause of each kind, and the
 * pauses over 2 ms (the ones a p99 of 10 ms notices).
 */
function gcSummary(log, window) {
  const kinds = new Map();
  const long = [];
  for (const line of log.split('\n')) {
    const m = /\d+ ms: (Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Compact)[^,]*, ([\d.]+) \/ ([\d.]+) ms/.exec(line);
    if (!m) continue;
    const pause = Number(m[2]);
    const k = kinds.get(m[1]) ?? { n: 0, total: 0, max: 0 };
    k.n++;
    k.total += pause;
    k.max = Math.max(k.max, pause);
    kinds.set(m[1], k);
    if (pause > 2) long.push(`${m[1]} ${pause.toFixed(1)} ms`);
  }
  const seconds = window ? (window.end - window.start) / 1e6 : 0;
  const lines = [`garbage collection in the measured window (--trace-gc, ${seconds.toFixed(1)} s):`];
  for (const [kind, k] of kinds) {
    lines.push(`  ${kind}: ${k.n} (${(k.n / (seconds || 1)).toFixed(1)}/s), ${k.total.toFixed(0)} ms in all, longest ${k.max.toFixed(1)} ms`);
  }
  lines.push(`  pauses over 2 ms: ${long.length ? long.join(', ') : 'none'}`);
  return lines.join('\n');
}

/** Records the main thread of `pid` (--perf-all: all its threads) with perf for `seconds`; resolves when perf has written its file. */
function startPerf(pid, file, seconds) {
  mkdirSync(outDir, { recursive: true });
  const child = spawn('perf', ['record', '-g', PERF_ALL ? '-p' : '-t', String(pid), '-o', file, '--', 'sleep', String(seconds)], { stdio: 'ignore' });
  return new Promise((resolve) => {
    child.on('exit', () => { process.stdout.write(`perf: ${file} (perf report -i ${file} --no-children)\n`); resolve(); });
    child.on('error', (err) => { process.stdout.write(`perf: not run (${err.message})\n`); resolve(); });
  });
}

/** CPU seconds of each thread of `pid`, keyed by name and id (Node 20 names most threads "node"). */
function threadCpu(pid) {
  const out = new Map();
  let tids = [];
  try { tids = readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const key = tid === String(pid) ? 'main' : `${name}/${tid}`;
      out.set(`${key} user`, Number(f[11]) / 100);
      out.set(`${key} sys`, Number(f[12]) / 100);
      // The scheduler's own count of time on a CPU (ns): exact, where user and sys are
      // charged in whole ticks to whichever thread runs at the tick.
      const run = Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
      out.set(`${key} on-CPU`, run);
    } catch { /* the thread ended */ }
  }
  return out;
}

function threadSummary(before, after, units) {
  const lines = [`CPU per unit by thread (--threads, /proc, ${units} units):`];
  let total = 0;
  for (const [name, s] of after) {
    const ms = ((s - (before.get(name) ?? 0)) * 1000) / (units || 1);
    if (!name.endsWith(' on-CPU')) total += ms;
    if (ms >= 0.005) lines.push(`  ${name.padEnd(22)} ${ms.toFixed(3)} ms`);
  }
  lines.push(`  ${'all (user + sys)'.padEnd(22)} ${total.toFixed(3)} ms`);
  return lines.join('\n');
}

/** The --timeline lines: one per bucket, answers / slow ones / longest, 10 buckets a line. */
function timelineSummary(tl, p99) {
  const lines = [`when the slow answers came (--timeline; per ${tl.bucketMs} ms: answers/at or over p99 ${p99?.toFixed(1)} ms/longest ms):`];
  for (let i = 0; i < tl.buckets.length; i += 10) {
    lines.push('  ' + tl.buckets.slice(i, i + 10).map((b, j) => `${(i + j) * tl.bucketMs}:${b.answers}/${b.slow}/${b.maxMs.toFixed(0)}`).join(' '));
  }
  lines.push(`  ${tl.slow} answers at or over p99, ${tl.slowInFirst100Ms} of them in the first 100 ms (connections opening); ` +
    `${tl.dips} dips (a ${tl.bucketMs} ms with under 60 % of the median ${tl.medianAnswers} answers)`);
  return lines.join('\n');
}

async function profileOne(scenario) {
  const workDir = mkdtempSync(join(os.tmpdir(), 'alias-profile-'));
  const profDir = join(workDir, 'prof');
  mkdirSync(profDir);
  let pgDb;
  let db = join(workDir, 'alias.db');
  const env = {};
  if (dbKind === 'pg') {
    pgDb = await pgSchema(PG_URL, 'bench');
    db = pgDb.location;
    env.ALIAS_SECRET = randomBytes(32).toString('base64url');
  }
  const t = await startAlias({ name: `alias-${dbKind}`, db, env, core: SERVER_CORE, workDir,
    nodeFlags: [...(CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []), ...(TRACE_GC ? ['--trace-gc'] : []), ...NODE_FLAGS] });
  let gcFrom = 0;
  let units = 0;
  let result;
  let window;
  let threads;
  try {
    await signIn(t);
    const tokens = await freshTokens(t);
    if (WARM_S > 0) {
      for (const warm of [userinfoSteps(t, tokens.access_token), roundTripSteps(t)]) {
        await runLoad(t, { connections: conns, steps: warm, duration: WARM_S });
      }
    }
    let steps;
    let amount;
    if (scenario === 'client_credentials') steps = clientCredentialsSteps(t);
    else if (scenario === 'introspection') steps = introspectionSteps(t, tokens.access_token);
    else if (scenario === 'userinfo') steps = userinfoSteps(t, tokens.access_token);
    else if (scenario === 'round_trip') steps = roundTripSteps(t);
    else if (scenario === 'login') steps = loginSteps(await loginForm(t));
    else if (scenario === 'code_exchange' || scenario === 'refresh') {
      const n = Math.min(6000, Math.round(seconds * 400));
      const codes = await mintCodes(t, n + 8);
      const pool = [];
      if (scenario === 'refresh') await runLoad(t, { connections: conns, steps: codeExchangeSteps(t, codes, pool), amount: n });
      steps = scenario === 'refresh' ? refreshSteps(t, pool) : codeExchangeSteps(t, codes, pool);
      amount = scenario === 'refresh' ? pool.length - 8 : n;
    } else throw new Error(`unknown scenario ${scenario}`);
    // As `npm run bench` does before each measured run: the set-up's work (its checkpoint,
    // the queued hashes) ends before the window starts.
    await drained(t.proc.pid);
    const cpu0 = cpuSeconds(t.proc.pid);
    const threads0 = THREADS ? threadCpu(t.proc.pid) : undefined;
    if (TRACE_GC) gcFrom = readFileSync(t.proc.logFile, 'utf8').length;
    window = { start: monoUs() };
    const perf = PERF ? startPerf(t.proc.pid, join(outDir, `${scenario}-${dbKind}.perf.data`), seconds) : undefined;
    result = await runLoad(t, { connections: conns, steps, amount, duration: seconds, maxSeconds: seconds * 4 + 10, timeline: TIMELINE });
    window.end = monoUs();
    if (perf) await perf;
    const cpu1 = cpuSeconds(t.proc.pid);
    units = result.units;
    if (threads0) threads = threadSummary(threads0, threadCpu(t.proc.pid), units);
    process.stdout.write(`\n== ${scenario} on ${dbKind}, ${conns} connections: ${result.rps.toFixed(0)}/s, p50 ${result.p50?.toFixed(1)} ms, ` +
      `p99 ${result.p99?.toFixed(1)} ms, errors ${result.errors}, server CPU ${(((cpu1 - cpu0) * 1000) / units).toFixed(3)} ms/unit\n`);
  } finally {
    await t.proc.stop();
    await pgDb?.drop();
  }
  const texts = [];
  if (CPU_PROF) {
    const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('no .cpuprofile written');
    // The profile covers set-up too (sign-in, minting); the summary is per measured unit.
    texts.push(analyse(JSON.parse(readFileSync(join(profDir, file), 'utf8')), units, window));
  }
  if (threads) texts.push(threads);
  let text = texts.join('\n\n');
  if (TRACE_GC) text += '\n\n' + gcSummary(readFileSync(t.proc.logFile, 'utf8').slice(gcFrom), window);
  if (TIMELINE) text += '\n\n' + timelineSummary(result.timeline, result.p99);
  process.stdout.write(text + '\n');
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, `${scenario}-${dbKind}.txt`), `${scenario} on ${dbKind}, ${conns} connections, ${new Date().toISOString()}\n` +
    `${result.rps.toFixed(0)}/s p50 ${result.p50?.toFixed(1)} ms p99 ${result.p99?.toFixed(1)} ms errors ${result.errors}\n${text}\n`);
  if (argv.includes('--keep')) process.stdout.write(`profile kept in ${profDir}\n`);
  else rmSync(workDir, { recursive: true, force: true });
}

// The same placement as the bench's: a local PostgreSQL off the server core (lib/pg_pin.mjs).
const pgPin = dbKind === 'pg' && !argv.includes('--no-pin-pg')
  ? pinPostgres(PG_URL, postgresCores())
  : { note: '', restore() {} };
if (pgPin.note) process.stdout.write(`${pgPin.note}\n`);
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => { pgPin.restore(); process.exit(130); });
try {
  for (const s of scenarios) await profileOne(s);
} finally {
  pgPin.restore();
}
