#!/usr/bin/env node
// `npm run soak -- --minutes N`: Alias under steady mixed traffic for N minutes, on one
// node or on two behind a round-robin balancer (no sticky sessions: consecutive steps of
// a flow land on either node). Every response is checked; the run fails on any error or
// on memory growth. Options:
//   --minutes N        how long the traffic runs (fractions work: 0.5 is 30 s; default 1)
//   --nodes 1|2        Alias nodes (default 1). Two nodes need PostgreSQL.
//   --db sqlite|URL    sqlite (default for one node: a temporary file) or a postgres:// URL
//                      (default for two nodes: ALIAS_TEST_PG or postgres://postgres@127.0.0.1:5432/test).
//                      On PostgreSQL the run creates a schema of its own and drops it at the end.
//   --connections C    concurrent virtual users (default 4)
//   --sample S         seconds between RSS samples (default: the run's length / 40, from 1 to 10)
//   --json FILE        also write the report as JSON
//   --no-build         use dist/ as it is (default: npm run build when src/ is newer)
//
// The memory verdict. RSS of each node is sampled over the run; samples of the warm-up
// (the first 20% of the run, at least 5 s: JIT, connection pools, V8 growing its heap to
// its working size) are left out; of the rest, the median of the last third must not
// exceed the median of the first third by more than max(24 MB, 15%). Medians, so a
// garbage collection or a burst does not decide; the floor, because V8's heap and
// malloc's arenas step by several MB in a healthy process. A short run only catches
// gross growth; a leak of a few hundred bytes per request needs tens of minutes.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { SMTPServer } from 'smtp-server';
import { startBalancer } from './lib/balancer.mjs';
import { Jar, readForm, request } from './lib/http.mjs';
import { aliasidOk, ensureBuilt, pgSchema, rssMb, startNode } from './lib/nodes.mjs';
import { freePort } from './lib/targets.mjs';

const log = (line = '') => process.stdout.write(line + '\n');

// ---- options -----------------------------------------------------------------------------
function usage(message) {
  process.stderr.write(`soak: ${message}\nusage: npm run soak -- --minutes N [--nodes 1|2] [--db sqlite|postgres://…] [--connections C] [--sample S] [--json FILE] [--no-build]\n`);
  process.exit(2);
}
const argv = process.argv.slice(2);
const opts = { minutes: 1, nodes: 1, db: undefined, connections: 4, sample: undefined, json: undefined, build: true };
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const next = () => {
    if (argv[i + 1] === undefined) usage(`${a} needs a value`);
    return argv[++i];
  };
  if (a === '--minutes') opts.minutes = Number(next());
  else if (a === '--nodes') opts.nodes = Number(next());
  else if (a === '--db') opts.db = next();
  else if (a === '--connections') opts.connections = Number(next());
  else if (a === '--sample') opts.sample = Number(next());
  else if (a === '--json') opts.json = next();
  else if (a === '--no-build') opts.build = false;
  else if (a === '--help' || a === '-h') {
    log('usage: npm run soak -- --minutes N [--nodes 1|2] [--db sqlite|postgres://…] [--connections C] [--sample S] [--json FILE] [--no-build]');
    process.exit(0);
  } else usage(`unknown option ${a}`);
}
if (!(opts.minutes > 0) || opts.minutes > 24 * 60) usage('--minutes must be a number above 0 (fractions work), at most 1440');
if (opts.nodes !== 1 && opts.nodes !== 2) usage('--nodes must be 1 or 2');
if (!Number.isInteger(opts.connections) || opts.connections < 1 || opts.connections > 256) usage('--connections must be an integer from 1 to 256');
const PG_DEFAULT = process.env.ALIAS_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const dbKind = opts.db === undefined ? (opts.nodes === 2 ? 'postgres' : 'sqlite')
  : opts.db === 'sqlite' ? 'sqlite' : /^postgres(ql)?:\/\//.test(opts.db) ? 'postgres' : usage('--db must be sqlite or a postgres:// URL');
if (dbKind === 'sqlite' && opts.nodes === 2) usage('two nodes need PostgreSQL (SQLite is one node\'s embedded database): leave out --db, or give a postgres:// URL');
const PG_URL = dbKind === 'postgres' ? (opts.db ?? PG_DEFAULT) : undefined;
const RUN_MS = opts.minutes * 60_000;
const SAMPLE_MS = 1000 * (opts.sample ?? Math.min(10, Math.max(1, RUN_MS / 1000 / 40)));
const WARMUP_MS = Math.max(5_000, RUN_MS * 0.2);
const TOLERANCE = { mb: 24, fraction: 0.15 };

