// A small HTTP client for setting up benchmark state on loopback: keep-alive sockets,
// a cookie jar with path matching, manual redirects and form reading. Used to sign in
// through the real pages and to mint codes; never for the measured traffic (autocannon).
import http from 'node:http';

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
const REQUEST_TIMEOUT_MS = 15_000;

/** One HTTP request; resolves with status, headers and the body as text. */
export function request(url, { method = 'GET', headers = {}, body } = {}) {
  const u = new URL(url);
  if (u.hostname !== '127.0.0.1' && u.hostname !== 'localhost') throw new Error(`refusing a non-loopback URL: ${url}`);
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1', port: u.port, path: u.pathname + u.search, method, agent,
      headers: { host: u.host, ...headers, ...(body !== undefined ? { 'content-length': Buffer.byteLength(body) } : {}) },
      timeout: REQUEST_TIMEOUT_MS,
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export class Jar {
  /** name → { value, path } */
  cookies = new Map();

  constructor(origin) {
    this.origin = origin;
  }

  clone() {
    const j = new Jar(this.origin);
    for (const [k, v] of this.cookies) j.cookies.set(k, { ...v });
    return j;
  }

  header(path = '/') {
    return [...this.cookies].filter(([, c]) => path.startsWith(c.path)).map(([k, c]) => `${k}=${c.value}`).join('; ');
  }

  /** The cookies a browser would send to `path`, as one header value. */
  store(setCookie) {
    for (const line of setCookie ?? []) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const pathAttr = attrs.map((a) => a.trim()).find((a) => /^path=/i.test(a));
      const path = pathAttr ? pathAttr.slice(5) : '/';
      const expired = /max-age=0/i.test(line) || /expires=thu, 01 jan 1970/i.test(line) || value === '';
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, { value, path });
    }
  }

  async request(url, init = {}) {
    const abs = new URL(url, this.origin);
    const cookie = this.header(abs.pathname);
    const headers = { ...(init.headers ?? {}), ...(cookie ? { cookie } : {}) };
    const res = await request(abs.href, { ...init, headers });
    this.store(res.headers['set-cookie']);
    return { ...res, url: abs.href };
  }

  /** Follows redirects within the origin; stops (without fetching) at any other origin. */
  async follow(url, init = {}, maxHops = 12) {
    let res = await this.request(url, init);
    for (let i = 0; i < maxHops && res.status >= 300 && res.status < 400; i++) {
      const next = new URL(res.headers.location, res.url).href;
      if (!next.startsWith(this.origin + '/')) return { ...res, location: next };
      res = await this.request(next);
    }
    return res;
  }
}

function unescapeHtml(s) {
  return s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}

/** The first POST form of a page: its action and the hidden/pre-filled fields. */
export function readForm(html) {
  const form = /<form[^>]*method="post"[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
  if (!form) throw new Error('no form on the page:\n' + html.slice(0, 1500));
  const fields = {};
  for (const m of form[2].matchAll(/<input[^>]*>/g)) {
    const tag = m[0];
    const type = /type="([^"]*)"/.exec(tag)?.[1] ?? 'text';
    const name = /name="([^"]*)"/.exec(tag)?.[1];
    const value = /value="([^"]*)"/.exec(tag)?.[1];
    if (name && value && ['hidden', 'text', 'email'].includes(type)) fields[name] = unescapeHtml(value);
  }
  return { action: unescapeHtml(form[1]), fields };
}

/** Runs `fn(i)` for i in [0, n) with at most `concurrency` in flight. */
export async function pool(n, concurrency, fn) {
  const out = new Array(n);
  let next = 0;
  async function worker() {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
  return out;
}
