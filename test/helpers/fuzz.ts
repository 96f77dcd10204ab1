// Machinery for the property-based fuzz test (test/fuzz/endpoints.test.ts): a request
// model that starts from a valid request and mutates it, arbitraries for nasty values,
// headers and encodings, and a row-level diff of the whole database.
import fc from 'fast-check';
import type { Alias } from './harness.js';

export type Pairs = [string, string][];

/** A request before serialization: every part can be mutated. */
export interface Spec {
  method: string;
  path: string;
  query: Pairs;
  /** The body: form pairs (x-www-form-urlencoded or multipart), a JSON value, or none. */
  body?: { kind: 'form'; pairs: Pairs } | { kind: 'multipart'; pairs: Pairs } | { kind: 'json'; value: unknown };
  headers: Record<string, string>;
}

/** What a mutation does. Values may hold `$NAME` placeholders for the run's valid material. */
export type Mutation =
  | { t: 'drop'; i: number }
  | { t: 'set'; i: number; v: string }
  | { t: 'dup'; i: number; v: string | null }
  | { t: 'add'; k: string; v: string }
  | { t: 'swap' }
  | { t: 'header'; h: string; v: string | null }
  | { t: 'method'; m: string }
  | { t: 'raw'; where: 'body' | 'query'; pos: number; junk: string }
  | { t: 'repeat'; pos: number; unit: string; n: number }
  | { t: 'bytes'; b: number[] }
  | { t: 'big'; n: number }
  | { t: 'path'; s: string }
  | { t: 'json'; f: string | null; i: number; v: unknown }
  | { t: 'asJson' }
  | { t: 'jsonRaw'; s: string };

/** A serialized request for app.inject. */
export interface Wire {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
}

// Values that have broken parsers before: empty, NUL and control characters, lone
// surrogates, percent signs, separators, prototype keys, numbers, huge values.
const NASTY = [
  '', ' ', '\u0000', 'a\u0000b', '\t', '\r\n', '\n', '\u0007', '\u007f', '\u0085', '\u2028', '\ufeff', '\ud800', '\udc00x',
  '\ud83d\ude00', 'é', 'İ', 'ß', '\u202e', '%', '%00', '%zz', '%ff', '%E0%A4%A', '+', '&', '=', ';', ',', '"', "'", '\\',
  '<script>alert(1)</script>', '../../etc/passwd', '//evil.example', 'javascript:alert(1)', 'http://127.0.0.1:1/cb',
  'https://app.example/cb#x', 'https://app.example/cb?x=1', 'https://APP.example/cb', '__proto__', 'constructor',
  'prototype', 'toString', 'hasOwnProperty', 'null', 'undefined', 'true', 'false', '[]', '{}', '{"a":1}', '0', '-1',
  '1e309', 'NaN', 'Infinity', '9'.repeat(40), '0x10', '1.5', ' openid ', 'openid openid', 'openid\u00a0nickname',
  'openid contact', 'openid offline_access contact nickname', 'news', '_meta', 'none', 'login consent', 'S256', 'plain',
  'code', 'id_token', 'code id_token', 'token', 'form_post', 'fragment', 'query', 'allow', 'deny', 'yes', 'current',
  'One-Click', 'Bearer', 'Basic',
];
const HUGE = [256, 1024, 4096, 4097, 20_000, 200_000];
/** Placeholders replaced by this run's valid values: cross-field confusion reaches deep paths. */
export const PLACEHOLDERS = [
  '$CONF', '$PUB', '$SECRET', '$CODE', '$VERIFIER', '$PUBCODE', '$ACCESS', '$REFRESH', '$IDTOKEN', '$SUB', '$EMAIL',
  '$PASSWORD', '$CSRF', '$SESSION', '$BROWSER', '$USERCODE', '$DEVICECODE', '$GRANT', '$INTERACTION', '$UNSUB',
  '$APP_CB', '$LOOPBACK_CB', '$LOGOUT_CB', '$CONFBASIC', '$CC_ACCESS', '$IAT', '$RAT', '$REGCLIENT',
  '$POSTCONF', '$POSTSECRET', '$POSTCODE',
];

export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NASTY) },
  { weight: 3, arbitrary: fc.constantFrom(...PLACEHOLDERS) },
  { weight: 2, arbitrary: fc.string({ maxLength: 24 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...PLACEHOLDERS), fc.constantFrom(...NASTY)).map(([a, b]) => a + b) },
  { weight: 1, arbitrary: fc.constantFrom(...HUGE).map((n) => 'a'.repeat(n)) },
);

