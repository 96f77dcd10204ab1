#!/usr/bin/env node
// `npm run bench`: Alias (SQLite and PostgreSQL) side by side with oidc-provider, on
// loopback. See bench/README.md. Options:
//   --quick            one short round (under a minute)
//   --rounds N         rounds of the full run (default 3)
//   --duration S       seconds per timed run (default 1.25; logins 2)
//   --no-build         use dist/ as it is (default: rebuild when src/ is newer; --quick
//                      only builds when dist/ is missing, or with --build)
//   --no-pg            leave out Alias on PostgreSQL
//   --no-pin-pg        leave a local PostgreSQL's processes unpinned (default: off the
//                      server core, on the load generator's; lib/pg_pin.mjs)
//   --out DIR          where the JSON and SVG go (default bench/results)
//   --scenario ID      run only these scenarios (repeatable, or comma-separated; ids in
//                      bench/lib/report.mjs SCENARIOS; refresh brings code_exchange along)
//   --scaling          the scaling mode instead (issue 17 §4, bench/lib/scaling.mjs): Alias
//                      only, 20–200 connections, token tables pre-filled to 10k, 100k, 1M
//   --with-peer        with --scaling: the peer too, unfilled, once per connection count
//   --sizes N,N…       with --scaling: other table sizes (default 10000,100000,1000000)
//   --conns N,N…       with --scaling: other connection counts (default 20,50,100,200)
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { freshTokens, loginForm, mintCodes, ROOT, signIn, startAlias, startPeer } from './lib/targets.mjs';
import { newest, pgSchema } from './lib/nodes.mjs';
import { pinPostgres, postgresCores } from './lib/pg_pin.mjs';
import {
  clientCredentialsSteps, codeExchangeSteps, dpopClientCredentialsSteps, introspectionSteps, loginSteps, privateKeyJwtClientCredentialsSteps,
  drained, measuredRun, refreshSteps, roundTripSteps, runLoad, userinfoSteps,
} from './lib/load.mjs';
import { runScaling, SCALING_CONNS, SCALING_SIZES, scalingMarkdown, scalingSummary } from './lib/scaling.mjs';
import { clientAssertions, dpopProofs, dpopSetup } from './lib/proofs.mjs';
import { markdown, RSS_LIMIT_MB, SCENARIOS, summarise, svg, table } from './lib/report.mjs';

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(name);
const value = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : dflt;
};
const QUICK = flag('--quick');
const SCALING = flag('--scaling');
const WITH_PEER = flag('--with-peer');
// Scaling: no stage starts that would end after budgetS; the hard bound stops everything.
const CFG = SCALING ? { rounds: 1, duration: 1, loginDuration: 1, budgetS: 660, hardS: 720 }
  : QUICK ? { rounds: 1, duration: 0.5, loginDuration: 1, warmup: 0.25, warmupCodes: 0, budgetS: 52, hardS: 110 }
  : { rounds: 3, duration: 1.25, loginDuration: 2, warmup: 0.5, warmupCodes: 120, budgetS: 400, hardS: 500 };
CFG.rounds = Math.max(1, Math.min(10, Number(value('--rounds', CFG.rounds))));
CFG.duration = Math.max(0.3, Math.min(30, Number(value('--duration', CFG.duration))));
if (argv.includes('--duration')) CFG.loginDuration = Math.max(CFG.duration, 1);
const CONNS = [20, 50];
const OUT_DIR = value('--out', join(ROOT, 'bench/results'));
// --scenario: a subset, in the table's order (refresh spends the tokens code_exchange returns).
const wanted = argv.flatMap((a, i) => (argv[i - 1] === '--scenario' ? a.split(',') : [])).filter(Boolean);
for (const id of wanted) if (!SCENARIOS.some((s) => s.id === id)) throw new Error(`unknown scenario ${id}; one of ${SCENARIOS.map((s) => s.id).join(', ')}`);
if (wanted.includes('refresh') && !wanted.includes('code_exchange')) wanted.push('code_exchange');
// --quick leaves out the scenarios without a target (8, 9) unless --scenario names them:
// it stays about a minute.
const RUN_SCENARIOS = wanted.length ? SCENARIOS.filter((s) => wanted.includes(s.id)) : QUICK ? SCENARIOS.filter((s) => !s.noTarget) : SCENARIOS;
const runs_ = (id) => RUN_SCENARIOS.some((s) => s.id === id);
/** The key-based scenarios: a DPoP proof or a client assertion per request, made before the run. */
const KEYED = new Set(['dpop_client_credentials', 'private_key_jwt_client_credentials']);
const PG_URL = process.env.ALIAS_BENCH_PG ?? process.env.ALIAS_TEST_PG ?? 'postgres://postgres@%2Fvar%2Frun%2Fpostgresql/test';

