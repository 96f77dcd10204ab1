#!/usr/bin/env node
// `npm run bench:ab -- --base REV [--scenario S,S…] [--pairs N] [--slice S] [--conns C] [--db sqlite|pg]`
//
// Alias against Alias: the build of git revision REV (A) and the working tree's dist/ (B),
// each on its own fresh SQLite file (or, with --db pg, its own fresh PostgreSQL schema:
// ALIAS_BENCH_PG, else ALIAS_TEST_PG, else the local Unix socket, with PostgreSQL pinned
// off the server core as `npm run bench` does), both pinned to the server core, driven one at a time
// by the same load generator in short alternating slices (A B B A …). On a host whose speed
// moves by a third within a minute (bench/README.md, "The host changes speed"), a change of
// a few per cent does not show in two full runs minutes apart; in slices a second apart,
// both builds meet the same host. The result per scenario: the median CPU per unit of
// each build and the median and quartiles of the paired ratio B ÷ A (below 1: B is
// cheaper), and the same for the rate (on PostgreSQL the rate also waits on round trips). Scenarios: client_credentials introspection userinfo code_exchange refresh
// round_trip login (a sign-in's slice lasts at least 3 s: about 60 sign-ins/s, each mostly argon2id).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { freshTokens, loginForm, mintCodes, signIn, startAlias } from './lib/targets.mjs';
import { ensureBuilt, pgSchema, ROOT } from './lib/nodes.mjs';
import { pinPostgres, postgresCores } from './lib/pg_pin.mjs';
import {
  clientCredentialsSteps, codeExchangeSteps, introspectionSteps, loginSteps, measuredRun, percentile, refreshSteps, roundTripSteps, runLoad,
  userinfoSteps,
} from './lib/load.mjs';
import { median } from './lib/report.mjs';

