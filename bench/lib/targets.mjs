// The servers under test: Alias (compiled, dist/) on SQLite and on PostgreSQL, and the
// peer oidc-provider. Each runs in its own child process pinned to one core; this file
// starts and stops them, creates the same client and user on each, signs in through the
// real flow once and mints codes for the measured scenarios.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { Jar, pool, readForm, request } from './http.mjs';
import { CLIENT_JWKS } from './proofs.mjs';

export const ROOT = new URL('../../', import.meta.url).pathname;
export const USER = { email: 'bench@example.com', password: 'bench-password-0123', nickname: 'Bench' };
/**
 * The people of the login scenario: parallel sign-ins are different people, as in real
 * traffic. (Alias reserves each password attempt per account before checking it, so one
 * account signing in 20 times at once would meet its own lockout, by design.)
 */
export const LOGIN_USERS = Array.from({ length: 16 }, (_, i) => ({ email: `bench-${i}@example.com`, password: USER.password }));
export const REDIRECT_URI = 'http://127.0.0.1:9/cb';
export const CLIENT_SCOPE = 'reports:read';
export const STATE = 'bench-state';
export const NONCE = 'bench-nonce';
// One PKCE pair for every code: the server still hashes and compares it each time.
export const VERIFIER = 'bench-verifier-' + 'x'.repeat(43);
const CHALLENGE = createHash('sha256').update(VERIFIER).digest('base64url');

/** Scopes of the codes exchanged and refreshed (offline_access: a refresh token). */
export const CODE_SCOPE = 'openid offline_access nickname';
/** Scopes of the browserless round trip (no prompt, so no offline_access at the peer). */
export const ROUND_TRIP_SCOPE = 'openid nickname';

export async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Runs the aliasid CLI (compiled) and returns its stdout; bounded in time. */
export function aliasCli(args, env, timeoutMs = 60_000, entry = join(ROOT, 'bin/aliasid.js')) {
  return new Promise((resolve, reject) => {
    // Set-up commands may use every core (the bench itself is pinned to the load core).
    const cpus = `0-${Math.max(0, os.cpus().length - 1)}`;
    const child = spawn('taskset', ['-c', cpus, process.execPath, entry, ...args], { env: { ...process.env, ...env }, cwd: ROOT });
    let out = '';
    let err = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`aliasid ${args.slice(0, 2).join(' ')} failed (${code}): ${err.trim()}`));
    });
  });
}

/**
 * Same user and clients on an Alias database, through the CLI an operator would use: the
 * bench client, and two client-credentials clients for the key-based scenarios (one whose
 * tokens are always DPoP-bound, one authenticating with private_key_jwt, its public key
 * registered from `jwksFile`).
 */
export async function provisionAlias(db, env, entry, jwksFile) {
  const cc = ['--grant-type', 'client_credentials', '--scope', CLIENT_SCOPE, '--json', '--db', db];
  const [user, client, dpop, pkjwt] = (await Promise.all([
    aliasCli(['user', 'create', '--email', USER.email, '--password', USER.password, '--nickname', USER.nickname, '--json', '--db', db], env, undefined, entry),
    aliasCli(['client', 'create', '--name', 'Bench', '--redirect-uri', REDIRECT_URI, '--grant-type', 'authorization_code',
      '--grant-type', 'refresh_token', '--grant-type', 'client_credentials', '--scope', CLIENT_SCOPE, '--json', '--db', db], env, undefined, entry),
    aliasCli(['client', 'create', '--name', 'Bench DPoP', '--dpop-bound-access-tokens', ...cc], env, undefined, entry),
    aliasCli(['client', 'create', '--name', 'Bench private_key_jwt', '--token-endpoint-auth-method', 'private_key_jwt', '--jwks', jwksFile, ...cc], env, undefined, entry),
  ])).map((out) => JSON.parse(out));
  // The login scenario's people, a few at a time (each command hashes one password).
  for (let i = 0; i < LOGIN_USERS.length; i += 8) {
    await Promise.all(LOGIN_USERS.slice(i, i + 8).map((u) =>
      aliasCli(['user', 'create', '--email', u.email, '--password', u.password, '--db', db], env, undefined, entry)));
  }
  return {
    userId: user.id, clientId: client.client_id, clientSecret: client.client_secret,
    dpopClient: { clientId: dpop.client_id, clientSecret: dpop.client_secret },
    pkjwtClient: { clientId: pkjwt.client_id },
  };
}

function waitForLine(child, pattern, what, timeoutMs = 30_000) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs / 1000} s:\n${seen}`)), timeoutMs);
    const onData = (d) => {
      seen += d;
      if (pattern.test(seen)) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}) before it was ready:\n${seen}`));
    });
  });
}

/**
 * Starts `node ARGS` pinned to `core` (taskset execs node: the child's pid is node's).
 * stdout after start-up and stderr go to `logFile`.
 */
