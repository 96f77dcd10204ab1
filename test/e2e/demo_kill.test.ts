// Issue 18 item 9: `kill` of `npm run demo`'s PID stops Alias and the demo apps. npm
// forwards SIGTERM to its script's process; when that was `sh -c "node …"`, dash ended
// and node (Alias) was left running, orphaned. The script now `exec`s node, so the
// signal reaches Alias, which drains and exits, and npm with it. Ctrl-C in a terminal
// (SIGINT to the whole process group, which npm forwards once more) is a normal stop too,
// not the "second signal: exit at once" path. Run the way the README says: `npm run demo`.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt, ROOT } from '../../bench/lib/nodes.mjs';
import { freePort, freePortPair } from '../helpers/harness.js';
import { sleep, until } from '../helpers/processes.js';

const up = async (url: string) => {
  try {
    const res = await fetch(url);
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
};
const down = async (url: string) => !(await up(url));

/** True while any process of the group is alive. */
const groupAlive = (pgid: number) => {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
};

/** `npm run demo` on fresh ports; tried again (at most three times) only when a port was taken. */
async function npmRunDemo(): Promise<RunningDemo> {
  for (let attempt = 1; ; attempt++) {
    const started = await startDemo();
    if ('running' in started) return started.running;
    if (attempt < 3 && /EADDRINUSE|port is in use/.test(started.output)) continue;
    throw new Error(`npm run demo exited (${JSON.stringify(started.exit)}) before Alias and both demo apps answered:\n${started.output}`);
  }
}

type Exit = { code: number | null; signal: NodeJS.Signals | null };
interface RunningDemo { pid: number; urls: string[]; exited: Promise<Exit>; output(): string; cleanup(): Promise<void> }

async function startDemo(): Promise<{ running: RunningDemo } | { exit: Exit; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'alias-demo-kill-'));
  const port = await freePort();
  const appPort = await freePortPair();
  const env: NodeJS.ProcessEnv = { ...process.env, ALIAS_LOG_LEVEL: 'warn' };
  for (const k of ['ALIAS_DB', 'ALIAS_SECRET', 'ALIAS_ISSUER', 'ALIAS_HOST', 'ALIAS_DEMO', 'ALIAS_DEMO_APP_PORT', 'PORT']) delete env[k];
  // Its own process group, like a shell job: the test can see every process npm started.
  const child = spawn('npm', ['run', 'demo', '--', '--port', String(port), '--demo-app-port', String(appPort),
    '--db', join(dir, 'alias.db')], { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
  let exit = undefined as Exit | undefined;
  const exited = new Promise<Exit>((resolve) => child.on('exit', (code, signal) => { exit = { code, signal }; resolve(exit); }));
  const urls = [`http://127.0.0.1:${port}/healthz`, `http://127.0.0.1:${appPort}/`, `http://127.0.0.1:${appPort + 1}/`];
  const running: RunningDemo = {
    pid: child.pid!, urls, exited, output: () => out,
    async cleanup() {
      if (groupAlive(child.pid!)) process.kill(-child.pid!, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    // The output is read when the wait fails, not when it starts.
    await until(async () => exit !== undefined || (await Promise.all(urls.map(up))).every(Boolean),
      'Alias and both demo apps answer', 60_000, { output: () => out });
  } catch (err) {
    await running.cleanup();
    throw err;
  }
  if (exit) {
    await running.cleanup();
    return { exit, output: out };
  }
  return { running };
}

describe('npm run demo stops when its process is signalled', { timeout: 300_000 }, () => {
  before(async () => {
    await ensureBuilt();
  });

  it('kill PID (SIGTERM to npm) stops Alias and both demo apps; no process is left', async () => {
    const demo = await npmRunDemo();
    try {
      process.kill(demo.pid, 'SIGTERM');
      const result = await Promise.race([demo.exited, sleep(25_000).then(() => 'timeout' as const)]);
      assert.notEqual(result, 'timeout', `npm did not exit within 25 s:\n${demo.output()}`);
      assert.deepEqual(result, { code: 0, signal: null }, demo.output());
      await until(() => !groupAlive(demo.pid), 'every process of npm run demo ended', 10_000, demo);
      for (const url of demo.urls) assert.ok(await down(url), `${url} no longer answers`);
      assert.match(demo.output(), /SIGTERM: stopping/);
      assert.match(demo.output(), /Stopped\./);
    } finally {
      await demo.cleanup();
    }
  });

  it('Ctrl-C (SIGINT to the process group, forwarded again by npm) stops it cleanly, not as a second signal', async () => {
    const demo = await npmRunDemo();
    try {
      process.kill(-demo.pid, 'SIGINT');
      const result = await Promise.race([demo.exited, sleep(25_000).then(() => 'timeout' as const)]);
      assert.notEqual(result, 'timeout', `npm did not exit within 25 s:\n${demo.output()}`);
      await until(() => !groupAlive(demo.pid), 'every process of npm run demo ended', 10_000, demo);
      for (const url of demo.urls) assert.ok(await down(url), `${url} no longer answers`);
      assert.match(demo.output(), /Stopped\./, 'drained, then stopped');
      assert.doesNotMatch(demo.output(), /again: exiting without finishing/);
    } finally {
      await demo.cleanup();
    }
  });
});
