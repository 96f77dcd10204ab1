// The generated secret file of the embedded default (src/crypto/secrets.ts
// loadOrCreateSecretFile): commands that start at the same moment on a new data directory
// (`serve` and an admin command, two admin commands) must all end up with one secret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MODULE = new URL('../../src/crypto/secrets.ts', import.meta.url).href;
const PROCESSES = 4;
const DIRECTORIES = 20;

test('processes creating the secret file at the same moment all get the one secret, and none fails', async () => {
  const root = mkdtempSync(join(tmpdir(), 'alias-secret-'));
  try {
    const dirs = Array.from({ length: DIRECTORIES }, (_, i) => join(root, `data-${i}`));
    // Each process waits for the same instant before each directory, so they race on it.
    const startAt = Date.now() + 6_000;
    const script = `
      const { loadOrCreateSecretFile } = await import(${JSON.stringify(MODULE)});
      const dirs = ${JSON.stringify(dirs)};
      const out = [];
      // Sleep until just before the instant (starting takes a while), then spin to it.
      await new Promise((r) => setTimeout(r, Math.max(0, ${startAt} - Date.now() - 5)));
      for (let i = 0; i < dirs.length; i++) {
        while (Date.now() < ${startAt} + i * 25) {}
        out.push(loadOrCreateSecretFile(dirs[i] + '/alias.db'));
      }
      process.stdout.write(JSON.stringify(out));`;
    const runs = await Promise.all(Array.from({ length: PROCESSES }, () => new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { err += d; });
      child.on('close', (code) => resolve({ code, out, err }));
    })));
    for (const r of runs) assert.equal(r.code, 0, r.err);
    const answers = runs.map((r) => JSON.parse(r.out) as string[]);
    dirs.forEach((dir, i) => {
      const stored = readFileSync(join(dir, 'secret'), 'utf8').trim();
      assert.match(stored, /^[A-Za-z0-9_-]{43}$/);
      for (const a of answers) assert.equal(a[i], stored, `every process uses the stored secret (${dir})`);
      assert.equal(statSync(join(dir, 'secret')).mode & 0o777, 0o600, 'readable by its owner only');
      assert.deepEqual(readdirSync(dir), ['secret'], 'no draft left behind');
    });
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