async function startPinned({ name, core, nodeArgs, env, ready, logFile }) {
  const child = spawn('taskset', ['-c', String(core), process.execPath, ...nodeArgs], {
    cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile);
  child.stderr.pipe(log);
  let exited = false;
  child.on('exit', () => { exited = true; });
  try {
    await waitForLine(child, ready, name);
  } catch (err) {
    if (!exited) child.kill('SIGKILL');
    throw err;
  }
  child.stdout.pipe(log);
  return {
    pid: child.pid,
    child,
    logFile,
    get exited() { return exited; },
    async stop() {
      if (exited) return;
      const done = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const timer = setTimeout(() => { if (!exited) child.kill('SIGKILL'); }, 8_000);
      await done;
      clearTimeout(timer);
    },
  };
}

async function discover(origin) {
  const res = await request(`${origin}/.well-known/openid-configuration`);
  if (res.status !== 200) throw new Error(`discovery at ${origin} answered ${res.status}`);
  const d = JSON.parse(res.text);
  const path = (u) => new URL(u).pathname;
  return {
    issuer: d.issuer,
    tokenUrl: d.token_endpoint,
    authorize: path(d.authorization_endpoint),
    token: path(d.token_endpoint),
    introspect: path(d.introspection_endpoint),
    userinfo: path(d.userinfo_endpoint),
  };
}

/** `entry`: the CLI to run (default bin/aliasid.js, i.e. dist/); another build for A/B runs. */
export async function startAlias({ name, db, env, core, workDir, nodeFlags = [], entry = join(ROOT, 'bin/aliasid.js') }) {
  const port = await freePort();
  const proc = await startPinned({
    name, core, logFile: join(workDir, `${name}.log`),
    nodeArgs: [...nodeFlags, entry, 'serve', '--port', String(port), '--db', db],
    // The default configuration, as users run it (issue 17 §3): the default log level,
    // whatever the caller's shell says.
    env: { ...env, ALIAS_LOG_LEVEL: undefined },
    ready: /Alias is running/,
  });
  const origin = `http://localhost:${port}`;
  // `serve` has migrated the database: the admin commands can run side by side, as an
  // operator's would while it serves.
  const jwksFile = join(workDir, `${name}-client-jwks.json`);
  writeFileSync(jwksFile, JSON.stringify(CLIENT_JWKS));
  const creds = await provisionAlias(db, env, entry, jwksFile);
  return withKeyClients({ name, kind: 'alias', port, origin, url: `http://127.0.0.1:${port}`, proc, ...creds, endpoints: await discover(origin) });
}

/** The peer gets the SQLite target's client ids and secrets (and the same client key). */
export async function startPeer({ name = 'oidc-provider', clientId, clientSecret, dpopClient, pkjwtClient, accountId, core, workDir, nodeFlags = [] }) {
  const port = await freePort();
  const proc = await startPinned({
    name, core, logFile: join(workDir, `${name}.log`),
    nodeArgs: [...nodeFlags, join(ROOT, 'bench/peer.mjs')],
    env: {
      BENCH_PEER: JSON.stringify({
        port, clientId, clientSecret, redirectUri: REDIRECT_URI, accountId, nickname: USER.nickname, scope: CLIENT_SCOPE,
        dpopClient, pkjwtClient, jwks: CLIENT_JWKS,
      }),
    },
    ready: /peer listening/,
  });
  const origin = `http://localhost:${port}`;
  return withKeyClients({
    name, kind: 'peer', port, origin, url: `http://127.0.0.1:${port}`, proc, userId: accountId, clientId, clientSecret,
    dpopClient: { ...dpopClient }, pkjwtClient: { ...pkjwtClient }, endpoints: await discover(origin),
  });
}

/** Basic credentials of the DPoP client; the issuer and token endpoint URL for aud and htu. */
function withKeyClients(t) {
  t.dpopClient.basic = 'Basic ' + Buffer.from(`${encodeURIComponent(t.dpopClient.clientId)}:${encodeURIComponent(t.dpopClient.clientSecret)}`).toString('base64');
  t.issuer = t.endpoints.issuer;
  t.tokenEndpointUrl = t.endpoints.tokenUrl;
  return t;
}

export const basic = (t) => 'Basic ' + Buffer.from(`${encodeURIComponent(t.clientId)}:${encodeURIComponent(t.clientSecret)}`).toString('base64');

export function authorizeQuery(t, scope, extra = {}) {
  const q = new URLSearchParams({
    response_type: 'code', client_id: t.clientId, redirect_uri: REDIRECT_URI, scope, state: STATE, nonce: NONCE,
    code_challenge: CHALLENGE, code_challenge_method: 'S256', ...extra,
  });
  return `${t.endpoints.authorize}?${q}`;
}

export const codeExchangeBody = (code) =>
  `grant_type=authorization_code&code=${encodeURIComponent(code)}&redirect_uri=${encodeURIComponent(REDIRECT_URI)}&code_verifier=${VERIFIER}`;

function codeFrom(location) {
  if (!location) return undefined;
  const u = new URL(location, 'http://x');
  return u.searchParams.get('code') ?? undefined;
}

/**
 * Signs the bench user in once through the real flow and approves the client; keeps the
 * session cookie. Alias: its login and consent pages. Peer: the programmatic interaction.
 */
export async function signIn(t) {
  const jar = new Jar(t.origin);
  let code;
  if (t.kind === 'alias') {
    let page = await jar.follow(authorizeQuery(t, CODE_SCOPE));
    if (page.status !== 200) throw new Error(`${t.name}: expected the login page, got ${page.status}`);
    let form = readForm(page.text);
    page = await jar.follow(form.action, {
      method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form.fields, email: USER.email, password: USER.password }).toString(),
    });
    if (page.status !== 200) throw new Error(`${t.name}: expected the consent page, got ${page.status}: ${page.text.slice(0, 300)}`);
    form = readForm(page.text);
    const body = new URLSearchParams({ ...form.fields, decision: 'allow' });
    body.append('scope', 'offline_access');
    body.append('scope', 'nickname');
    page = await jar.follow(form.action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
    code = codeFrom(page.location);
  } else {
    const page = await jar.follow(authorizeQuery(t, CODE_SCOPE, { prompt: 'consent' }));
    code = codeFrom(page.location);
  }
  if (!code) throw new Error(`${t.name}: signing in did not end with a code`);
  t.jar = jar;
  t.sessionCookie = jar.header(t.endpoints.authorize);
  return code;
}