const PARAM_NAMES = [
  'client_id', 'client_secret', 'grant_type', 'code', 'redirect_uri', 'code_verifier', 'refresh_token', 'scope', 'token',
  'token_type_hint', 'username', 'password', 'device_code', 'access_token', 'response_type', 'response_mode', 'state',
  'nonce', 'prompt', 'max_age', 'code_challenge', 'code_challenge_method', 'channels', 'request', 'request_uri',
  'include_granted_scopes', 'id_token_hint', 'post_logout_redirect_uri', 'csrf', 'email', 'decision', 'channel', 'user_code',
  'account', 'logout', 'nickname', 'current_password', 'new_password', 'List-Unsubscribe', '__proto__', 'constructor',
  'client_id[]', 'scope[0]', 'a[b][c]', '', '\u0000', '%', 'é', 'x'.repeat(5000),
];
const paramName = fc.oneof(fc.constantFrom(...PARAM_NAMES), fc.string({ maxLength: 10 }));

/** Header values a real HTTP parser lets through: visible ASCII, space, tab and obs-text. */
const headerChar = fc.oneof(
  { weight: 10, arbitrary: fc.integer({ min: 0x20, max: 0x7e }) },
  { weight: 1, arbitrary: fc.integer({ min: 0x80, max: 0xff }) },
  { weight: 1, arbitrary: fc.constant(0x09) },
).map((c) => String.fromCharCode(c));
const headerString = fc.string({ unit: headerChar, maxLength: 40 });
const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

const HEADER_VALUES: Record<string, string[]> = {
  authorization: [
    '', 'Basic', 'Basic ', 'Basic Og==', 'Basic !!!', 'Basic ' + b64('$CONF'), 'Basic ' + b64(':'), 'Basic ' + b64('%zz:%E0%A4%A'),
    'Basic ' + b64(Buffer.from([0xff, 0xfe, 0x3a, 0xff])), 'Basic ' + b64('a%00:b'), '$CONFBASIC', '$CONFBASIC extra',
    'basic $CONFBASIC_B64', 'Basic  $CONFBASIC_B64', 'Basic $CONFBASIC_B64=', 'Bearer', 'Bearer ', 'Bearer $ACCESS',
    'bearer $ACCESS', 'Bearer  $ACCESS ', 'Bearer $REFRESH', 'Bearer $CC_ACCESS', 'Bearer $ACCESS $ACCESS', 'Bearer a,b',
    'Bearer ' + 'a'.repeat(5000), 'Digest username="x"', 'DPoP $ACCESS', 'Negotiate', 'Basic ' + b64('x'.repeat(3000) + ':y'),
  ],
  cookie: [
    '', '$COOKIES', 'alias_session=$SESSION', 'alias_browser=$BROWSER', 'alias_session=garbage; alias_browser=$BROWSER',
    'alias_session=$SESSION; alias_session=x; alias_browser=$BROWSER', 'alias_browser=%ff%fe; alias_session=%zz',
    'alias_browser=' + 'a'.repeat(43), 'alias_session=' + 'a'.repeat(5000) + '; alias_browser=$BROWSER', '=;;==; ;',
    'alias_session="$SESSION"; alias_browser="$BROWSER"', '__proto__=1; constructor=2', 'alias_browser=$BROWSER ',
  ],
  'content-type': [
    'application/x-www-form-urlencoded', 'application/json', 'text/plain', 'multipart/form-data; boundary=x',
    'multipart/form-data', 'application/x-www-form-urlencoded; charset=ISO-8859-1', 'APPLICATION/X-WWW-FORM-URLENCODED',
    'application/x-www-form-urlencoded;;', 'application/jsonx', 'application/json; charset=utf-16', '*/*', ';',
    'application/xml', 'application/x-www-form-urlencoded, application/json', 'text/html; charset=utf-8',
  ],
  'idempotency-key': ['', ' ', 'k', 'x'.repeat(255), 'x'.repeat(256), 'é', 'a\tb', 'key-$SUB', '$ACCESS', 'k1'],
  origin: ['https://app.example', 'http://127.0.0.1', 'null', 'https://evil.example', 'x'.repeat(600)],
  'x-forwarded-for': ['1.2.3.4', '::1', 'garbage', '1.2.3.4, 5.6.7.8', ''],
  accept: ['application/json', 'text/html', '*/*', ''],
  'accept-encoding': ['gzip', 'br', 'identity;q=0', ''],
};

