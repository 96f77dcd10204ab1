// Alias nodes as an operator runs them: the compiled CLI (bin/aliasid.js → dist/) in
// child processes, several `serve`s on one database. Shared by bench/soak.mjs and
// test/e2e/two_nodes.test.ts.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';

export const ROOT = new URL('../../', import.meta.url).pathname;
const ENTRY = join(ROOT, 'bin/aliasid.js');
// Settings of the caller's shell that would silently change what a node does.
const INHERITED = ['ALIAS_DB', 'ALIAS_SECRET', 'ALIAS_ISSUER', 'ALIAS_HOST', 'ALIAS_DEMO', 'ALIAS_SMTP_URL', 'ALIAS_TRUST_PROXY', 'ALIAS_LOG_LEVEL', 'PORT'];

function baseEnv(env) {
  const base = { ...process.env };
  for (const k of INHERITED) delete base[k];
  return { ...base, ...env };
}

/** Newest modification time (ms) of the files ending in `ext` below `dir`. */
export function newest(dir, ext) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) t = Math.max(t, newest(p, ext));
    else if (e.name.endsWith(ext)) t = Math.max(t, statSync(p).mtimeMs);
  }
  return t;
}

function distIsStale() {
  try {
    return newest(join(ROOT, 'src'), '.ts') > statSync(join(ROOT, 'dist/cli/index.js')).mtimeMs;
  } catch {
    return true;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Builds dist/ (npm run build) when it is missing or older than src/. Test files run in
 * parallel processes, so a lock directory keeps two builds from writing dist/ at once.
 * Returns true when it built.
 */
export async function ensureBuilt({ log = () => {} } = {}) {
  if (!distIsStale()) return false;
  const lock = join(ROOT, 'dist.build-lock');
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      // A build that died left its lock behind: older than any build takes, it is stale.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 150_000) rmSync(lock, { recursive: true, force: true });
      } catch { /* removed meanwhile */ }
      if (Date.now() > deadline) throw new Error(`waited 180 s for ${lock} (another build); remove it if no build runs`);
      await sleep(250);
    }
  }
  try {
    // Another process may have built while this one waited for the lock.
    if (!distIsStale()) return false;
    log('Building Alias (npm run build: tsc → dist/)…');
    const b = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, encoding: 'utf8', timeout: 170_000 });
    if (b.status !== 0) throw new Error(`npm run build failed:\n${b.stdout}${b.stderr}`);
    return true;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Runs `aliasid ARGS…` (compiled) to the end: { code, stdout, stderr }. */
export function aliasid(args, env = {}, timeoutMs = 60_000) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ENTRY, ...args], { cwd: ROOT, env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** As `aliasid`, but the command must succeed; with `--json`, its parsed output. */
export async function aliasidOk(args, env = {}) {
  const r = await aliasid(args, env);
  if (r.code !== 0) throw new Error(`aliasid ${args.slice(0, 2).join(' ')} exited ${r.code ?? r.signal}: ${r.stderr.trim()}`);
  return args.includes('--json') ? JSON.parse(r.stdout) : r.stdout;
}

/**
 * Starts `aliasid serve` on `port` and resolves once its /healthz answers.
 * `issuer` is the public URL (a balancer's), the same on every node.
 */
export async function startNode({ name, port, issuer, db, env = {}, nodeArgs = [] }) {
  const child = spawn(process.execPath, [...nodeArgs, ENTRY, 'serve', '--port', String(port), '--issuer', issuer, '--db', db],
    // The default log level unless `env` names one: at info a node writes no line per
    // request (src/http/request_log.ts), so `output()` stays small.
    { cwd: ROOT, env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d) => { out += d; });
  let exit;
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => {
    exit = { code, signal };
    resolve(exit);
  }));
  const node = {
    name, port, pid: child.pid, url: `http://127.0.0.1:${port}`,
    output: () => out,
    exited,
    get exit() { return exit; },
    /** SIGTERM (a graceful stop), then SIGKILL after `graceMs`. */
    async stop(graceMs = 8_000) {
      if (exit) return exit;
      child.kill('SIGTERM');
      const timer = setTimeout(() => { if (!exit) child.kill('SIGKILL'); }, graceMs);
      const r = await exited;
      clearTimeout(timer);
      return r;
    },
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exit) throw new Error(`${name} exited (${exit.code ?? exit.signal}) before it was ready:\n${out}`);
    try {
      const res = await fetch(`${node.url}/healthz`);
      if (res.ok) return node;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not answer /healthz within 30 s:\n${out}`);
    }
    await sleep(100);
  }
}

/** Resident set size (VmRSS) of a process in MB, or null once it is gone. */
export function rssMb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/**
 * A schema of its own in the PostgreSQL database at `url`, for nodes and commands to
 * share: `location` reaches it (search_path in the connection options); `drop()` removes
 * it and everything in it. Nothing else in the database is touched.
 */
export async function pgSchema(url, prefix = 'alias') {
  const schema = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await admin.connect();
  try {
    await admin.query(`create schema ${schema}`);
  } finally {
    await admin.end();
  }
  const location = new URL(url);
  location.searchParams.set('options', `-c search_path=${schema}`);
  return {
    schema,
    location: location.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
      await c.connect();
      try {
        await c.query(`drop schema if exists ${schema} cascade`);
      } finally {
        await c.end();
      }
    },
  };
}