const t0 = performance.now();
const loadAtStart = os.loadavg().map((x) => Math.round(x * 100) / 100);
const elapsed = () => (performance.now() - t0) / 1000;
const log = (line) => process.stdout.write(line + '\n');
const notes = [];

// ---- cores: the load generator on one, the servers on another ----------------------
const cores = os.cpus().length;
const LOAD_CORE = 0;
const SERVER_CORE = cores > 1 ? 1 : 0;
/** A local PostgreSQL's cores: any but the server's (lib/pg_pin.mjs); --no-pin-pg leaves it be. */
const PG_CORES = postgresCores();
if (spawnSync('taskset', ['-a', '-p', '-c', String(LOAD_CORE), String(process.pid)], { stdio: 'ignore' }).status !== 0) {
  throw new Error('taskset is required (util-linux) to pin the servers to one core');
}
if (cores < 2) notes.push('Only one core: the load generator shares the servers\' core.');

// ---- build -------------------------------------------------------------------------
function oldest(dir, ext) {
  let t = Infinity;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.min(t, oldest(p, ext));
    else if (e.name.endsWith(ext)) t = Math.min(t, statSync(p).mtimeMs);
  }
  return t;
}
let stale = true;
try {
  stale = newest(join(ROOT, 'src'), '.ts') > oldest(join(ROOT, 'dist'), '.js');
} catch { /* no dist yet */ }
const haveDist = (() => {
  try {
    return statSync(join(ROOT, 'dist/cli/index.js')).isFile();
  } catch {
    return false;
  }
})();
// The full run rebuilds a stale dist/; --quick only builds a missing one (tsc alone takes
// a third of its minute), unless --build is given.
const build = haveDist ? stale && !flag('--no-build') && (!QUICK || flag('--build')) : true;
if (build) {
  log('Building Alias (npm run build: tsc → dist/)…');
  const b = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit', timeout: 180_000 });
  if (b.status !== 0) {
    if (!haveDist) throw new Error('npm run build failed');
    notes.push('npm run build failed (src/ is being edited?): the numbers are for the previous build in dist/.');
  } else log(`  built in ${elapsed().toFixed(0)} s`);
} else if (stale) {
  notes.push('dist/ is older than src/ (not rebuilt: --quick or --no-build): the numbers are for the last build.');
}

// ---- bookkeeping for teardown and the hard time bound -------------------------------
const workDir = mkdtempSync(join(os.tmpdir(), 'alias-bench-'));
const targets = [];
/** The PostgreSQL target's schema (pgSchema in lib/nodes.mjs), dropped at teardown. */
let pgDb;
/** PostgreSQL's processes kept off the server core (lib/pg_pin.mjs), restored at teardown. */
let pgPin = { pinned: false, note: 'not pinned', restore() {} };
let finished = false;

async function teardown() {
  await Promise.all(targets.map((t) => t.proc.stop().catch(() => {})));
  await pgDb?.drop().catch(() => {});
  pgPin.restore();
  if (!flag('--keep')) rmSync(workDir, { recursive: true, force: true });
}
const hardStop = setTimeout(async () => {
  log(`\nAborting: the run passed its time bound of ${CFG.hardS} s.`);
  await teardown();
  process.exit(2);
}, CFG.hardS * 1000);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, async () => {
    if (finished) return;
    log(`\n${sig}: stopping the servers…`);
    await teardown();
    process.exit(130);
  });
}
// An error thrown in a callback (an http or child-process event) escapes every try/finally
// below: the servers, the PostgreSQL schema and the pinning are still undone.
for (const event of ['uncaughtException', 'unhandledRejection']) {
  process.once(event, async (err) => {
    log(`\n${event}: ${err?.stack ?? err}\nstopping the servers…`);
    await teardown();
    process.exit(1);
  });
}

