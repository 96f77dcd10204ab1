#!/usr/bin/env node
// `npm run bench:ab -- --base REV [--scenario S,S…] [--pairs N] [--slice S] [--conns C]`
//
// Alias against Alias: the build of git revision REV (A) and the working tree's dist/ (B),
// each on its own fresh SQLite file, both pinned to the server core, driven one at a time
// by the same load generator in short alternating slices (A B B A …). On a host whose speed
// moves by a third within a minute (bench/README.md, "The host changes speed"), a change of
// a few per cent does not show in two full runs minutes apart; in slices a second apart,
// both builds meet the same host. The result per scenario: the median CPU per unit of
// each build, and the median and quartiles of the paired ratio B ÷ A (below 1: B is
// cheaper). Scenarios: client_credentials introspection userinfo code_exchange refresh.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { freshTokens, mintCodes, signIn, startAlias } from './lib/targets.mjs';
import { ensureBuilt, ROOT } from './lib/nodes.mjs';
import {
  clientCredentialsSteps, codeExchangeSteps, introspectionSteps, measuredRun, refreshSteps, runLoad, userinfoSteps,
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
const SCENARIOS = ['client_credentials', 'introspection', 'userinfo', 'code_exchange', 'refresh'];
const wanted = value('--scenario', 'client_credentials,introspection').split(',').filter(Boolean);
for (const s of wanted) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s} (one of ${SCENARIOS.join(', ')})`);
const PAIRS = Math.max(2, Math.min(50, Number(value('--pairs', 10))));
const SLICE = Math.max(0.3, Math.min(10, Number(value('--slice', 1))));
const CONNS = Math.max(1, Math.min(200, Number(value('--conns', 20))));

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
async function cleanup() {
  await Promise.all(targets.map((t) => t.proc.stop().catch(() => {})));
  if (existsSync(baseDir)) spawnSync('git', ['worktree', 'remove', '--force', baseDir], { cwd: ROOT });
  rmSync(workDir, { recursive: true, force: true });
}
process.on('SIGINT', () => void cleanup().finally(() => process.exit(130)));

try {
  log(`A = ${BASE} (built in a worktree), B = the working tree's dist/; ${PAIRS} pairs of ${SLICE} s slices at ${CONNS} connections`);
  await ensureBuilt({ log });
  const baseEntry = buildRevision(BASE, baseDir);
  for (const [name, entry] of [['A', baseEntry], ['B', join(ROOT, 'bin/aliasid.js')]]) {
    const db = join(workDir, `${name}.db`);
    const t = await startAlias({ name, db, env: {}, core: SERVER_CORE, workDir, entry });
    await signIn(t);
    t.tokens = await freshTokens(t);
    targets.push(t);
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
    else {
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
    return res.cpuMs;
  }

  const q = (xs, p) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1) + 0.5))];
  };
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
    const ratios = a.map((x, i) => b[i] / x);
    log(`${scenario.padEnd(18)} CPU per unit: A ${(median(a) * 1000).toFixed(1)} µs, B ${(median(b) * 1000).toFixed(1)} µs; ` +
      `B ÷ A median ${median(ratios).toFixed(3)} (quartiles ${q(ratios, 0.25).toFixed(3)}–${q(ratios, 0.75).toFixed(3)}, ` +
      `${ratios.filter((r) => r < 1).length} of ${PAIRS} pairs below 1)`);
    log(`  A: ${a.map((x) => (x * 1000).toFixed(0)).join(' ')}`);
    log(`  B: ${b.map((x) => (x * 1000).toFixed(0)).join(' ')}`);
  }
} finally {
  await cleanup();
}
