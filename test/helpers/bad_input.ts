// Helpers for the "bad input" flow tests: raw HTTP requests to Alias, assertions on the
// three shapes a refusal can take (JSON error, error page, error redirect), a snapshot of
// stored state, and a signed-in browser that can mint authorization codes on demand.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Alias } from './harness.js';
import { Browser, checkboxes } from './browser.js';
import type { Client } from '../../src/store/types.js';

export type Params = Record<string, string | string[] | undefined>;

/** Builds a query or form string; arrays repeat the name; undefined leaves it out. */
export function encode(params: Params): string {
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    for (const item of Array.isArray(v) ? v : [v]) out.append(k, item);
  }
  return out.toString();
}

export const basic = (id: string, secret: string, raw = false): string =>
  'Basic ' + Buffer.from(raw ? `${id}:${secret}` : `${formEncode(id)}:${formEncode(secret)}`).toString('base64');

/** application/x-www-form-urlencoded encoding of one value (RFC 6749 Appendix B). */
export const formEncode = (s: string): string => new URLSearchParams({ x: s }).toString().slice(2);

export const verifierPair = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

/** RFC 6749 §5.2 / §4.1.2.1: error_description is limited to %x20-21 / %x23-5B / %x5D-7E. */
const DESCRIPTION = /^[\x20-\x21\x23-\x5B\x5D-\x7E]+$/;

/** An OAuth error as JSON (RFC 6749 §5.2): status, content type, exactly error + error_description. */
export async function expectJsonError(res: Response, status: number, error: string): Promise<{ error: string; error_description: string }> {
  const text = await res.text();
  assert.equal(res.status, status, `expected ${status} ${error}, got ${res.status}: ${text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/, 'API errors are application/json');
  const body = JSON.parse(text) as { error: string; error_description: string };
  assert.equal(body.error, error, text);
  assert.match(body.error_description, DESCRIPTION, 'error_description uses only the characters RFC 6749 §5.2 allows');
  assert.deepEqual(Object.keys(body).sort(), ['error', 'error_description'], 'no per-request data in error bodies');
  assert.doesNotMatch(text, /at .*\.ts:\d+|Error:|stack/i, 'never a stack trace');
  return body;
}

/** RFC 6749 §5.1/§5.2: every token endpoint answer carries Cache-Control: no-store. */
export function expectNoStore(res: Response) {
  assert.match(res.headers.get('cache-control') ?? '', /\bno-store\b/, 'Cache-Control: no-store');
}

/**
 * RFC 6749 §4.1.2.1: with a bad client_id or redirect_uri the server MUST NOT redirect; it
 * informs the user instead: a readable 4xx page, no form, no redirect of any kind.
 */
export async function expectErrorPage(res: Response, status = 400, mustNotMention: string[] = []): Promise<string> {
  const html = await res.text();
  assert.equal(res.status, status, html.slice(0, 500));
  assert.equal(res.headers.get('location'), null, 'no Location header');
  assert.equal(res.headers.get('refresh'), null, 'no Refresh header');
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(html, /<h1>[^<]+<\/h1>/, 'a readable heading');
  assert.match(html, /<p role="alert">[^<]+<\/p>/, 'a readable message');
  assert.doesNotMatch(html, /<form/i, 'no form');
  assert.doesNotMatch(html, /http-equiv\s*=\s*["']?refresh/i, 'no meta refresh');
  assert.doesNotMatch(html, /<script/i, 'no script');
  for (const s of mustNotMention) assert.ok(!html.includes(s), `the page does not link to ${s}`);
  return html;
}

/**
 * RFC 6749 §4.1.2.1 + RFC 9207 §2: the error goes back to the client's redirect URI with
 * error, error_description, the request's state, and iss; never a code.
 */
export function expectErrorRedirect(res: Response, opts: { redirectUri: string; error: string; state?: string; issuer: string }): URL {
  assert.ok(res.status === 302 || res.status === 303, `expected a redirect, got ${res.status}`);
  const location = res.headers.get('location');
  assert.ok(location, 'a Location header');
  const url = new URL(location);
  const expected = new URL(opts.redirectUri);
  assert.equal(url.origin + url.pathname, expected.origin + expected.pathname, 'back to the registered redirect URI');
  for (const [k, v] of expected.searchParams) assert.equal(url.searchParams.get(k), v, `the redirect URI's own query (${k}) is kept`);
  assert.equal(url.searchParams.get('error'), opts.error, location);
  const description = url.searchParams.get('error_description');
  assert.ok(description, 'error_description');
  assert.match(description, DESCRIPTION, 'error_description uses only the characters RFC 6749 §4.1.2.1 allows');
  assert.equal(url.searchParams.get('state'), opts.state ?? null, 'state echoed exactly when it was sent (and valid)');
  assert.equal(url.searchParams.get('iss'), opts.issuer, 'RFC 9207 iss');
  assert.equal(url.searchParams.get('code'), null, 'never a code with an error');
  assert.equal(url.hash, '', 'query response mode');
  return url;
}

const VOLATILE = new Set(['throttles', 'kysely_migration', 'kysely_migration_lock']);

/**
 * Every stored row except failure counters (which must count bad client secrets), as one
 * comparable value: a refused request must leave it unchanged.
 */
const tableLists = new WeakMap<Alias, Promise<string[]>>();

export async function snapshot(alias: Alias): Promise<Record<string, string[]>> {
  const k = alias.s.db.kysely;
  // Introspection is slow on PostgreSQL, and lists every schema's tables: keep this
  // test's own, once.
  if (!tableLists.has(alias)) {
    tableLists.set(alias, k.introspection.getTables().then((all) => [...new Set(all
      .filter((t) => alias.db.schema === undefined || t.schema === alias.db.schema)
      .map((t) => t.name).filter((n) => !VOLATILE.has(n)))].sort()));
  }
  const tables = await tableLists.get(alias)!;
  const out: Record<string, string[]> = {};
  await Promise.all(tables.map(async (t) => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const rows = await (k as any).selectFrom(t).selectAll().execute() as unknown[];
    out[t] = rows.map((r) => JSON.stringify(r)).sort();
  }));
  return out;
}