// ---- PostgreSQL ------------------------------------------------------------------------
async function pgReachable() {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('select 1');
    return true;
  } catch (err) {
    notes.push(`PostgreSQL at ${PG_URL} is unreachable (${err.message}); Alias on PostgreSQL was left out.`);
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

function aliasVersion() {
  const git = (args) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' }).stdout?.trim() ?? '';
  const changed = git(['status', '--porcelain', '--', 'src']).split('\n').filter(Boolean).length;
  return { commit: git(['rev-parse', '--short', 'HEAD']) || 'unknown', uncommittedSrcFiles: changed };
}

/**
 * For each scenario and database with a missed target: where its time goes, from the
 * profile kept in bench/results/profiles (made by `npm run bench:profile`, dated), and where
 * bench/README.md explains the miss and what would close it.
 */
function whereTheTimeGoes(misses) {
  const out = ['', 'Where the time goes (Alias, from bench/results/profiles; refresh one with npm run bench:profile):'];
  const seen = new Set();
  for (const r of misses) {
    if (!r.target.startsWith('alias-')) continue;
    const db = r.target === 'alias-pg' ? 'pg' : 'sqlite';
    const key = `${r.scenario}-${db}`;
    if (seen.has(key)) continue;
    seen.add(key);
    let text;
    try {
      text = readFileSync(join(ROOT, 'bench/results/profiles', `${key}.txt`), 'utf8');
    } catch {
      out.push(`  ${key}: no profile yet (npm run bench:profile -- --scenario ${r.scenario} --db ${db})`);
      continue;
    }
    const lines = text.split('\n');
    const busy = lines.find((l) => l.startsWith('profile '))?.replace(/^profile \(measured window only\): /, '') ?? '';
    const byModule = lines.indexOf('by module (self time):');
    const top = byModule < 0 ? [] : lines.slice(byModule + 1, byModule + 6).map((l) => l.trim().replace(/\s+/g, ' '));
    out.push(`  ${key} (${lines[0]?.split(', ').at(-1) ?? 'undated'}): ${busy}`);
    out.push(`    top modules by self time: ${top.join('; ')}`);
  }
  out.push('Why each miss happens and what would close it: bench/README.md, "Issue 17: the targets that remain, and what each would take" (the latest session\'s), and "Which numbers are the latest".');
  return out.join('\n');
}

/**
 * A run is on a quiet machine when neither host-speed measure moved by more than this
 * between its samples: on a quiet host they repeat within a few per cent (bench/README.md).
 */
const QUIET_SPREAD_PCT = 10;

function peerVersion() {
  return JSON.parse(readFileSync(join(ROOT, 'node_modules/oidc-provider/package.json'), 'utf8')).version;
}

/**
 * Runs bench/`script` pinned to `core` and answers the JSON line it prints last; rejects
 * when it fails or is still running after `timeoutMs` (it is killed then).
 */
function pinnedJson(core, script, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn('taskset', ['-c', String(core), process.execPath, join(ROOT, 'bench', script), ...args.map(String)],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d) => { out += d; });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${script} exited ${code}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()));
      } catch (err) {
        reject(err);
      }
    });
  });
}

/**
 * One `bench/host_speed.mjs` sample on `core` (what the host gives that core right now).
 * A sample that fails is left out (undefined): it only describes the run, it decides nothing.
 */
const hostSpeed = (core) => pinnedJson(core, 'host_speed.mjs', [], 10_000).catch(() => undefined);

/** Lowest and highest of a host-speed measure, and how far apart (% of the highest). */
function spreadOf(samples, key) {
  const v = samples.map((x) => x[key]);
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  return { min: lo, max: hi, spreadPct: hi > 0 ? Math.round(((hi - lo) / hi) * 100) : 0 };
}

const rawArgon2 = (seconds, concurrency) => pinnedJson(SERVER_CORE, 'argon2_rate.mjs', [seconds, concurrency], (seconds + 20) * 1000);

/**
 * Lines each Alias server wrote after start-up (bench/lib/targets.mjs keeps them in its
 * log file). At the default level a request writes none (src/http/request_log.ts): a
 * count in the thousands means per-request logging is back, and costs throughput.
 */
function serverLogLines() {
  const out = {};
  for (const t of targets.filter((x) => x.kind === 'alias')) {
    try {
      out[t.name] = readFileSync(t.proc.logFile, 'utf8').split('\n').filter(Boolean).length;
    } catch {
      out[t.name] = null;
    }
  }
  return out;
}

function checkServerLogs() {
  const lines = serverLogLines();
  log(`\nServer log lines during the run (default level; none per request expected): ${Object.entries(lines).map(([k, v]) => `${k} ${v ?? '—'}`).join(', ')}`);
  for (const [name, n] of Object.entries(lines)) {
    if (n !== null && n > 200) notes.push(`${name} wrote ${n} log lines at the default level: more than start-up and security events (per-request logging?); see its log with --keep.`);
  }
}

// --sizes and --conns (comma-separated): a shorter scaling run, e.g. to try a change.
const listOf = (name, dflt) => (argv.includes(name) ? value(name, '').split(',').map(Number).filter((n) => n > 0) : dflt);
const SIZES = listOf('--sizes', SCALING_SIZES).slice(0, 5).map((n) => Math.min(n, 2_000_000));
const SCALE_CONNS = listOf('--conns', SCALING_CONNS).slice(0, 6).map((n) => Math.min(n, 500));
const SCALING_SCENARIOS_TEXT = 'client_credentials, introspection, userinfo and refresh';