// ---- the traffic's fixed parts -------------------------------------------------------------
const USER = { email: 'soak@example.com', password: 'soak-password-0123', nickname: 'Soak' };
const REDIRECT_URI = 'http://127.0.0.1:9/cb';
const BYE = 'http://127.0.0.1:9/bye';
const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const SCOPE = 'openid nickname offline_access contact';
const FORM = 'application/x-www-form-urlencoded';
// The relay allows 10 messages a minute per user per client (DESIGN): the soak sends 8.
const RELAY_EVERY_MS = 7_500;

/** Flows and their weights in the mix (a virtual user picks one at random each time). */
const FLOWS = [
  ['code+PKCE with login, userinfo, logout', 1],
  ['code+PKCE (session)', 3],
  ['refresh', 3],
  ['userinfo', 3],
  ['client_credentials+introspection', 2],
  ['revocation', 1],
  ['device', 1],
  ['relay', 2],
];
/** Runs in a lane of its own next to the virtual users: it spends most of its time waiting. */
const DEVICE_LANE = 'device, polling at the interval';

// ---- bookkeeping ---------------------------------------------------------------------------
const cleanups = [];
let nodes = [];
let lb;
async function teardown() {
  for (const fn of cleanups.reverse()) await fn().catch((err) => log(`  clean-up: ${err.message}`));
  cleanups.length = 0;
}
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, async () => {
    log(`\n${sig}: stopping the nodes and cleaning up…`);
    await teardown();
    process.exit(130);
  });
}

class Failure extends Error {
  constructor(step, detail) {
    super(`${step}: ${detail}`);
    this.step = step;
    this.detail = detail;
  }
}
const expect = (cond, step, detail) => {
  if (!cond) throw new Failure(step, typeof detail === 'function' ? detail() : detail);
};
const short = (res) => `${res.status} ${String(res.text ?? '').replace(/\s+/g, ' ').slice(0, 160)}`;

const sha256url = (s) => createHash('sha256').update(s).digest('base64url');
const basic = (id, secret) => 'Basic ' + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');
const checkboxValues = (html, name) => [...html.matchAll(/<input[^>]*type="checkbox"[^>]*>/g)].map((m) => m[0])
  .filter((tag) => tag.includes(`name="${name}"`)).map((tag) => /value="([^"]*)"/.exec(tag)[1]);
const json = (res, step) => {
  try {
    return JSON.parse(res.text);
  } catch {
    throw new Failure(step, `not JSON: ${short(res)}`);
  }
};