const header = fc.constantFrom(...Object.keys(HEADER_VALUES)).chain((h) => fc.record({
  t: fc.constant('header' as const),
  h: fc.constant(h),
  v: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...HEADER_VALUES[h]!) }, { weight: 1, arbitrary: headerString },
    { weight: 1, arbitrary: fc.constant(null) }),
}));

// Valid HTTP methods only (the app never sees others: the HTTP parser refuses them).
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'SEARCH', 'PROPFIND', 'LOCK'];
const JUNK = ['%', '%z', '%zz', '%ff', '%fe%ff', '%E0%A4%A', '%00', '%C0%80', '%ED%A0%80', '%u0041', '&', '&&', '=', '==',
  '+', '%2', ';', '#', '?', '%26', '%3D', '\u00e9', '[]', '[', ']'];
const JSON_VALUES: unknown[] = [null, true, 0, -1, 1e308, '', ' ', '\u0000', 'a\u0000', '\ud800', 'x\r\ny', 'x\ty', '\u0007',
  [], ['news'], {}, { a: 1 }, 'x'.repeat(201), 'é'.repeat(201), 'x'.repeat(70_000), '$SUB', 'news', '_meta', 'nope',
  '$ACCESS', '\u{1f600}'.repeat(150)];
const JSON_RAW = ['', ' ', '{', '{"to":', 'null', '[]', '"x"', '1', '{"to":"a","to":"b"}', '{"__proto__":{"x":1}}',
  '{"constructor":{"prototype":{"x":1}}}', '\ufeff{}', '{"to":"\\ud800"}', '{"to":"\\u0000"}', '['.repeat(20_000),
  '['.repeat(5000) + ']'.repeat(5000), '{"a":' + '1'.repeat(400) + '}', 'NaN', '{"to":1e999}', "{'a':1}"];

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('drop' as const), i: fc.nat(20) }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant('set' as const), i: fc.nat(20), v: nastyString }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('dup' as const), i: fc.nat(20), v: fc.option(nastyString) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('add' as const), k: paramName, v: nastyString }) },
  { weight: 1, arbitrary: fc.constant({ t: 'swap' as const }) },
  { weight: 5, arbitrary: header },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('method' as const), m: fc.constantFrom(...METHODS) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('raw' as const), where: fc.constantFrom('body' as const, 'query' as const),
    pos: fc.nat(400), junk: fc.constantFrom(...JUNK) }) },
  // Long runs of one pattern, inside the body: what makes a backtracking parser slow.
  { weight: 1, arbitrary: fc.record({ t: fc.constant('repeat' as const), pos: fc.nat(400),
    unit: fc.constantFrom(' \n', '\r\n', ' ', '\n', 'a\n', 'a=b&', '&', '=', '%', '%2', '[', '{"a":', '\t', ' \r\n', ';'),
    n: fc.constantFrom(1000, 40_000, 200_000) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('bytes' as const), b: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 40 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('big' as const),
    n: fc.constantFrom(1024 * 1024 - 200, 1024 * 1024 - 1, 1024 * 1024, 1024 * 1024 + 1, 1024 * 1024 + 5000) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('path' as const),
    s: fc.constantFrom('/', '//', '/x', '/%ff', '%00', '%2F', '/..', '/.', ';x', '/' + 'x'.repeat(600), '%', '.json') }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('json' as const),
    f: fc.option(fc.constantFrom('to', 'channel', 'subject', 'body', '__proto__', 'extra', 'to ')), i: fc.nat(20),
    v: fc.oneof(fc.constantFrom(...JSON_VALUES), nastyString, fc.constant(undefined)) }) },
  // A form sent as a JSON object (repeated names become arrays): pages read any parsed body.
  { weight: 1, arbitrary: fc.constant({ t: 'asJson' as const }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('jsonRaw' as const), s: fc.constantFrom(...JSON_RAW) }) },
);

/** One fuzz case: a template (a valid request of some endpoint) and 0–4 mutations. */
export function cases(templates: string[]): fc.Arbitrary<{ template: string; mutations: Mutation[] }> {
  return fc.record({
    template: fc.constantFrom(...templates),
    mutations: fc.oneof({ weight: 1, arbitrary: fc.constant([] as Mutation[]) },
      { weight: 6, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 4 }) }),
  });
}

