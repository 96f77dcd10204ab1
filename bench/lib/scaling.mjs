// The scaling mode (`npm run bench -- --scaling`, issue 17 §4; bench/README.md "Scaling"):
// how rate, p99 and server CPU per request of the four index-bound scenarios change
// from 20 to 200 connections and from 10k to 1M stored tokens. Alias on SQLite and on
// PostgreSQL; the in-memory peer only with --with-peer, once per connection count (its
// tables cannot be pre-filled, and it has no refresh run here).
import { fillTo, tableSizes } from './fill.mjs';
import { freshTokens } from './targets.mjs';
import { clientCredentialsSteps, introspectionSteps, measuredRun, refreshChainSteps, runLoad, userinfoSteps } from './load.mjs';
import { median } from './report.mjs';

export const SCALING_SIZES = [10_000, 100_000, 1_000_000];
export const SCALING_CONNS = [20, 50, 100, 200];
export const SCALING_SCENARIOS = ['client_credentials', 'introspection', 'userinfo', 'refresh'];

const kilo = (n) => (n >= 1e6 ? `${+(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${Math.round(n / 1e3)}k` : String(n));
const fmt = (x, d) => (x === null || x === undefined ? '—' : x.toFixed(d));

/**
 * ctx: { targets (signed in), log, notes, elapsed() in s, budgetS (no stage starts that
 * would end after it), duration (s per run), sizes?, conns? }.
 * Returns { stages, runs } for the results file.
 */
export async function runScaling(ctx) {
  const { targets, log, notes, elapsed, budgetS, duration } = ctx;
  const sizes = ctx.sizes ?? SCALING_SIZES;
  const connsList = ctx.conns ?? SCALING_CONNS;
  const alias = targets.filter((t) => t.kind === 'alias');
  const peer = targets.find((t) => t.kind === 'peer');
  const runs = [];
  const stages = [];

  async function measure(t, scenario, conns, steps, stored) {
    const res = await measuredRun(t, { connections: conns, steps, duration });
    const run = { target: t.name, scenario, conns, stored, rps: res.rps, p50: res.p50, p99: res.p99, cpuMs: res.cpuMs, rssMb: res.rssMb, errors: res.errors, units: res.units, seconds: res.elapsedS };
    runs.push(run);
    log(`  ${scenario.padEnd(18)} c=${String(conns).padEnd(3)} ${t.name.padEnd(13)} ${stored === null ? '' : `${kilo(stored).padStart(5)} stored `}` +
      `${res.rps.toFixed(0).padStart(6)} req/s  p50 ${fmt(res.p50, 1)} p99 ${fmt(res.p99, 1)} ms  cpu ${fmt(res.cpuMs, 3)} ms/unit  rss ${fmt(res.rssMb, 0)} MB  errors ${res.errors}` +
      (res.errors ? `\n      e.g. ${res.errorSamples.join(' | ')}` : ''));
    if (t.proc.exited) throw new Error(`${t.name} exited during the run; see ${t.proc.logFile}`);
  }

  // Template rows for the fill (a user token, a refresh token, a consumed code, a
  // client_credentials token), and a short warm-up of each scenario.
  for (const t of targets) {
    t.tokens = await freshTokens(t);
    for (const steps of [clientCredentialsSteps(t), introspectionSteps(t, t.tokens.access_token), userinfoSteps(t, t.tokens.access_token)]) {
      await runLoad(t, { connections: 20, steps, amount: 300 });
    }
  }
  if (peer) {
    log(`\n${peer.name} (in memory; nothing to pre-fill): client_credentials, introspection and userinfo per connection count`);
    for (const scenario of SCALING_SCENARIOS.filter((s) => s !== 'refresh')) {
      for (const conns of connsList) {
        const steps = scenario === 'client_credentials' ? clientCredentialsSteps(peer)
          : scenario === 'introspection' ? introspectionSteps(peer, peer.tokens.access_token) : userinfoSteps(peer, peer.tokens.access_token);
        await measure(peer, scenario, conns, steps, null);
      }
    }
  }

  const pools = new Map(alias.map((t) => [t.name, { tokens: [t.tokens.refresh_token], next: 0 }]));
  let lastStage = null;
  for (const size of sizes) {
    // A stage that would end past the budget is left out (the last one takes longest: its
    // fill is ten times the one before).
    if (lastStage) {
      const predicted = lastStage.fillS * (size / lastStage.size) + lastStage.runS;
      if (elapsed() + predicted > budgetS) {
        notes.push(`Scaling: the ${kilo(size)} stage was left out: it would have ended after ${budgetS} s (predicted ${predicted.toFixed(0)} s, ${elapsed().toFixed(0)} s gone).`);
        log(`\n(leaving out the ${kilo(size)} stage: predicted ${predicted.toFixed(0)} s, past the time bound)`);
        break;
      }
    }
    log(`\nStage: ${kilo(size)} stored tokens (${elapsed().toFixed(0)} s)`);
    const fillStart = elapsed();
    const samples = new Map();
    for (const t of alias) {
      const t0 = elapsed();
      const fill = await fillTo(t, size);
      const before = await tableSizes(t);
      samples.set(t.name, fill.samples);
      const pool = pools.get(t.name);
      pools.set(t.name, { tokens: [...fill.samples.refresh, ...pool.tokens.slice(pool.next)], next: 0 });
      stages.push({ size, target: t.name, fillS: Math.round((elapsed() - t0) * 10) / 10, added: fill.added, users: fill.users, grants: fill.grants, before,
        sampled: { access: fill.samples.access.length, refresh: fill.samples.refresh.length } });
      log(`  ${t.name}: added ${fill.added.toLocaleString('en-US')} rows in ${(elapsed() - t0).toFixed(1)} s → access ${before.access_tokens.toLocaleString('en-US')}, ` +
        `refresh ${before.refresh_tokens.toLocaleString('en-US')}, codes ${before.authorization_codes.toLocaleString('en-US')}, grants ${before.grants.toLocaleString('en-US')}, users ${before.users.toLocaleString('en-US')}`);
    }
    const runStart = elapsed();
    let turn = 0;
    for (const scenario of SCALING_SCENARIOS) {
      for (const conns of connsList) {
        // Alternate which store goes first.
        const order = turn++ % 2 ? [...alias].reverse() : alias;
        for (const t of order) {
          const stored = stages.find((s) => s.size === size && s.target === t.name).before.total;
          const access = samples.get(t.name).access.length ? samples.get(t.name).access : t.tokens.access_token;
          let steps;
          if (scenario === 'client_credentials') steps = clientCredentialsSteps(t);
          else if (scenario === 'introspection') steps = introspectionSteps(t, access);
          else if (scenario === 'userinfo') steps = userinfoSteps(t, access);
          else {
            const pool = pools.get(t.name);
            // One token per connection to start with; the run's answers feed the rest.
            if (pool.tokens.length - pool.next < conns + 10) {
              notes.push(`Scaling: ${t.name} refresh at ${conns} connections (${kilo(size)}) skipped: only ${pool.tokens.length - pool.next} refresh tokens left.`);
              continue;
            }
            steps = refreshChainSteps(t, pool);
          }
          await measure(t, scenario, conns, steps, stored);
        }
      }
    }
    for (const t of alias) stages.find((s) => s.size === size && s.target === t.name).after = await tableSizes(t);
    lastStage = { size, fillS: runStart - fillStart, runS: elapsed() - runStart };
  }
  return { stages, runs };
}