async function main() {
  const t0 = performance.now();
  log(`Alias soak: ${opts.minutes} min, ${opts.nodes} node(s) on ${dbKind === 'sqlite' ? 'SQLite' : `PostgreSQL (${new URL(PG_URL).host})`}, ` +
    `${opts.connections} virtual users, RSS every ${SAMPLE_MS / 1000} s`);
  if (opts.build && await ensureBuilt({ log })) log(`  built in ${((performance.now() - t0) / 1000).toFixed(0)} s`);

  // Database: a temporary SQLite file, or a PostgreSQL schema of the run's own.
  let db;
  if (dbKind === 'sqlite') {
    const dir = mkdtempSync(join(os.tmpdir(), 'alias-soak-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    db = join(dir, 'alias.db');
  } else {
    const schema = await pgSchema(PG_URL, 'soak').catch((err) => {
      throw new Error(`PostgreSQL at ${PG_URL} is unreachable (${err.message}); two nodes need it (--db postgres://…)`);
    });
    cleanups.push(() => schema.drop());
    db = schema.location;
    log(`  schema ${schema.schema} (dropped at the end)`);
  }
  const env = { ALIAS_SECRET: randomBytes(32).toString('base64url') };

  // A real SMTP server for the relay's mail: delivery is part of what must keep working.
  let mailed = 0;
  const smtpPort = await freePort();
  const smtp = new SMTPServer({
    authOptional: true, disabledCommands: ['STARTTLS', 'AUTH'], disableReverseLookup: true, logger: false,
    onData(stream, _session, callback) {
      stream.on('data', () => {});
      stream.on('end', () => { mailed++; callback(); });
    },
  });
  await new Promise((resolve, reject) => smtp.listen(smtpPort, '127.0.0.1', resolve).once('error', reject));
  cleanups.push(() => new Promise((resolve) => smtp.close(resolve)));
  env.ALIAS_SMTP_URL = `smtp://127.0.0.1:${smtpPort}`;

  // The balancer takes the issuer's address first; the nodes are told it is theirs.
  const ports = [];
  for (let i = 0; i < opts.nodes; i++) ports.push(await freePort());
  const names = ports.map((_, i) => String.fromCharCode(65 + i));
  lb = await startBalancer({ nodes: ports.map((port, i) => ({ name: names[i], port })) });
  cleanups.push(() => lb.close());
  const started = await Promise.allSettled(ports.map((port, i) => startNode({ name: names[i], port, issuer: lb.url, db, env })));
  nodes = started.filter((s) => s.status === 'fulfilled').map((s) => s.value);
  cleanups.push(async () => { await Promise.all(nodes.map((n) => n.stop())); });
  const failedStart = started.find((s) => s.status === 'rejected');
  if (failedStart) throw failedStart.reason;
  log(`  nodes ${nodes.map((n) => `${n.name} pid ${n.pid} :${n.port}`).join(', ')}; balancer (issuer) ${lb.url}, round robin`);

  // An operator's set-up, through the CLI.
  const [user, web, tv] = await Promise.all([
    aliasidOk(['user', 'create', '--email', USER.email, '--password', USER.password, '--nickname', USER.nickname, '--json', '--db', db], env),
    aliasidOk(['client', 'create', '--name', 'Soak web', '--redirect-uri', REDIRECT_URI, '--post-logout-redirect-uri', BYE,
      '--grant-type', 'authorization_code', '--grant-type', 'refresh_token', '--grant-type', 'client_credentials',
      '--scope', 'reports:read', '--channel', 'news:Product news', '--json', '--db', db], env),
    aliasidOk(['client', 'create', '--name', 'Soak TV', '--public', '--grant-type', DEVICE, '--json', '--db', db], env),
  ]);
  const webAuth = basic(web.client_id, web.client_secret);
  const jwks = createRemoteJWKSet(new URL(`${lb.url}/oauth2/jwks`));

  // ---- HTTP through the balancer -------------------------------------------------------------
  const url = (path) => lb.url + path;
  const form = (path, body, authorization) => request(url(path), {
    method: 'POST', headers: { 'content-type': FORM, ...(authorization ? { authorization } : {}) }, body: new URLSearchParams(body).toString(),
  });
  const postForm = (jar, action, fields) => jar.follow(action, { method: 'POST', headers: { 'content-type': FORM }, body: fields.toString() });
  const codeFrom = (page) => (page.location ? new URL(page.location).searchParams.get('code') : null);

  function authorizePath(extra = {}) {
    const verifier = randomBytes(32).toString('base64url');
    const nonce = randomBytes(12).toString('base64url');
    const q = new URLSearchParams({
      response_type: 'code', client_id: web.client_id, redirect_uri: REDIRECT_URI, scope: SCOPE, channels: 'news',
      state: 's', nonce, code_challenge: sha256url(verifier), code_challenge_method: 'S256', ...extra,
    });
    return { path: `/oauth2/authorize?${q}`, verifier, nonce };
  }

  async function exchange(code, verifier, nonce, step = 'token (code)') {
    const res = await form('/api/oauth2/token', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI, code_verifier: verifier }, webAuth);
    expect(res.status === 200, step, () => short(res));
    const tokens = json(res, step);
    expect(tokens.access_token && tokens.refresh_token && tokens.id_token, step, () => `missing tokens: ${Object.keys(tokens)}`);
    const { payload } = await jwtVerify(tokens.id_token, jwks, { issuer: lb.url, audience: web.client_id, algorithms: ['RS256'] })
      .catch((err) => { throw new Failure(`${step} ID token`, err.message); });
    expect(payload.nonce === nonce, `${step} ID token`, 'nonce differs');
    return { ...tokens, sub: payload.sub };
  }

  /** Signs in through the pages with a fresh jar; consents when asked. Returns the jar and the code. */
  async function signIn() {
    const jar = new Jar(lb.url);
    const a = authorizePath();
    let page = await jar.follow(a.path);
    expect(page.status === 200 && /name="password"/.test(page.text), 'sign-in page', () => short(page));
    const login = readForm(page.text);
    page = await postForm(jar, login.action, new URLSearchParams({ ...login.fields, email: USER.email, password: USER.password }));
    if (page.status === 200 && /name="decision"/.test(page.text)) {
      const consent = readForm(page.text);
      const body = new URLSearchParams({ ...consent.fields, decision: 'allow' });
      for (const s of checkboxValues(page.text, 'scope')) body.append('scope', s);
      for (const c of checkboxValues(page.text, 'channel')) body.append('channel', c);
      page = await postForm(jar, consent.action, body);
    }
    const code = codeFrom(page);
    expect(code, 'sign-in', () => `no code: ${short(page)} ${page.location ?? ''}`);
    return { jar, code, ...a };
  }

  // ---- the virtual users ---------------------------------------------------------------------
  const stats = new Map([...FLOWS.map(([name]) => name), DEVICE_LANE].map((name) => [name, { ok: 0, failed: 0, ms: 0 }]));
  const errors = new Map();
  let relayAccepted = 0;
  let nextRelayAt = 0;

  class VirtualUser {
    constructor(jar, tokens) {
      this.jar = jar; // a signed-in browser session, kept for the whole run
      this.tokens = tokens; // the latest tokens of this user's current code exchange
    }

    async code() {
      const a = authorizePath();
      const page = await this.jar.follow(a.path);
      const code = codeFrom(page);
      expect(code, 'authorize (session)', () => `no code: ${short(page)}`);
      this.tokens = await exchange(code, a.verifier, a.nonce);
    }

    async run(flow) {
      switch (flow) {
        case 'code+PKCE with login, userinfo, logout': {
          const { jar, code, verifier, nonce } = await signIn();
          const tokens = await exchange(code, verifier, nonce);
          await this.userinfo(tokens);
          const out = await jar.follow('/oauth2/logout?' + new URLSearchParams({
            id_token_hint: tokens.id_token, client_id: web.client_id, post_logout_redirect_uri: BYE, state: 'bye' }));
          expect(out.location === `${BYE}?state=bye`, 'logout', () => short(out));
          const silent = await jar.follow(authorizePath({ prompt: 'none' }).path);
          expect(silent.location && new URL(silent.location).searchParams.get('error') === 'login_required',
            'prompt=none after logout', () => `${short(silent)} ${silent.location}`);
          return;
        }
        case 'code+PKCE (session)':
          return this.code();
        case 'refresh': {
          const res = await form('/api/oauth2/token', { grant_type: 'refresh_token', refresh_token: this.tokens.refresh_token }, webAuth);
          expect(res.status === 200, 'refresh', () => short(res));
          const next = json(res, 'refresh');
          expect(next.refresh_token && next.refresh_token !== this.tokens.refresh_token, 'refresh', 'not rotated');
          // A refresh returns no new ID token: the first one stays the logout hint.
          expect(next.id_token === undefined, 'refresh', 'a refresh answered with an ID token');
          this.tokens = { ...this.tokens, ...next };
          return;
        }
        case 'userinfo':
          return this.userinfo(this.tokens);
        case 'client_credentials+introspection': {
          const res = await form('/api/oauth2/token', { grant_type: 'client_credentials' }, webAuth);
          expect(res.status === 200, 'client_credentials', () => short(res));
          const { access_token, scope } = json(res, 'client_credentials');
          expect(scope === 'reports:read', 'client_credentials', `scope ${scope}`);
          const seen = await form('/api/oauth2/introspect', { token: access_token }, webAuth);
          expect(seen.status === 200 && json(seen, 'introspection').active === true, 'introspection', () => short(seen));
          return;
        }
        case 'revocation': {
          const { access_token, refresh_token } = this.tokens;
          const res = await form('/api/oauth2/revoke', { token: refresh_token }, webAuth);
          expect(res.status === 200 && res.text === '', 'revoke', () => short(res));
          const seen = await form('/api/oauth2/introspect', { token: access_token }, webAuth);
          expect(seen.status === 200 && seen.text === '{"active":false}', 'introspection after revoke', () => short(seen));
          const again = await form('/api/oauth2/token', { grant_type: 'refresh_token', refresh_token }, webAuth);
          expect(again.status === 400 && json(again, 'refresh after revoke').error === 'invalid_grant', 'refresh after revoke', () => short(again));
          return this.code();
        }
        case 'device':
          return this.device(false);
        case 'device, polling at the interval':
          return this.device(true);
        case 'relay': {
          const res = await request(url('/api/v1/messages'), {
            method: 'POST', headers: { authorization: `Bearer ${this.tokens.access_token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ to: this.tokens.sub, channel: 'news', subject: `Soak ${relayAccepted + 1}`, body: 'A message from the soak.' }),
          });
          expect(res.status === 202, 'relay', () => short(res));
          relayAccepted++;
          return;
        }
        default:
          throw new Error(`unknown flow ${flow}`);
      }
    }

    /**
     * RFC 8628: authorization on the device, approval on the pages with this user's session,
     * then polling. `patient`: a first poll before the approval (authorization_pending),
     * so the next one waits for the interval (§3.5); otherwise the first poll follows the
     * approval at once. Either way the code is redeemed once.
     */
    async device(patient) {
      const start = await form('/api/oauth2/device_authorization', { client_id: tv.client_id, scope: 'openid nickname' });
      expect(start.status === 200, 'device_authorization', () => short(start));
      const d = json(start, 'device_authorization');
      const poll = () => form('/api/oauth2/token', { grant_type: DEVICE, device_code: d.device_code, client_id: tv.client_id });
      if (patient) {
        const pending = await poll();
        expect(pending.status === 400 && json(pending, 'device poll').error === 'authorization_pending', 'device poll (pending)', () => short(pending));
      }
      const entry = await this.jar.follow(d.verification_uri_complete);
      expect(entry.status === 200 && /name="user_code"/.test(entry.text), 'device page', () => short(entry));
      const codeForm = readForm(entry.text);
      const consentPage = await postForm(this.jar, codeForm.action, new URLSearchParams(codeForm.fields));
      expect(consentPage.status === 200 && /name="decision"/.test(consentPage.text), 'device consent page', () => short(consentPage));
      const consent = readForm(consentPage.text);
      const body = new URLSearchParams({ ...consent.fields, decision: 'allow' });
      for (const sc of checkboxValues(consentPage.text, 'scope')) body.append('scope', sc);
      const done = await postForm(this.jar, consent.action, body);
      expect(done.status === 200 && !/name="user_code"/.test(done.text), 'device approval', () => short(done));
      if (patient) await new Promise((r) => setTimeout(r, d.interval * 1000));
      const tokens = await poll();
      expect(tokens.status === 200 && json(tokens, 'device poll').id_token, 'device poll (tokens)', () => short(tokens));
      const again = await poll();
      expect(again.status === 400 && json(again, 'device poll again').error === 'invalid_grant', 'device poll (redeemed once)', () => short(again));
    }

    async userinfo(tokens) {
      const res = await request(url('/api/oauth2/userinfo'), { headers: { authorization: `Bearer ${tokens.access_token}` } });
      expect(res.status === 200, 'userinfo', () => short(res));
      const info = json(res, 'userinfo');
      expect(info.sub === tokens.sub && info.nickname === USER.nickname, 'userinfo', () => `claims ${res.text}`);
    }
  }

  // Each virtual user signs in once (the first one consents) and keeps its session.
  const users = [];
  for (let i = 0; i < opts.connections + 1; i++) {
    const { jar, code, verifier, nonce } = await signIn();
    users.push(new VirtualUser(jar, await exchange(code, verifier, nonce)));
  }
  log(`  set-up took ${((performance.now() - t0) / 1000).toFixed(1)} s; user ${user.id}, clients ${web.client_id} and ${tv.client_id}`);

  // ---- RSS sampling ----------------------------------------------------------------------------
  const series = nodes.map(() => []);
  const startAt = performance.now();
  const sample = () => {
    const t = performance.now() - startAt;
    nodes.forEach((n, i) => series[i].push([t, rssMb(n.pid)]));
  };
  sample();
  const sampler = setInterval(sample, SAMPLE_MS);

  const total = FLOWS.reduce((s, [, w]) => s + w, 0);
  function pickFlow() {
    for (;;) {
      let r = Math.random() * total;
      const [name] = FLOWS.find(([, w]) => (r -= w) < 0) ?? FLOWS[0];
      if (name !== 'relay') return name;
      if (performance.now() >= nextRelayAt) {
        nextRelayAt = performance.now() + RELAY_EVERY_MS;
        return name;
      }
    }
  }

  const deadline = startAt + RUN_MS;
  let lastProgress = startAt;
  log(`\nRunning ${opts.connections} virtual users for ${(RUN_MS / 1000).toFixed(0)} s…`);
  await Promise.all(users.map(async (u, i) => {
    while (performance.now() < deadline) {
      const flow = i === opts.connections ? DEVICE_LANE : pickFlow();
      const st = stats.get(flow);
      const t = performance.now();
      try {
        await u.run(flow);
        st.ok++;
        st.ms += performance.now() - t;
      } catch (err) {
        st.failed++;
        const key = err instanceof Failure ? `${flow} → ${err.step}` : `${flow} → ${err.message}`;
        const e = errors.get(key) ?? { count: 0, sample: err instanceof Failure ? err.detail : String(err.stack ?? err) };
        e.count++;
        errors.set(key, e);
        // The session may be what broke: start over with a fresh one.
        try {
          const { jar, code, verifier, nonce } = await signIn();
          u.jar = jar;
          u.tokens = await exchange(code, verifier, nonce);
        } catch { /* counted when the next flow fails */ }
      }
      if (performance.now() - lastProgress > 30_000) {
        lastProgress = performance.now();
        const done = [...stats.values()].reduce((s, x) => s + x.ok, 0);
        const errs = [...stats.values()].reduce((s, x) => s + x.failed, 0);
        log(`  ${((lastProgress - startAt) / 1000).toFixed(0)} s: ${done} flows, ${errs} errors, RSS ${nodes.map((n) => `${n.name} ${rssMb(n.pid)?.toFixed(0)} MB`).join(', ')}`);
      }
    }
  }));
  sample();
  clearInterval(sampler);
  const runS = (performance.now() - startAt) / 1000;

  // Every accepted message reaches the SMTP server (the worker picks one up within 2 s).
  const mailDeadline = Date.now() + 15_000;
  while (mailed < relayAccepted && Date.now() < mailDeadline) await new Promise((r) => setTimeout(r, 100));
  const served = lb.served();
  const balancerFailures = lb.failures();
  const crashed = nodes.map((n) => n.exit);
  const exits = await Promise.all(nodes.map((n) => n.stop()));

  // ---- report ----------------------------------------------------------------------------------
  log(`\nFlows (${runS.toFixed(0)} s, ${opts.connections} virtual users, ${nodes.length} node(s)):`);
  log(`  ${'flow'.padEnd(42)} ${'ok'.padStart(7)} ${'errors'.padStart(7)} ${'mean ms'.padStart(8)}`);
  for (const [name, st] of stats) {
    log(`  ${name.padEnd(42)} ${String(st.ok).padStart(7)} ${String(st.failed).padStart(7)} ${(st.ok ? st.ms / st.ok : 0).toFixed(1).padStart(8)}`);
  }
  const okTotal = [...stats.values()].reduce((s, x) => s + x.ok, 0);
  const errTotal = [...stats.values()].reduce((s, x) => s + x.failed, 0);
  log(`  ${'total'.padEnd(42)} ${String(okTotal).padStart(7)} ${String(errTotal).padStart(7)}`);
  log(`  HTTP requests per node: ${nodes.map((n, i) => `${n.name} ${served[i]}`).join(', ')}`);
  log(`  relay: ${relayAccepted} accepted, ${mailed} delivered over SMTP`);

  const problems = [];
  if (errors.size) {
    log(`\nErrors (${errors.size} distinct):`);
    for (const [key, e] of errors) log(`  ${e.count}× ${key}\n      ${e.sample.split('\n')[0]}`);
    problems.push(`${errTotal} failed flows`);
  }
  if (balancerFailures.length) {
    log(`\nThe balancer could not reach a node ${balancerFailures.length} times, e.g. ${balancerFailures[0]}`);
    problems.push('nodes unreachable');
  }
  if (mailed < relayAccepted) problems.push(`${relayAccepted - mailed} accepted messages not delivered within 15 s`);
  nodes.forEach((n, i) => {
    const x = exits[i];
    if (crashed[i]) problems.push(`node ${n.name} exited during the run (${x.code ?? x.signal}): ${n.output().trim().split('\n').slice(-3).join(' | ')}`);
    else if (x.code !== 0) problems.push(`node ${n.name} did not stop cleanly on SIGTERM (${x.code ?? x.signal})`);
  });

  const verdicts = nodes.map((n, i) => verdict(series[i]));
  log(`\nRSS (MB) over time; warm-up is the first ${(WARMUP_MS / 1000).toFixed(0)} s:`);
  log(`  ${'t (s)'.padStart(7)} ${nodes.map((n) => n.name.padStart(7)).join(' ')}`);
  for (const row of rows(series)) log(`  ${row[0].toFixed(0).padStart(7)} ${row.slice(1).map((v) => (v == null ? '—' : v.toFixed(0)).padStart(7)).join(' ')}`);
  nodes.forEach((n, i) => {
    const v = verdicts[i];
    log(`  ${n.name}: ${v.flat ? 'flat' : v.reason ? 'no verdict' : 'GROWING'} — ${v.reason ?? `median ${v.first.toFixed(1)} MB (first third after warm-up) → ` +
      `${v.last.toFixed(1)} MB (last third): ${v.growth >= 0 ? '+' : ''}${v.growth.toFixed(1)} MB, allowed +${v.allowed.toFixed(1)} MB`}` +
      `; peak ${v.peak?.toFixed(0) ?? '—'} MB`);
    if (!v.flat) problems.push(`node ${n.name}: ${v.reason ?? `RSS grew by ${v.growth.toFixed(1)} MB`}`);
  });

  const report = {
    options: { minutes: opts.minutes, nodes: opts.nodes, db: dbKind, connections: opts.connections, sampleS: SAMPLE_MS / 1000 },
    runS,
    flows: Object.fromEntries([...stats].map(([name, st]) => [name, { ok: st.ok, errors: st.failed, meanMs: st.ok ? st.ms / st.ok : null }])),
    errors: [...errors].map(([key, e]) => ({ flow: key, count: e.count, sample: e.sample })),
    requestsPerNode: Object.fromEntries(nodes.map((n, i) => [n.name, served[i]])),
    relay: { accepted: relayAccepted, delivered: mailed },
    rss: Object.fromEntries(nodes.map((n, i) => [n.name, { samples: series[i].map(([t, mb]) => [Math.round(t) / 1000, mb]), verdict: verdicts[i] }])),
    exits: Object.fromEntries(nodes.map((n, i) => [n.name, exits[i]])),
    problems,
    pass: problems.length === 0,
  };
  if (opts.json) writeFileSync(opts.json, JSON.stringify(report, null, 2) + '\n');
  log(problems.length ? `\nFAIL: ${problems.join('; ')}` : `\nPASS: ${okTotal} flows, 0 errors, memory flat on every node`);
  return problems.length ? 1 : 0;
}

/** The verdict rule in the header comment, on one node's [ms, MB] samples. */
function verdict(samples) {
  const values = samples.filter(([, mb]) => mb != null);
  const peak = values.length ? Math.max(...values.map(([, mb]) => mb)) : null;
  const after = values.filter(([t]) => t >= WARMUP_MS).map(([, mb]) => mb);
  if (after.length < 6) return { flat: false, reason: `only ${after.length} samples after the warm-up (need 6: a longer --minutes or a smaller --sample)`, peak };
  const third = Math.floor(after.length / 3);
  const first = median(after.slice(0, third));
  const last = median(after.slice(after.length - third));
  const allowed = Math.max(TOLERANCE.mb, first * TOLERANCE.fraction);
  const growth = last - first;
  return { flat: growth <= allowed, first, last, growth, allowed, peak, samples: after.length };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** At most 16 rows of the series, evenly spaced, first and last included: [s, MB per node]. */
function rows(series) {
  const n = series[0]?.length ?? 0;
  const count = Math.min(16, n);
  const picks = [...new Set(Array.from({ length: count }, (_, i) => Math.round((i * (n - 1)) / Math.max(1, count - 1))))];
  return picks.map((k) => [series[0][k][0] / 1000, ...series.map((s) => s[k]?.[1])]);
}

const hardBound = setTimeout(async () => {
  log(`\nAborting: the run took over ${(RUN_MS / 1000 + 180).toFixed(0)} s.`);
  await teardown();
  process.exit(2);
}, RUN_MS + 180_000);
hardBound.unref();

main().then(async (code) => {
  await teardown();
  process.exit(code);
}, async (err) => {
  log(`\nsoak: ${err.stack ?? err}`);
  for (const n of nodes) if (n.exit) log(`\nnode ${n.name} output:\n${n.output()}`);
  await teardown();
  process.exit(2);
});
