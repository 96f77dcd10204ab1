// The request log (issue 16 item 6, issue 17): at the default level no line carries a
// URL, a query string or a path token; at debug, one line per request with the route
// pattern, method, status and time.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { buildApp } from '../../src/http/app.js';
import { signIdToken } from '../../src/tokens/id_token.js';
import { unsubscribeToken } from '../../src/relay/unsubscribe_token.js';

const sqlite = databaseKinds().find((k) => k.name === 'sqlite')!;
const CB = 'https://rp.example/cb';

class Lines extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, done: () => void) { this.text += chunk.toString(); done(); }
  get lines(): Record<string, unknown>[] { return this.text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>); }
}

describe('request log', () => {
  let alias: Alias;
  let secrets: string[];
  let requests: { method: 'GET' | 'POST'; url: string; payload?: string; route: string }[];
  before(async () => {
    alias = await startAlias(sqlite, { listen: false });
    const { client } = await alias.client({ redirectUris: [CB], channels: ['news:News'] });
    const user = await alias.user();
    const idToken = await signIdToken(alias.s.keys, { amr: ['pwd'], alg: client.idTokenSignedResponseAlg, issuer: alias.issuer, clientId: client.id,
      sub: alias.s.pairwise(client.id, user.id), authTime: Date.now(), now: Date.now() });
    const unsubscribe = unsubscribeToken(alias.s.secrets, { userId: user.id, clientId: client.id, channel: 'news' });
    const userCode = 'WDJB-MJHT';
    const state = 'state-' + 'q'.repeat(20);
    secrets = [idToken, idToken.split('.')[1]!, unsubscribe, userCode, state];
    const authorize = '/oauth2/authorize?' + new URLSearchParams({ response_type: 'code', client_id: client.id, redirect_uri: CB,
      scope: 'openid', prompt: 'none', state, id_token_hint: idToken });
    requests = [
      { method: 'GET', url: authorize, route: '/oauth2/authorize' },
      { method: 'GET', url: `/unsubscribe/${unsubscribe}`, route: '/unsubscribe/:token' },
      { method: 'POST', url: `/unsubscribe/${unsubscribe}`, payload: 'List-Unsubscribe=One-Click', route: '/unsubscribe/:token' },
      { method: 'GET', url: `/device?user_code=${userCode}`, route: '/device' },
      { method: 'POST', url: '/device', payload: `user_code=${userCode}`, route: '/device' },
      { method: 'GET', url: `/oauth2/logout?id_token_hint=${idToken}`, route: '/oauth2/logout' },
      { method: 'GET', url: `/no/such/page/${unsubscribe}?user_code=${userCode}`, route: '(no route)' },
      { method: 'GET', url: `/api/no/such/${unsubscribe}`, route: '(no route)' },
    ];
  });
  after(() => alias?.close());

  async function run(level: string): Promise<{ lines: Record<string, unknown>[]; text: string }> {
    const out = new Lines();
    const app: FastifyInstance = await buildApp(alias.s, { logger: { level, stream: out } });
    await app.ready();
    for (const r of requests) {
      const res = await app.inject({ method: r.method, url: r.url, payload: r.payload,
        headers: r.payload ? { 'content-type': 'application/x-www-form-urlencoded' } : {} });
      assert.ok(res.statusCode < 500, `${r.method} ${r.route}: ${res.statusCode}`);
    }
    await app.close();
    return { lines: out.lines, text: out.text };
  }

  it('at the default level (info): no ID token, unsubscribe token, user_code or state; at most one line per request', async () => {
    const { lines, text } = await run('info');
    for (const secret of secrets) assert.ok(!text.includes(secret), `the log contains '${secret.slice(0, 40)}…'`);
    assert.ok(!text.includes('?'), 'no query string at all');
    assert.ok(lines.length <= requests.length, `${lines.length} lines for ${requests.length} requests`);
  });

  it('at debug: one line per request naming the route pattern, method, status and time, never the URL', async () => {
    const { lines, text } = await run('debug');
    for (const secret of secrets) assert.ok(!text.includes(secret), `the log contains '${secret.slice(0, 40)}…'`);
    const perRequest = lines.filter((l) => l.msg === 'request');
    assert.equal(perRequest.length, requests.length);
    perRequest.forEach((l, i) => {
      assert.equal(l.route, requests[i]!.route);
      assert.equal(l.method, requests[i]!.method);
      assert.equal(typeof l.status, 'number');
      assert.equal(typeof l.ms, 'number');
      assert.equal(l.url, undefined);
      assert.equal(l.req, undefined);
    });
  });
});