/** The runs as one Markdown table (stores × scenarios × size × connections). */
export function scalingMarkdown({ runs }) {
  const out = ['| scenario | target | stored tokens | conns | rate req/s | p50 ms | p99 ms | CPU ms/unit | peak RSS MB | errors |', '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|'];
  const sorted = [...runs].sort((a, b) => SCALING_SCENARIOS.indexOf(a.scenario) - SCALING_SCENARIOS.indexOf(b.scenario) ||
    a.target.localeCompare(b.target) || (a.stored ?? 0) - (b.stored ?? 0) || a.conns - b.conns);
  for (const r of sorted) {
    out.push(`| ${r.scenario} | ${r.target} | ${r.stored === null ? '—' : kilo(r.stored)} | ${r.conns} | ${Math.round(r.rps).toLocaleString('en-US')} | ${fmt(r.p50, 1)} | ${fmt(r.p99, 1)} | ${fmt(r.cpuMs, 3)} | ${fmt(r.rssMb, 0)} | ${r.errors} |`);
  }
  return out.join('\n');
}

/**
 * The two questions of issue 17 §4, answered from the runs: does CPU per request stay
 * flat as the tables grow (per scenario and store, the median over connection counts at
 * each size, and the largest ÷ the smallest), and how do rate and p99 change with the
 * connections (at the smallest size).
 */
export function scalingSummary({ runs }) {
  const lines = [];
  const aliasTargets = [...new Set(runs.filter((r) => r.stored !== null).map((r) => r.target))];
  const sizes = [...new Set(runs.filter((r) => r.stored !== null).map((r) => r.stored))];
  const stageOf = (r) => r.stored;
  lines.push('CPU ms per request by stored tokens (median over connection counts; flat = index-bound):');
  for (const scenario of SCALING_SCENARIOS) {
    for (const target of aliasTargets) {
      const mine = runs.filter((r) => r.scenario === scenario && r.target === target && r.stored !== null);
      const byStage = [...new Set(mine.map(stageOf))].sort((a, b) => a - b)
        .map((s) => ({ s, cpu: median(mine.filter((r) => r.stored === s).map((r) => r.cpuMs)), p99: median(mine.filter((r) => r.stored === s && r.conns === 20).map((r) => r.p99)) }));
      if (!byStage.length) continue;
      const growth = byStage.length > 1 && byStage[0].cpu ? byStage.at(-1).cpu / byStage[0].cpu : null;
      lines.push(`  ${scenario.padEnd(18)} ${target.padEnd(13)} ${byStage.map((x) => `${kilo(x.s)}: ${fmt(x.cpu, 3)} (p99@20 ${fmt(x.p99, 1)} ms)`).join('   ')}` +
        (growth ? `   largest ÷ smallest ${growth.toFixed(2)}×` : ''));
    }
  }
  if (sizes.length) {
    lines.push('', 'Rate and p99 by connections (smallest stage; the peer unfilled):');
    for (const scenario of SCALING_SCENARIOS) {
      for (const target of [...aliasTargets, ...new Set(runs.filter((r) => r.stored === null).map((r) => r.target))]) {
        const first = runs.filter((r) => r.scenario === scenario && r.target === target);
        const smallest = Math.min(...first.map((r) => r.stored ?? Infinity));
        const mine = first.filter((r) => (r.stored ?? Infinity) === smallest).sort((a, b) => a.conns - b.conns);
        if (!mine.length) continue;
        lines.push(`  ${scenario.padEnd(18)} ${target.padEnd(13)} ${mine.map((r) => `c${r.conns}: ${Math.round(r.rps)}/s p99 ${fmt(r.p99, 1)}`).join('   ')}`);
      }
    }
  }
  return lines.join('\n');
}