/** Applies mutations to a spec (a copy). */
export function mutate(spec: Spec, mutations: Mutation[]): Spec & { raw: Mutation[]; bytes?: Buffer; big?: number; jsonRaw?: string } {
  const s = structuredClone(spec) as Spec & { raw: Mutation[]; bytes?: Buffer; big?: number; jsonRaw?: string };
  s.raw = [];
  const params = (): Pairs => (s.body && s.body.kind !== 'json' ? s.body.pairs : s.query);
  for (const m of mutations) {
    const p = params();
    switch (m.t) {
      case 'drop': if (p.length) p.splice(m.i % p.length, 1); break;
      case 'set': if (p.length) p[m.i % p.length]![1] = m.v; else p.push(['x', m.v]); break;
      case 'dup': if (p.length) { const [k, v] = p[m.i % p.length]!; p.push([k, m.v ?? v]); } break;
      case 'add': p.push([m.k, m.v]); break;
      case 'swap':
        // Parameters move between the query and a form body.
        if (s.body?.kind === 'form') { s.query.push(...s.body.pairs); s.body = undefined; }
        else if (!s.body) { s.body = { kind: 'form', pairs: s.query.splice(0) }; s.headers['content-type'] ??= 'application/x-www-form-urlencoded'; }
        break;
      case 'header': if (m.v === null) delete s.headers[m.h]; else s.headers[m.h] = m.v; break;
      case 'method': s.method = m.m; break;
      case 'raw': case 'repeat': s.raw.push(m); break;
      case 'bytes': s.bytes = Buffer.from(m.b); break;
      case 'big': s.big = m.n; break;
      case 'path': s.path += m.s; break;
      case 'json': {
        if (s.body?.kind !== 'json') break;
        const v = s.body.value;
        if (v && typeof v === 'object' && !Array.isArray(v)) {
          const keys = Object.keys(v);
          const f = m.f ?? (keys.length ? keys[m.i % keys.length]! : 'x');
          if (m.v === undefined) delete (v as Record<string, unknown>)[f];
          else Object.defineProperty(v, f, { value: m.v, enumerable: true, writable: true, configurable: true });
        }
        break;
      }
      case 'asJson': {
        if (s.body?.kind === 'json') break;
        const value: Record<string, unknown> = {};
        for (const [k, v] of params().splice(0)) {
          const prior = Object.hasOwn(value, k) ? value[k] : undefined;
          const next = prior === undefined ? v : Array.isArray(prior) ? [...prior, v] : [prior, v];
          Object.defineProperty(value, k, { value: next, enumerable: true, writable: true, configurable: true });
        }
        s.body = { kind: 'json', value };
        s.headers['content-type'] = 'application/json';
        break;
      }
      case 'jsonRaw': s.jsonRaw = m.s; break;
    }
  }
  return s;
}

const encodePairs = (pairs: Pairs) => pairs.map(([k, v]) => `${encodeComponent(k)}=${encodeComponent(v)}`).join('&');
/** Form encoding that keeps lone surrogates as (invalid) UTF-8-ish escapes instead of throwing. */
function encodeComponent(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return [...s].map((c) => { try { return encodeURIComponent(c); } catch { return '%ED%A0%80'; } }).join('');
  }
}
const insertAt = (text: string, pos: number, junk: string) => {
  const i = text.length ? pos % (text.length + 1) : 0;
  return text.slice(0, i) + junk + text.slice(i);
};

/** Serializes a mutated spec; `sub` replaces the `$NAME` placeholders. */
export function serialize(s: ReturnType<typeof mutate>, sub: (text: string) => string): Wire {
  const subPairs = (pairs: Pairs): Pairs => pairs.map(([k, v]) => [sub(k), sub(v)]);
  let query = encodePairs(subPairs(s.query));
  let payload: string | Buffer | undefined;
  if (s.body?.kind === 'form') payload = encodePairs(subPairs(s.body.pairs));
  else if (s.body?.kind === 'multipart') {
    payload = subPairs(s.body.pairs).map(([k, v]) => `--x\r\ncontent-disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`).join('') + '--x--\r\n';
  } else if (s.body?.kind === 'json') payload = s.jsonRaw ?? sub(JSON.stringify(s.body.value, (_k, v) => v));
  else if (s.jsonRaw !== undefined) payload = s.jsonRaw;
  for (const r of s.raw) {
    if (r.t === 'repeat') {
      if (typeof payload === 'string' || payload === undefined) payload = insertAt(payload ?? '', r.pos, r.unit.repeat(r.n));
      continue;
    }
    if (r.t !== 'raw') continue;
    if (r.where === 'query') query = insertAt(query, r.pos, r.junk);
    else if (typeof payload === 'string') payload = insertAt(payload, r.pos, r.junk);
  }
  if (s.big !== undefined) {
    const head = typeof payload === 'string' ? payload : '';
    payload = head + (head ? '&' : '') + 'state=' + 'a'.repeat(Math.max(0, s.big - head.length - 7));
  }
  if (s.bytes) payload = Buffer.concat([Buffer.from(typeof payload === 'string' ? payload : ''), s.bytes]);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.headers)) headers[k] = sub(v);
  // The URL stays ASCII (as on the wire): anything else is percent-encoded.
  const path = sub(s.path).replace(/[^\x21-\x7e]/g, (c) => encodeComponent(c));
  const raw = path + (query ? `?${query.replace(/[^\x21-\x7e]/g, (c) => encodeComponent(c))}` : '');
  // app.inject resolves the URL (dot segments, backslashes) before the router sees it:
  // resolve it here too, so the properties judge the URL the app received.
  const resolved = new URL(raw.startsWith('//') ? `http://localhost${raw}` : raw, 'http://localhost');
  return { method: s.method, url: resolved.pathname + resolved.search, headers, payload };
}

