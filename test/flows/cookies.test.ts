// The cookies Alias sets and reads, end to end over HTTP (DESIGN "Cookies"): `Secure` and
// the `__Host-` prefix under an https issuer, neither under http; always HttpOnly,
// SameSite=Lax and Path=/; a cookie sent back is read (the CSRF check and the session
// depend on it). They go through @fastify/cookie and the `cookie` package, which
// package.json pins to 1.x (2.x needs Node 22): this is what that pin must keep working.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { FastifyInstance } from 'fastify';
import { loadConfig } from '../../src/config/config.js';
import { createServices, type Services } from '../../src/services.js';
import { buildApp } from '../../src/http/app.js';
import { sqlite, TEST_SECRET, type TestDatabase } from '../helpers/databases.js';

const PASSWORD = 'a long password 1';

/** The Set-Cookie headers of a response, by cookie name. */
function setCookies(headers: Record<string, unknown>): Map<string, string> {
  const raw = headers['set-cookie'];
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw as string[] : [raw as string];
  return new Map(list.map((line) => [line.slice(0, line.indexOf('=')), line]));
}

const attributes = (line: string) => line.split(';').slice(1).map((a) => a.trim().toLowerCase());

for (const issuer of ['http://localhost:3000', 'https://id.example']) {
  const https = issuer.startsWith('https:');
  const prefix = https ? '__Host-' : '';
  describe(`cookies under ${issuer}`, () => {
    let db: TestDatabase;
    let s: Services;
    let app: FastifyInstance;
    before(async () => {
      db = await sqlite.create();
      s = await createServices(loadConfig({ db: db.location, issuer }, { ALIAS_SECRET: TEST_SECRET, ALIAS_LOG_LEVEL: 'silent' }));
      await s.keys.ensureKey();
      app = await buildApp(s);
      await app.ready();
      await s.accounts.create({ email: 'ann@example.com', password: PASSWORD });
    });
    after(async () => {
      await app?.close();
      await s?.close();
      await db?.cleanup();
    });

    it(`the browser cookie is ${prefix}alias_browser: HttpOnly, SameSite=Lax, Path=/, Max-Age${https ? ', Secure' : ', not Secure'}`, async () => {
      const res = await app.inject({ method: 'GET', url: '/account' });
      assert.equal(res.statusCode, 200);
      const line = setCookies(res.headers).get(`${prefix}alias_browser`);
      assert.ok(line, `sets ${prefix}alias_browser: ${JSON.stringify(res.headers['set-cookie'])}`);
      assert.match(line, new RegExp(`^${prefix}alias_browser=[A-Za-z0-9_-]{43};`), 'the value is sent as minted (no encoding needed)');
      const attrs = attributes(line);
      for (const a of ['httponly', 'samesite=lax', 'path=/', `max-age=${400 * 24 * 3600}`]) assert.ok(attrs.includes(a), `${a} in ${line}`);
      assert.equal(attrs.includes('secure'), https, `Secure only under https: ${line}`);
      assert.ok(!attrs.some((a) => a.startsWith('domain=')), '__Host- cookies have no Domain');
    });

    it('the cookie sent back is read: the sign-in form passes its CSRF check and starts a session', async () => {
      const first = await app.inject({ method: 'GET', url: '/account' });
      const browser = setCookies(first.headers).get(`${prefix}alias_browser`)!.split(';')[0]!;
      const csrf = /name="csrf" value="([^"]+)"/.exec(first.body)?.[1];
      assert.ok(csrf, 'the page carries a CSRF token');
      // Another cookie beside ours, with spaces and an encoded value: parsing must pick ours out.
      const cookie = `theme=dark%20mode; ${browser}; other=1`;
      const login = await app.inject({ method: 'POST', url: '/account/login',
        headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ csrf, email: 'ann@example.com', password: PASSWORD }).toString() });
      assert.equal(login.statusCode, 303, login.body);
      const session = setCookies(login.headers).get(`${prefix}alias_session`);
      assert.ok(session, 'a session cookie is set');
      assert.equal(attributes(session).includes('secure'), https);
      assert.ok(attributes(session).includes('httponly'));

      const account = await app.inject({ method: 'GET', url: '/account', headers: { cookie: `${cookie}; ${session.split(';')[0]}` } });
      assert.equal(account.statusCode, 200);
      assert.match(account.body, /ann@example\.com/, 'signed in: the account page, not the sign-in form');

      const wrongCsrf = await app.inject({ method: 'POST', url: '/account/login', headers: { cookie: 'unrelated=1',
        'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ csrf, email: 'ann@example.com', password: PASSWORD }).toString() });
      assert.equal(wrongCsrf.statusCode, 403, 'without the browser cookie the same token is refused');
    });
  });
}
