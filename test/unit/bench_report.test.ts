// The bench's ratios (bench/lib/report.mjs summarise): each Alias run is compared with the
// peer's run of the same round, and the reported ratio is the median of those per-round
// ratios, so a host that changes speed between rounds moves both sides of each ratio.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { summarise, type BenchRun, type SummaryRow } from '../../bench/lib/report.mjs';

const run = (round: number, target: string, rps: number, cpuMs = 1000 / rps): BenchRun =>
  ({ round, scenario: 'introspection', conns: 20, target, rps, cpuMs });

function aliasRow(rows: SummaryRow[], target: string): SummaryRow {
  const row = rows.find((r) => r.target === target);
  assert.ok(row, `a row for ${target}`);
  return row;
}

test('the ratio is the median of the per-round ratios, not the ratio of the medians', () => {
  // Round 2 ran on a fast host for both, round 3 on a slow one. Alias is 2× the peer in
  // rounds 2 and 3 and 2.4× in round 1; the median rates (6000 and 2500) would give 2.4×.
  const runs = [
    run(1, 'alias-sqlite', 6000), run(1, 'oidc-provider', 2500),
    run(2, 'alias-sqlite', 10000), run(2, 'oidc-provider', 5000),
    run(3, 'alias-sqlite', 4000), run(3, 'oidc-provider', 2000),
  ];
  const { rows } = summarise(runs, []);
  const row = aliasRow(rows, 'alias-sqlite');
  assert.deepEqual(row.pairedRatios, [2.4, 2, 2]);
  assert.equal(row.ratio, 2);
  assert.equal(row.ratioOfMedians, 2.4);
  assert.equal(row.met, true, '2× on SQLite meets the introspection target');
});

test('a round whose peer run is missing is left out of the pairing; none paired gives no ratio', () => {
  const { rows } = summarise([
    run(1, 'alias-pg', 3000), run(1, 'oidc-provider', 4000),
    run(2, 'alias-pg', 3900), // the peer's round-2 run is absent
  ], []);
  const row = aliasRow(rows, 'alias-pg');
  assert.deepEqual(row.pairedRatios, [0.75]);
  assert.equal(row.ratio, 0.75);
  assert.deepEqual(row.misses, ['ratio'], 'below the 1× PostgreSQL target');

  const alone = aliasRow(summarise([run(1, 'alias-sqlite', 3000)], []).rows, 'alias-sqlite');
  assert.equal(alone.ratio, null);
  assert.deepEqual(alone.misses, ['ratio']);
});

test('the CPU ratio is paired the same way: peer CPU per unit ÷ Alias CPU per unit of one round', () => {
  const { rows } = summarise([
    run(1, 'alias-sqlite', 5000, 0.1), run(1, 'oidc-provider', 2500, 0.3),
    run(2, 'alias-sqlite', 5000, 0.2), run(2, 'oidc-provider', 2500, 0.2),
    run(3, 'alias-sqlite', 5000, 0.25), run(3, 'oidc-provider', 2500, 0.5),
  ], []);
  const row = aliasRow(rows, 'alias-sqlite');
  // Per round 3, 1 and 2: the median is 2 (unpaired, medians 0.2 and 0.3 would give 1.5).
  assert.equal(row.cpuRatio, 2);
});

test('sign-ins are compared with the raw argon2id reference of their own round', () => {
  const login = (round: number, rps: number) => ({ round, scenario: 'login', conns: 20, target: 'alias-sqlite', rps, cpuMs: 15 });
  const { rows } = summarise([login(1, 60), login(2, 45), login(3, 70)],
    [{ round: 1, conns: 20, rate: 60 }, { round: 2, conns: 20, rate: 50 }, { round: 3, conns: 20, rate: 70 }]);
  const row = aliasRow(rows, 'alias-sqlite');
  assert.deepEqual(row.pairedRatios, [1, 0.9, 1]);
  assert.equal(row.ratio, 1);
  assert.equal(row.cpuRatio, null);
});