/** A short, readable form of a request, for failure messages. */
export function describeWire(w: Wire): string {
  const cut = (x: string, n = 300) => (x.length > n ? `${x.slice(0, n)}… (${x.length} chars)` : x);
  const body = w.payload === undefined ? '' : Buffer.isBuffer(w.payload) ? `<${w.payload.length} bytes> ${JSON.stringify(w.payload.toString('latin1').slice(0, 200))}` : JSON.stringify(cut(w.payload));
  return `${w.method} ${cut(w.url)}\n  headers: ${cut(JSON.stringify(w.headers), 600)}\n  body: ${body}`;
}

// ---- database state ---------------------------------------------------------------

export type Snapshot = Map<string, Map<string, Record<string, unknown>>>;

/** Primary keys, to pair the before/after versions of a row. Other tables compare whole rows. */
const PRIMARY_KEYS: Record<string, string[]> = {
  clients: ['id'], client_origins: ['origin', 'client_id'], users: ['id'], sessions: ['id_digest'], interactions: ['id'],
  grants: ['id'], authorization_codes: ['digest'], access_tokens: ['digest'], refresh_tokens: ['digest'],
  signing_keys: ['kid'], settings: ['key'], device_codes: ['device_digest'], logout_deliveries: ['id'], messages: ['id'],
};

const tableLists = new WeakMap<Alias, Promise<string[]>>();

/** Every row of every table except `exclude`, keyed by table and primary key. */
export async function snapshotRows(alias: Alias, exclude: readonly string[]): Promise<Snapshot> {
  const k = alias.s.db.kysely;
  if (!tableLists.has(alias)) {
    tableLists.set(alias, k.introspection.getTables().then((all) => [...new Set(all
      .filter((t) => alias.db.schema === undefined || t.schema === alias.db.schema)
      .map((t) => t.name))].sort()));
  }
  const tables = (await tableLists.get(alias)!).filter((t) => !exclude.includes(t));
  const out: Snapshot = new Map();
  await Promise.all(tables.map(async (t) => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const rows = await (k as any).selectFrom(t).selectAll().execute() as Record<string, unknown>[];
    const keyCols = PRIMARY_KEYS[t];
    const m = new Map<string, Record<string, unknown>>();
    for (const r of rows) m.set(keyCols ? JSON.stringify(keyCols.map((c) => r[c])) : JSON.stringify(r), r);
    out.set(t, m);
  }));
  return out;
}

export interface RowChange {
  table: string;
  key: string;
  kind: 'insert' | 'delete' | 'update';
  /** Columns that changed (updates only). */
  columns: string[];
  before?: Record<string, unknown>;
  after?: Record<string, unknown>;
}

export function diffRows(before: Snapshot, after: Snapshot): RowChange[] {
  const changes: RowChange[] = [];
  for (const table of new Set([...before.keys(), ...after.keys()])) {
    const a = before.get(table) ?? new Map();
    const b = after.get(table) ?? new Map();
    for (const [key, row] of a) {
      const now = b.get(key);
      if (!now) { changes.push({ table, key, kind: 'delete', columns: [], before: row }); continue; }
      const columns = Object.keys({ ...row, ...now }).filter((c) => JSON.stringify(row[c]) !== JSON.stringify(now[c]));
      if (columns.length) changes.push({ table, key, kind: 'update', columns, before: row, after: now });
    }
    for (const [key, row] of b) if (!a.has(key)) changes.push({ table, key, kind: 'insert', columns: [], after: row });
  }
  return changes;
}