export async function expectUnchanged(alias: Alias, before: Record<string, string[]>, what: string) {
  const now = await snapshot(alias);
  const changes: string[] = [];
  for (const t of new Set([...Object.keys(before), ...Object.keys(now)])) {
    const a = before[t] ?? [];
    const b = now[t] ?? [];
    for (const row of a) if (!b.includes(row)) changes.push(`${t} - ${row.slice(0, 300)}`);
    for (const row of b) if (!a.includes(row)) changes.push(`${t} + ${row.slice(0, 300)}`);
  }
  assert.deepEqual(changes, [], `${what.slice(0, 300)} must not change stored state`);
}

export interface Tokens {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
  scope: string;
  [k: string]: unknown;
}

export function rig(alias: Alias) {
  const tokenUrl = `${alias.issuer}/api/oauth2/token`;

  /** A raw request to the authorization endpoint (no redirects followed, no cookies). */
  const authorize = (params: Params, init: RequestInit = {}) =>
    fetch(`${alias.issuer}/oauth2/authorize?${encode(params)}`, { redirect: 'manual', ...init });

  /** POST to the token endpoint; a string body is sent as is. */
  async function token(body: Params | string, opts: { authorization?: string; contentType?: string | null; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.contentType !== null) headers['content-type'] = opts.contentType ?? 'application/x-www-form-urlencoded';
    if (opts.authorization !== undefined) headers.authorization = opts.authorization;
    const res = await fetch(tokenUrl, { method: 'POST', headers, body: typeof body === 'string' ? body : encode(body) });
    expectNoStore(res);
    return res;
  }

  async function tokenOk(body: Params, authorization?: string): Promise<Tokens> {
    const res = await token(body, { authorization });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    return JSON.parse(text) as Tokens;
  }

  const userinfo = (accessToken: string) =>
    fetch(`${alias.issuer}/api/oauth2/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } });

  /**
   * Signs a new user in through the real pages and approves the client, so that later
   * authorization requests from this browser go straight to a code (remembered grant).
   */
  async function signIn(client: Client, redirectUri: string, scope = 'openid') {
    const user = await alias.user();
    const browser = new Browser(alias.issuer);
    const pkce = verifierPair();
    const login = await browser.follow(`/oauth2/authorize?${encode({
      response_type: 'code', client_id: client.id, redirect_uri: redirectUri, scope, state: 's',
      code_challenge: pkce.challenge, code_challenge_method: 'S256',
    })}`);
    assert.equal(login.status, 200, login.html);
    const consent = await browser.submit(login, { email: user.email, password: user.password });
    assert.equal(consent.status, 200, consent.html);
    const done = await browser.submit(consent, {
      decision: 'allow', scope: checkboxes(consent.html, 'scope').map((c) => c.value),
    });
    assert.ok(new URL(done.url).searchParams.get('code'), done.url);

    /** A fresh code for this client, with or without PKCE. */
    async function code(opts: { pkce?: boolean; redirectUri?: string; scope?: string } = {}) {
      const p = verifierPair();
      const res = await browser.request(`/oauth2/authorize?${encode({
        response_type: 'code', client_id: client.id, redirect_uri: opts.redirectUri ?? redirectUri,
        scope: opts.scope ?? scope, state: 'st', prompt: 'none',
        ...(opts.pkce ?? true ? { code_challenge: p.challenge, code_challenge_method: 'S256' } : {}),
      })}`);
      const location = res.headers.get('location');
      assert.ok(location, `a redirect (${res.status})`);
      const value = new URL(location).searchParams.get('code');
      assert.ok(value, location);
      return { code: value, verifier: p.verifier };
    }
    return { user, browser, code };
  }

  return { tokenUrl, authorize, token, tokenOk, userinfo, signIn };
}