const argv = process.argv.slice(2);
const value = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : dflt;
};
const BASE = value('--base');
if (!BASE) {
  process.stderr.write('usage: npm run bench:ab -- --base REV [--scenario S,S…] [--pairs N] [--slice SECONDS] [--conns C]\n');
  process.exit(2);
}
const SCENARIOS = ['client_credentials', 'introspection', 'userinfo', 'code_exchange', 'refresh', 'round_trip', 'login'];
const wanted = value('--scenario', 'client_credentials,introspection').split(',').filter(Boolean);
for (const s of wanted) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s} (one of ${SCENARIOS.join(', ')})`);
const PAIRS = Math.max(2, Math.min(50, Number(value('--pairs', 10))));
const SLICE = Math.max(0.3, Math.min(10, Number(value('--slice', 1))));
const CONNS = Math.max(1, Math.min(200, Number(value('--conns', 20))));
const DB = value('--db', 'sqlite');
if (DB !== 'sqlite' && DB !== 'pg') throw new Error('--db is sqlite or pg');
const PG_URL = process.env.ALIAS_BENCH_PG ?? process.env.ALIAS_TEST_PG ?? 'postgres://postgres@%2Fvar%2Frun%2Fpostgresql/test';

const cores = os.cpus().length;
const SERVER_CORE = cores > 1 ? 1 : 0;
spawnSync('taskset', ['-a', '-p', '-c', '0', String(process.pid)], { stdio: 'ignore' });
const log = (line) => process.stdout.write(`${line}\n`);

/** REV built in a worktree of its own (node_modules shared): its bin/aliasid.js. */
function buildRevision(rev, dir) {
  const git = (args) => spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
  const add = git(['worktree', 'add', '--detach', dir, rev]);
  if (add.status !== 0) throw new Error(`git worktree add ${rev}: ${add.stderr}`);
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'],
    { cwd: dir, encoding: 'utf8', timeout: 300_000 });
  if (tsc.status !== 0) throw new Error(`building ${rev} failed:\n${tsc.stdout}${tsc.stderr}`);
  return join(dir, 'bin/aliasid.js');
}

const workDir = mkdtempSync(join(os.tmpdir(), 'alias-ab-'));
const baseDir = join(workDir, 'base');
const targets = [];
const schemas = [];
let unpin = () => {};
async function cleanup() {
  await Promise.all(targets.map((t) => t.proc.stop().catch(() => {})));
  await Promise.all(schemas.map((x) => x.drop().catch(() => {})));
  unpin();
  if (existsSync(baseDir)) spawnSync('git', ['worktree', 'remove', '--force', baseDir], { cwd: ROOT });
  rmSync(workDir, { recursive: true, force: true });
}
process.on('SIGINT', () => void cleanup().finally(() => process.exit(130)));
// An error thrown in a callback (an http or child-process event) escapes the try/finally
// below: the servers, the schemas, the pinning and the worktree are still undone.
for (const event of ['uncaughtException', 'unhandledRejection']) {
  process.once(event, (err) => {
    process.stderr.write(`\n${event}: ${err?.stack ?? err}\n`);
    void cleanup().finally(() => process.exit(1));
  });
}

try {
  log(`A = ${BASE} (built in a worktree), B = the working tree's dist/, on ${DB === 'pg' ? 'PostgreSQL' : 'SQLite'}; ` +
    `${PAIRS} pairs of ${SLICE} s slices at ${CONNS} connections`);
  await ensureBuilt({ log });
  const baseEntry = buildRevision(BASE, baseDir);
  if (DB === 'pg') {
    const pinned = pinPostgres(PG_URL, postgresCores());
    log(`  ${pinned.note}`);
    unpin = () => pinned.restore();
  }
  for (const [name, entry] of [['A', baseEntry], ['B', join(ROOT, 'bin/aliasid.js')]]) {
    let db = join(workDir, `${name}.db`);
    if (DB === 'pg') {
      const schema = await pgSchema(PG_URL, 'ab');
      schemas.push(schema);
      db = schema.location;
    }
    // PostgreSQL has no data directory to keep a generated secret in: each node is given one.
    const env = DB === 'pg' ? { ALIAS_SECRET: randomBytes(32).toString('base64url') } : {};
    const t = await startAlias({ name, db, env, core: SERVER_CORE, workDir, entry });
    // Stopped by cleanup() even if its set-up below fails.
    targets.push(t);
    await signIn(t);
    t.tokens = await freshTokens(t);
  }
  const [A, B] = targets;

  /** One measured slice of `scenario` on `t`: CPU ms per unit (codes and refresh tokens made first, unmeasured). */
  async function slice(t, scenario) {
    let steps;
    let amount;
    let duration = SLICE;
    if (scenario === 'client_credentials') steps = clientCredentialsSteps(t);
    else if (scenario === 'introspection') steps = introspectionSteps(t, t.tokens.access_token);
    else if (scenario === 'userinfo') steps = userinfoSteps(t, t.tokens.access_token);
    else if (scenario === 'round_trip') steps = roundTripSteps(t);
    else if (scenario === 'login') {
      steps = loginSteps(await loginForm(t));
      duration = Math.max(SLICE, 3);
    } else {
      // Sized from the last slice's rate, so a slice lasts about SLICE seconds.
      amount = Math.max(CONNS * 4, Math.round((t.rate?.[scenario] ?? 800) * SLICE));
      const codes = await mintCodes(t, amount + 8);
      const pool = [];
      if (scenario === 'code_exchange') steps = codeExchangeSteps(t, codes, pool);
      else {
        await runLoad(t, { connections: CONNS, steps: codeExchangeSteps(t, codes, pool), amount });
        amount = pool.length - 8;
        steps = refreshSteps(t, pool);
      }
      duration = undefined;
    }
    const res = await measuredRun(t, { connections: CONNS, steps, amount, duration });
    if (res.errors) throw new Error(`${t.name} ${scenario}: ${res.errors} errors, e.g. ${res.errorSamples.join(' | ')}`);
    (t.rate ??= {})[scenario] = res.rps;
    return { cpu: res.cpuMs, main: res.mainCpuMs, rps: res.rps, rss: res.rssMb, p99: res.p99 };
  }

  const q = (xs, p) => percentile([...xs].sort((a, b) => a - b), p);
  for (const scenario of wanted) {
    // Warm-up of both (JIT), not recorded.
    await slice(A, scenario);
    await slice(B, scenario);
    const a = [];
    const b = [];
    for (let i = 0; i < PAIRS; i++) {
      // A B, then B A: a host that speeds up or slows down during a pair favours neither.
      const order = i % 2 ? [B, A] : [A, B];
      for (const t of order) (t === A ? a : b)[i] = await slice(t, scenario);
    }
    const paired = (key) => a.map((x, i) => b[i][key] / x[key]);
    const spread = (rs) => `median ${median(rs).toFixed(3)} (quartiles ${q(rs, 25).toFixed(3)}–${q(rs, 75).toFixed(3)})`;
    const cpu = paired('cpu');
    const rps = paired('rps');
    log(`${scenario.padEnd(18)} CPU per unit: A ${(median(a.map((x) => x.cpu)) * 1000).toFixed(1)} µs, ` +
      `B ${(median(b.map((x) => x.cpu)) * 1000).toFixed(1)} µs; B ÷ A ${spread(cpu)}, ${cpu.filter((r) => r < 1).length} of ${PAIRS} pairs below 1`);
    log(`${' '.repeat(18)} rate: A ${median(a.map((x) => x.rps)).toFixed(0)}/s, B ${median(b.map((x) => x.rps)).toFixed(0)}/s; ` +
      `B ÷ A ${spread(rps)}, ${rps.filter((r) => r > 1).length} of ${PAIRS} pairs above 1`);
    if (a.every((x) => x.main !== null) && b.every((x) => x.main !== null)) {
      // The main thread alone (schedstat): the sign-in's own work without its hash.
      const main = paired('main');
      log(`${' '.repeat(18)} main thread: A ${(median(a.map((x) => x.main)) * 1000).toFixed(1)} µs, ` +
        `B ${(median(b.map((x) => x.main)) * 1000).toFixed(1)} µs; B ÷ A ${spread(main)}, ${main.filter((r) => r < 1).length} of ${PAIRS} pairs below 1`);
    }
    if (a.every((x) => x.p99 !== null) && b.every((x) => x.p99 !== null)) {
      log(`${' '.repeat(18)} p99: A ${median(a.map((x) => x.p99)).toFixed(1)} ms, B ${median(b.map((x) => x.p99)).toFixed(1)} ms ` +
        `(medians of the slices; B ÷ A ${spread(paired('p99'))})`);
    }
    if (a.every((x) => x.rss) && b.every((x) => x.rss)) {
      log(`${' '.repeat(18)} peak RSS: A ${Math.max(...a.map((x) => x.rss)).toFixed(0)} MB, B ${Math.max(...b.map((x) => x.rss)).toFixed(0)} MB ` +
        `(highest of the slices; medians ${median(a.map((x) => x.rss)).toFixed(0)} and ${median(b.map((x) => x.rss)).toFixed(0)} MB)`);
    }
    log(`  A CPU µs: ${a.map((x) => (x.cpu * 1000).toFixed(0)).join(' ')}`);
    log(`  B CPU µs: ${b.map((x) => (x.cpu * 1000).toFixed(0)).join(' ')}`);
  }
} finally {
  await cleanup();
}
