// The pieces of RFC 9449 / RFC 7523 support that have no state: DPoP nonces (§8) and the
// jwks_uri fetcher's limits (no redirects, a size cap, a cache, a cool-down on refetches).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createSecrets } from '../../src/crypto/secrets.js';
import { createDpopNonces, DPOP_NONCE_WINDOW_MS } from '../../src/crypto/dpop_nonce.js';
import { createJwksFetcher, JWKS_COOLDOWN_MS, JWKS_MAX_BYTES, JWKS_TTL_MS } from '../../src/clients/jwks_fetch.js';

describe('DPoP nonces (RFC 9449 §8)', () => {
  const secrets = createSecrets('a'.repeat(40));
  it('are valid on every node with the same secret, for their window and the next, and not after', () => {
    let t = 1_700_000_000_000;
    const a = createDpopNonces(secrets, () => t);
    const b = createDpopNonces(createSecrets('a'.repeat(40)), () => t);
    const n = a.current();
    assert.ok(b.valid(n), 'another node accepts it');
    assert.ok(!createDpopNonces(createSecrets('b'.repeat(40)), () => t).valid(n), 'another secret does not');
    t += DPOP_NONCE_WINDOW_MS;
    assert.ok(a.valid(n), 'the previous window is accepted');
    assert.notEqual(a.current(), n, 'rotated');
    t += DPOP_NONCE_WINDOW_MS;
    assert.ok(!a.valid(n), 'two windows back is not');
    for (const bad of ['', 'x', `${n}x`, n.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), 'zzzzzzzzzzzz.AAAAAAAAAAAAAAAAAAAAAA']) {
      assert.ok(!a.valid(bad), bad);
    }
  });
});

describe('jwks_uri fetcher', () => {
  let server: Server;
  let base: string;
  let hits = 0;
  before(async () => {
    server = createServer((req, res) => {
      hits++;
      if (req.url === '/redirect') { res.writeHead(302, { location: '/ok' }); return res.end(); }
      if (req.url === '/big') { res.setHeader('content-type', 'application/json'); return res.end(JSON.stringify({ keys: [{ x: 'a'.repeat(JWKS_MAX_BYTES) }] })); }
      if (req.url === '/chunked-big') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"keys":[{"x":"');
        for (let i = 0; i < 70; i++) res.write('a'.repeat(1024));
        return res.end('"}]}');
      }
      if (req.url === '/notjson') return res.end('<html>');
      if (req.url === '/nokeys') return res.end('{"keys": 1}');
      if (req.url === '/500') { res.writeHead(500); return res.end(); }
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: [{ kty: 'EC', kid: String(hits) }] }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(() => server.close());

  it('refuses redirects, oversized sets (declared or streamed), non-JSON, sets without keys and errors', async () => {
    const f = createJwksFetcher(() => 0);
    for (const path of ['/redirect', '/big', '/chunked-big', '/notjson', '/nokeys', '/500']) {
      await assert.rejects(f.get(base + path), { name: 'JwksFetchError' }, path);
    }
  });

  it('caches for the TTL; a refresh is honoured only after the cool-down', async () => {
    let t = 0;
    const f = createJwksFetcher(() => t);
    const first = await f.get(`${base}/ok`);
    const h = hits;
    assert.deepEqual(await f.get(`${base}/ok`), first);
    assert.deepEqual(await f.get(`${base}/ok`, { refresh: true }), first, 'within the cool-down: cached');
    assert.equal(hits, h);
    t += JWKS_COOLDOWN_MS;
    assert.notDeepEqual(await f.get(`${base}/ok`, { refresh: true }), first, 'after it: fetched again');
    assert.equal(hits, h + 1);
    t += JWKS_TTL_MS;
    await f.get(`${base}/ok`);
    assert.equal(hits, h + 2, 'stale after the TTL');
  });
});