/**
 * Mints `n` codes for CODE_SCOPE through the real authorization endpoint. Alias: prompt-less
 * requests with the session cookie (the remembered grant skips consent). Peer:
 * offline_access needs prompt=consent there, so each code passes through the
 * programmatic interaction (authorize → interaction → resume → code).
 */
export async function mintCodes(t, n, concurrency = 24) {
  if (t.kind === 'alias') {
    const path = authorizeQuery(t, CODE_SCOPE);
    return pool(n, concurrency, async () => {
      const res = await request(t.origin + path, { headers: { cookie: t.sessionCookie } });
      const code = codeFrom(res.headers.location);
      if (!code) throw new Error(`${t.name}: authorize answered ${res.status} ${res.headers.location ?? res.text.slice(0, 200)}`);
      return code;
    });
  }
  const path = authorizeQuery(t, CODE_SCOPE, { prompt: 'consent' });
  // oidc-provider gives the session a new id whenever a consent completes (and refuses to
  // resume an interaction whose session changed meanwhile), so each concurrent worker
  // keeps its own browser session, signing in through the interaction on its first code.
  const codes = [];
  let left = n;
  let lastJar;
  async function worker(jar) {
    while (left > 0) {
      left--;
      const page = await jar.follow(path);
      const code = codeFrom(page.location);
      if (!code) throw new Error(`${t.name}: authorize flow ended with ${page.status} ${page.location ?? page.text.slice(0, 200)}`);
      codes.push(code);
      lastJar = jar;
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, (_, i) => worker(i === 0 ? t.jar : new Jar(t.origin))));
  // The measured round trip sends the session cookie of the last completed flow.
  t.jar = lastJar;
  t.sessionCookie = lastJar.header(t.endpoints.authorize);
  return codes;
}

/** A code exchanged outside the measurement: tokens for userinfo and introspection. */
export async function freshTokens(t) {
  const [code] = await mintCodes(t, 1, 1);
  const res = await request(t.origin + t.endpoints.token, {
    method: 'POST', headers: { authorization: basic(t), 'content-type': 'application/x-www-form-urlencoded' }, body: codeExchangeBody(code),
  });
  if (res.status !== 200) throw new Error(`${t.name}: code exchange answered ${res.status}: ${res.text}`);
  return JSON.parse(res.text);
}

/** Alias's login form, ready to be posted again and again: action, body and cookie. */
export async function loginForm(t) {
  const jar = new Jar(t.origin);
  const page = await jar.follow(authorizeQuery(t, CODE_SCOPE, { prompt: 'login' }));
  if (page.status !== 200) throw new Error(`${t.name}: expected the login page, got ${page.status}`);
  const form = readForm(page.text);
  const bodies = LOGIN_USERS.map((u) => new URLSearchParams({ ...form.fields, email: u.email, password: u.password }).toString());
  return { path: new URL(form.action, t.origin).pathname, bodies, cookie: jar.header(new URL(form.action, t.origin).pathname) };
}

/** Peak resident set (VmHWM) of a process in MB; and its reset (Linux ≥ 4.0, clear_refs 5). */
export function peakRssMb(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

export function resetPeakRss(pid) {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** CPU seconds (user + system) a process has used so far (clock ticks of 10 ms). */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}

