// `npm run soak` briefly: two nodes on PostgreSQL behind the round-robin balancer, mixed
// flows for about 20 s. The script's own verdict (no errors, every accepted message
// mailed, RSS flat on both nodes) must pass, and its report must say what it measured.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { databaseKinds, PG_URL } from '../helpers/databases.js';
import { ROOT } from '../../bench/lib/nodes.mjs';

const pgKind = databaseKinds().find((k) => k.name === 'postgres')!;

function soak(args: string[], timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'bench/soak.mjs'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
    // SIGINT lets the script stop its nodes and drop its schema.
    const timer = setTimeout(() => child.kill('SIGINT'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, out });
    });
  });
}

describe('npm run soak', () => {
  it('two nodes on PostgreSQL, about 20 s of mixed flows: no errors, memory flat, a full report', { skip: pgKind.skip, timeout: 150_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'alias-soak-test-'));
    try {
      const file = join(dir, 'report.json');
      const r = await soak(['--minutes', '0.33', '--nodes', '2', '--db', PG_URL, '--connections', '3', '--json', file], 140_000);
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /PASS: \d+ flows, 0 errors/);
      assert.match(r.out, /RSS \(MB\) over time/);
      const report = JSON.parse(readFileSync(file, 'utf8'));
      assert.equal(report.pass, true);
      assert.deepEqual(report.errors, []);
      for (const [flow, st] of Object.entries(report.flows) as [string, { ok: number; errors: number }][]) {
        assert.ok(st.ok > 0, `${flow} ran`);
        assert.equal(st.errors, 0, flow);
      }
      assert.deepEqual(Object.keys(report.requestsPerNode), ['A', 'B']);
      const [a, b] = Object.values(report.requestsPerNode) as number[];
      assert.ok(a! > 100 && b! > 100 && Math.abs(a! - b!) <= 1 + (a! + b!) * 0.01, `round robin over both nodes: ${a} and ${b}`);
      assert.ok(report.relay.accepted > 0 && report.relay.delivered === report.relay.accepted, JSON.stringify(report.relay));
      for (const node of ['A', 'B']) {
        const { samples, verdict } = report.rss[node];
        assert.ok(samples.length >= 15, `${node}: RSS sampled over the run`);
        assert.ok(samples.every(([, mb]: [number, number]) => mb > 10), `${node}: every sample is a real RSS`);
        assert.equal(verdict.flat, true, `${node}: ${JSON.stringify(verdict)}`);
      }
      assert.deepEqual(report.exits, { A: { code: 0, signal: null }, B: { code: 0, signal: null } }, 'both nodes stop cleanly');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses two nodes on SQLite, and nonsense durations, before starting anything', async () => {
    const twoOnSqlite = await soak(['--minutes', '1', '--nodes', '2', '--db', 'sqlite'], 20_000);
    assert.equal(twoOnSqlite.code, 2);
    assert.match(twoOnSqlite.out, /two nodes need PostgreSQL/);
    const zero = await soak(['--minutes', '0'], 20_000);
    assert.equal(zero.code, 2);
    assert.match(zero.out, /--minutes/);
  });
});