/** `--scaling`: bench/lib/scaling.mjs, its tables printed and written to results. */
async function scaling({ version, setupDone }) {
  const { stages, runs } = await runScaling({ targets, log, notes, elapsed, budgetS: CFG.budgetS, duration: CFG.duration, sizes: SIZES, conns: SCALE_CONNS });
  const md = scalingMarkdown({ runs });
  log(`\nScaling (one run each, ${CFG.duration} s; stored tokens = access + refresh tokens + codes at the start of each stage)`);
  log(md);
  log('');
  log(scalingSummary({ runs }));
  const bad = runs.filter((r) => r.errors > 0 || (r.rssMb ?? 0) > RSS_LIMIT_MB);
  if (bad.length) log(`\n${bad.length} run(s) with errors or peak RSS over ${RSS_LIMIT_MB} MB: ${bad.map((r) => `${r.scenario}@${r.conns}/${r.target}/${r.stored}`).join(', ')}`);
  checkServerLogs();
  for (const n of notes) log(`note: ${n}`);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
  mkdirSync(OUT_DIR, { recursive: true });
  const file = join(OUT_DIR, `${stamp}-scaling.json`);
  writeFileSync(file, JSON.stringify({
    version: 1, date: new Date().toISOString(), mode: 'scaling', machine: machineInfo(),
    pinning: { servers: `core ${SERVER_CORE}`, loadGenerator: `core ${LOAD_CORE}`, postgres: pgPin.pinned ? `core(s) ${PG_CORES}` : 'not pinned' },
    settings: { sizes: SIZES, connections: SCALE_CONNS, duration: CFG.duration, aliasLogLevel: 'default', peer: targets.some((t) => t.kind === 'peer') },
    alias: aliasVersion(), peer: { package: 'oidc-provider', version },
    stages, runs: runs.map((r) => ({ ...r, rps: Math.round(r.rps), cpuMs: r.cpuMs && Math.round(r.cpuMs * 1000) / 1000, rssMb: r.rssMb && Math.round(r.rssMb) })),
    markdown: md, summary: scalingSummary({ runs }), serverLogLines: serverLogLines(), notes,
    phases: { setupS: setupDone }, elapsedS: Math.round(elapsed()),
  }, null, 1) + '\n');
  log(`\nWrote ${relative(process.cwd(), file)} in ${elapsed().toFixed(0)} s`);
}

/**
 * The instruction-set features that decide the crypto paths' speed (Linux). The same "AMD
 * EPYC" model name has run with and without AVX-512: with its IFMA, OpenSSL signs RSA-2048
 * in about a third of the time (bench/README.md, the session of 2026-12-07 from 11:36), so
 * runs on the two compare in ratios only, and code exchange not even in those.
 */
const CPU_FEATURES = ['avx2', 'avx512f', 'avx512ifma', 'vaes', 'sha_ni', 'adx', 'bmi2'];
function cpuFeatures() {
  try {
    const flags = new Set(/^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1].split(/\s+/) ?? []);
    return CPU_FEATURES.filter((f) => flags.has(f));
  } catch {
    return null;
  }
}

function machineInfo() {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown', cpuFeatures: cpuFeatures(), cores, memoryGiB: Math.round(os.totalmem() / 2 ** 30), os: `${os.type()} ${os.release()}`,
    node: process.versions.node,
    loadAverage: { start: loadAtStart, end: os.loadavg().map((x) => Math.round(x * 100) / 100) },
  };
}

// ---- main ------------------------------------------------------------------------------
async function main() {
  const withPg = !flag('--no-pg') && (await pgReachable());
  if (withPg && !flag('--no-pin-pg')) {
    pgPin = pinPostgres(PG_URL, PG_CORES);
    notes.push(pgPin.note);
  }
  if (SCALING) {
    log(`Alias benchmark (scaling): ${SCALING_SCENARIOS_TEXT} at ${SCALE_CONNS.join(', ')} connections, ` +
      `token tables pre-filled to ${SIZES.map((n) => n.toLocaleString('en-US')).join(', ')} stored tokens, ${CFG.duration} s per timed run`);
  } else {
    log(`Alias benchmark (${QUICK ? 'quick' : 'full'}): ${CFG.rounds} round(s), ${CFG.duration} s per timed run, connections ${CONNS.join(' and ')}`);
  }
  log(`  servers pinned to core ${SERVER_CORE} (taskset -c ${SERVER_CORE}), one at a time under load; autocannon pinned to core ${LOAD_CORE}` +
    (withPg ? `; PostgreSQL ${pgPin.pinned ? `pinned to core(s) ${PG_CORES}` : 'not pinned'}` : ''));
  log('  Alias runs compiled (dist/) in its default configuration, default log level included (issue 17: the targets hold as users run it)');

  // Start side by side: the peer as soon as Alias on SQLite has its client and user.
  const track = (p, db) => p.then((t) => { Object.assign(t, db); targets.push(t); return t; });
  const sqliteFile = join(workDir, 'sqlite', 'alias.db');
  const sqliteStart = track(startAlias({ name: 'alias-sqlite', db: sqliteFile, env: {}, core: SERVER_CORE, workDir }), { dbKind: 'sqlite', dbLocation: sqliteFile });
  const starting = [sqliteStart];
  // The scaling mode measures Alias's stores; the peer (in memory) only when asked.
  if (!SCALING || WITH_PEER) {
    starting.push(sqliteStart.then((s) => track(startPeer({
      clientId: s.clientId, clientSecret: s.clientSecret, dpopClient: s.dpopClient, pkjwtClient: s.pkjwtClient, accountId: s.userId, core: SERVER_CORE, workDir,
    }))));
  }
  if (withPg) {
    pgDb = await pgSchema(PG_URL, 'bench');
    starting.push(track(startAlias({
      name: 'alias-pg', db: pgDb.location, core: SERVER_CORE, workDir,
      env: { ALIAS_SECRET: randomBytes(32).toString('base64url') },
    }), { dbKind: 'pg', dbLocation: pgDb.location }));
  }
  const started = await Promise.allSettled(starting);
  const failed = started.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  // A fixed order: SQLite, PostgreSQL, the peer.
  const rank = { 'alias-sqlite': 0, 'alias-pg': 1, 'oidc-provider': 2 };
  targets.sort((a, b) => rank[a.name] - rank[b.name]);
  const version = peerVersion();
  if (targets.some((t) => t.kind === 'peer')) log(`  peer: oidc-provider ${version} on Node ${process.versions.node} (it warns that it wants Node 22; it runs), configured as closely as it allows:`);
  const peerConfig = [
    'its default in-memory adapter (MemoryAdapter), with the LRU raised from 1000 to 200000 entries so pre-minted codes, the session and the grant are not evicted',
    'opaque access tokens (no resource indicators), RS256 ID tokens, pairwise subjects',
    'grants: authorization_code (+PKCE S256), refresh_token rotated at every use, client_credentials; introspection; userinfo',
    'Alias\'s lifetimes (access 30 min, code 60 s, ID token 1 h, refresh 30 d); PAR off',
    'DPoP on with server nonces required at the token endpoint (as Alias); a DPoP-bound client (dpop_bound_access_tokens) and a private_key_jwt client (ES256 jwks), client_credentials only, ids and key shared with Alias',
    'a programmatic interaction (signs the bench user in, grants what is asked) instead of pages; offline_access needs prompt=consent there, so each pre-minted code passes through it',
  ];
  if (targets.some((t) => t.kind === 'peer')) for (const line of peerConfig) log(`    - ${line}`);
  const setupDone = elapsed();
  log(`  set-up took ${setupDone.toFixed(1)} s; logs in ${workDir}`);

  // The real flow once per target: sign in, consent, keep the session.
  for (const t of targets) await signIn(t);
  if (SCALING) return scaling({ version, setupDone });

  const runs = [];
  const argonRates = [];
  const estimate = new Map(); // code exchange / refresh rate by target|conns, to size the minted batches
  const refreshPools = new Map();

  /**
   * The key-based scenarios: `amount` proofs or assertions, made here before the timed run
   * by the same code for every target (bench/lib/proofs.mjs), sized from the last measured
   * rate so the run lasts about `seconds`; plus one per connection as slack.
   */
  async function keyedSteps(t, scenario, conns, seconds) {
    const rate = estimate.get(`${scenario}|${t.name}|${conns}`) ?? 1500;
    const amount = Math.max(conns * 4, Math.min(20_000, Math.round(rate * seconds)));
    if (scenario === 'dpop_client_credentials') {
      // A fresh nonce each run (both servers rotate theirs every few minutes).
      const { htu, nonce } = await dpopSetup(t);
      return { amount, steps: dpopClientCredentialsSteps(t, dpopProofs(amount + conns, htu, nonce)) };
    }
    return { amount, steps: privateKeyJwtClientCredentialsSteps(t, clientAssertions(amount + conns, t.pkjwtClient.clientId, t.issuer)) };
  }

  async function measure(round, scenario, conns, t) {
    let steps;
    let amount;
    if (KEYED.has(scenario)) ({ steps, amount } = await keyedSteps(t, scenario, conns, CFG.duration));
    else if (scenario === 'client_credentials') steps = clientCredentialsSteps(t);
    else if (scenario === 'introspection') steps = introspectionSteps(t, t.tokens.access_token);
    else if (scenario === 'userinfo') steps = userinfoSteps(t, t.tokens.access_token);
    else if (scenario === 'code_exchange') {
      const rate = estimate.get(`${t.name}|${conns}`) ?? 250;
      amount = Math.max(conns * 4, Math.min(8000, Math.round(rate * CFG.duration)));
      const codes = await mintCodes(t, amount + 8);
      const pool = [];
      refreshPools.set(`${t.name}|${conns}`, pool);
      steps = codeExchangeSteps(t, codes, pool);
    } else if (scenario === 'refresh') {
      // A run as long as every other scenario's (CFG.duration). The code exchange run leaves
      // one refresh token per code: about a third of that at Alias's refresh rate, and a run
      // of a third of a second is a third start-up (connections opening; "Refresh p99 on
      // SQLite" in bench/README.md). The rest are made first, unmeasured: codes minted and
      // exchanged, and the server left to settle.
      const pool = refreshPools.get(`${t.name}|${conns}`) ?? [];
      const rate = estimate.get(`refresh|${t.name}|${conns}`) ?? 1500;
      const want = Math.max(conns * 4, Math.min(20_000, Math.round(rate * CFG.duration)));
      const missing = want + 8 - pool.length;
      if (missing > 0) {
        const extra = Math.max(missing, conns); // autocannon runs no fewer requests than connections
        const codes = await mintCodes(t, extra + 8);
        await runLoad(t, { connections: conns, steps: codeExchangeSteps(t, codes, pool), amount: extra });
        await drained(t.proc.pid);
      }
      amount = Math.min(want, pool.length - 8);
      if (amount < conns) throw new Error(`${t.name}: only ${pool.length} refresh tokens for the refresh run`);
      steps = refreshSteps(t, pool);
    } else if (scenario === 'round_trip') {
      // The peer: a fresh grant for the session (one consent), so the run's codes and tokens
      // do not pile up on one grant of the in-memory adapter from run to run.
      if (t.kind === 'peer') await mintCodes(t, 1, 1);
      steps = roundTripSteps(t);
    } else if (scenario === 'login') {
      steps = loginSteps(await loginForm(t));
    }
    const res = await measuredRun(t, { connections: conns, steps, amount, duration: scenario === 'login' ? CFG.loginDuration : CFG.duration });
    const { rssMb, cpuMs } = res;
    if (KEYED.has(scenario) || scenario === 'refresh') estimate.set(`${scenario}|${t.name}|${conns}`, res.rps);
    if (scenario === 'code_exchange') {
      // Sizes the next batches (and the 50-connection one after the first 20-connection run).
      estimate.set(`${t.name}|${conns}`, res.rps);
      if (!estimate.has(`${t.name}|50`) || round === 1) estimate.set(`${t.name}|50`, res.rps);
    }
    const run = { round, scenario, conns, target: t.name, rps: res.rps, p50: res.p50, p99: res.p99, errors: res.errors, rssMb, cpuMs, units: res.units, seconds: res.elapsedS };
    runs.push(run);
    const sc = SCENARIOS.find((s) => s.id === scenario);
    log(`  [r${round}] ${sc.n} ${scenario.padEnd(18)} c=${String(conns).padEnd(2)} ${t.name.padEnd(13)} ${res.rps.toFixed(0).padStart(6)} ${sc.unit.padEnd(8)} ` +
      `p50 ${res.p50?.toFixed(1) ?? '—'} p99 ${res.p99?.toFixed(1) ?? '—'} ms  errors ${res.errors}  rss ${rssMb?.toFixed(0) ?? '—'} MB  cpu ${cpuMs?.toFixed(2) ?? '—'} ms/unit  (${res.units} in ${res.elapsedS.toFixed(2)} s)` +
      (res.errors ? `\n      e.g. ${res.errorSamples.join(' | ')}` : ''));
    if (t.proc.exited) throw new Error(`${t.name} exited during the run; see ${t.proc.logFile}`);
    return res;
  }

  // Warm-up (not recorded): JIT and connection pools; also sizes the first code batches.
  log(`\nWarm-up (${CFG.warmup} s per scenario and target, not recorded)…`);
  for (const t of targets) {
    t.tokens = await freshTokens(t);
    const all = [['client_credentials', clientCredentialsSteps(t)], ['introspection', introspectionSteps(t, t.tokens.access_token)],
      ['userinfo', userinfoSteps(t, t.tokens.access_token)], ['round_trip', roundTripSteps(t)]];
    const warm = (QUICK ? [all[0], all[3]] : all).filter(([id]) => runs_(id));
    for (const [, steps] of warm) await runLoad(t, { connections: 20, steps, duration: CFG.warmup });
    // The key-based scenarios: also sizes their first batches (--quick: the first batch is
    // sized from a default rate instead).
    for (const id of KEYED) {
      if (QUICK || !runs_(id)) continue;
      for (const c of CONNS) {
        const { steps, amount } = await keyedSteps(t, id, c, CFG.warmup);
        const res = await runLoad(t, { connections: c, steps, amount });
        estimate.set(`${id}|${t.name}|${c}`, res.rps);
      }
    }
    if (QUICK || !runs_('code_exchange')) continue;
    const codes = await mintCodes(t, CFG.warmupCodes + 8);
    const pool = [];
    const ex = await runLoad(t, { connections: 20, steps: codeExchangeSteps(t, codes, pool), amount: CFG.warmupCodes });
    const rf = await runLoad(t, { connections: 20, steps: refreshSteps(t, pool), amount: Math.max(20, pool.length - 8) });
    for (const c of CONNS) {
      estimate.set(`${t.name}|${c}`, Math.min(ex.rps, rf.rps));
      // Its 120 refreshes are mostly start-up (connections opening): about half the rate of
      // a full run. Doubled, it sizes the first round's refresh run; later rounds use the last run's rate.
      estimate.set(`refresh|${t.name}|${c}`, 2 * rf.rps);
    }
  }

  const phases = { setupS: setupDone, warmupS: elapsed() - setupDone };
  log(`  warm-up took ${phases.warmupS.toFixed(1)} s`);
  const roundTimes = [];
  /**
   * The host's speed before each round and after the last (host_speed.mjs), on the servers'
   * core and on the load generator's (which a local PostgreSQL shares).
   */
  const speeds = [];
  const speedCores = [...new Set([SERVER_CORE, LOAD_CORE])];
  const sampleSpeed = async (when) => {
    for (const core of speedCores) {
      const x = await hostSpeed(core);
      if (!x) continue;
      speeds.push({ when, core, cpuMBs: x.cpuMBs, freshMemMBs: x.freshMemMBs, rsaSignsPerS: x.rsaSignsPerS });
      log(`  host speed ${when} (core ${core}): SHA-256 ${x.cpuMBs} MB/s, fresh memory ${x.freshMemMBs} MB/s, RSA-2048 ${x.rsaSignsPerS} signs/s`);
    }
  };
  for (let round = 1; round <= CFG.rounds; round++) {
    const roundStart = elapsed();
    const est = roundTimes.length ? Math.max(...roundTimes) : 0;
    if (round > 1 && roundStart + est > CFG.budgetS) {
      notes.push(`Stopped after ${round - 1} round(s) to stay within ${CFG.budgetS} s.`);
      log(`\n(stopping after ${round - 1} round(s) to stay within the time bound)`);
      break;
    }
    log(`\nRound ${round}/${CFG.rounds} (${elapsed().toFixed(0)} s)`);
    await sampleSpeed(`before round ${round}`);
    // Alternate: each measurement runs every target in turn; the order rotates by round.
    const order = targets.map((_, i) => targets[(i + round - 1) % targets.length]);
    for (const t of targets) t.tokens = await freshTokens(t);
    for (const sc of RUN_SCENARIOS) {
      for (const conns of CONNS) {
        if (sc.id === 'login') {
          // The reference, measured next to the logins it is compared with.
          const raw = await rawArgon2(CFG.loginDuration, conns);
          argonRates.push({ round, conns, rate: raw.rate });
          log(`  [r${round}] 7 raw argon2id verify (${raw.params}, core ${SERVER_CORE}, ${raw.threadpool} threads, ${conns} in flight): ${raw.rate.toFixed(1)}/s`);
        }
        for (const t of order) {
          if (sc.id === 'login' && t.kind !== 'alias') continue;
          await measure(round, sc.id, conns, t);
        }
      }
    }
    roundTimes.push(elapsed() - roundStart);
    log(`  round ${round} took ${roundTimes.at(-1).toFixed(1)} s`);
  }
  await sampleSpeed('after the last round');
  phases.roundsS = roundTimes.map((x) => Math.round(x * 10) / 10);
  const byCore = Object.fromEntries(speedCores.map((core) => [core, speeds.filter((x) => x.core === core)])
    .filter(([, xs]) => xs.length).map(([core, xs]) => [core, { cpu: spreadOf(xs, 'cpuMBs'), freshMem: spreadOf(xs, 'freshMemMBs'), rsa: spreadOf(xs, 'rsaSignsPerS') }]));
  const host = speeds.length ? { samples: speeds, byCore,
    quiet: Object.values(byCore).every((c) => Math.max(c.cpu.spreadPct, c.freshMem.spreadPct) <= QUIET_SPREAD_PCT) } : undefined;

  const { rows, rawArgon } = summarise(runs, argonRates);
  const printed = table(rows, rawArgon);
  const machine = machineInfo();
  log(`\nResults (median of ${roundTimes.length} round(s); ratio = median over the rounds of Alias ÷ oidc-provider in the same round, logins ÷ that round's raw argon2id)`);
  log(`machine: ${machine.cpu} (${machine.cpuFeatures?.join(' ') ?? 'features unknown'}), ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, Node ${machine.node}; ` +
    `load average ${machine.loadAverage.start.join('/')} at the start, ${machine.loadAverage.end.join('/')} at the end`);
  log(printed);
  if (host) {
    log('');
    for (const core of speedCores) {
      const c = host.byCore[core];
      if (!c) continue;
      log(`host speed on core ${core} (${core === SERVER_CORE ? 'the servers' : 'the load generator, PostgreSQL'}) ` +
        `across the run (bench/host_speed.mjs): SHA-256 ${c.cpu.min}–${c.cpu.max} MB/s (spread ${c.cpu.spreadPct} %), ` +
        `fresh memory ${c.freshMem.min}–${c.freshMem.max} MB/s (spread ${c.freshMem.spreadPct} %), ` +
        `RSA-2048 ${c.rsa.min}–${c.rsa.max} signs/s`);
    }
    if (!host.quiet) log(`the host changed speed during the run (a spread over ${QUIET_SPREAD_PCT} %): not a quiet machine`);
  }
  const misses = rows.filter((r) => r.met === false);
  log(misses.length ? `\n${misses.length} target(s) missed: ${misses.map((r) => `${r.scenario}@${r.conns}/${r.target} (${r.misses.join(', ')})`).join('; ')}`
    : '\nEvery target met.');
  if (misses.length) log(whereTheTimeGoes(misses));
  checkServerLogs();
  for (const n of notes) log(`note: ${n}`);

  const stamp = new Date().toISOString().replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
  const base = `${stamp}${QUICK ? '-quick' : ''}`;
  mkdirSync(OUT_DIR, { recursive: true });
  const alias = aliasVersion();
  const result = {
    version: 1,
    date: new Date().toISOString(),
    mode: QUICK ? 'quick' : 'full',
    machine,
    pinning: { servers: `core ${SERVER_CORE}`, loadGenerator: `core ${LOAD_CORE}`, postgres: pgPin.pinned ? `core(s) ${PG_CORES}` : 'not pinned' },
    settings: { scenarios: RUN_SCENARIOS.map((s) => s.id), rounds: roundTimes.length, duration: CFG.duration, loginDuration: CFG.loginDuration, connections: CONNS, aliasLogLevel: 'default' },
    serverLogLines: serverLogLines(),
    alias,
    peer: { package: 'oidc-provider', version, config: peerConfig },
    rawArgon2: { perRound: argonRates.map((a) => Math.round(a.rate * 10) / 10), runs: argonRates.map((a) => ({ ...a, rate: Math.round(a.rate * 10) / 10 })), median: rawArgon },
    ...(host ? { hostSpeed: host } : {}),
    summary: rows.map((r) => ({
      ...r, rps: Math.round(r.rps), p50: r.p50 && Math.round(r.p50 * 100) / 100, p99: r.p99 && Math.round(r.p99 * 100) / 100,
      rssMb: r.rssMb && Math.round(r.rssMb), ratio: r.ratio && Math.round(r.ratio * 100) / 100,
      ...(r.ratioOfMedians ? { ratioOfMedians: Math.round(r.ratioOfMedians * 100) / 100 } : {}),
    })),
    markdown: markdown(rows, rawArgon),
    notes,
    phases,
    elapsedS: Math.round(elapsed()),
  };
  writeFileSync(join(OUT_DIR, `${base}.json`), JSON.stringify(result, null, 1) + '\n');
  writeFileSync(join(OUT_DIR, `${base}.svg`), svg(rows, {
    title: `Alias vs oidc-provider ${version}: ratio of throughput (${QUICK ? 'quick' : `median of ${roundTimes.length} rounds`})`,
    subtitle: `${machine.cpu}, each server pinned to one core; Alias ${alias.commit}${alias.uncommittedSrcFiles ? '+' : ''}, Node ${machine.node}, ${result.date.slice(0, 10)}`,
  }));
  log(`\nWrote ${relative(process.cwd(), join(OUT_DIR, base + '.json'))} and .svg in ${elapsed().toFixed(0)} s`);
}

try {
  await main();
} catch (err) {
  log(`\nbench failed: ${err?.stack ?? err}`);
  process.exitCode = 1;
} finally {
  finished = true;
  clearTimeout(hardStop);
  await teardown();
}
