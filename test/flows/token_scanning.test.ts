// Token scanning at introspection (RFC 7662 §4) and revocation (RFC 7009 §2.2): nothing
// about another client's token is given away, and misses (introspections answered
// `active: false`, revocations of unknown or foreign tokens) are counted per
// authenticated client, or per source address for public clients, until a 429. Over
// app.inject, on SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { POLICIES } from '../../src/throttle/throttle.js';
import { scanCounter } from '../../src/tokens/scanning.js';
import type { Client } from '../../src/store/types.js';
import { basic } from '../helpers/bad_input.js';

const FORM = 'application/x-www-form-urlencoded';
const unknownToken = () => `guess-${Math.random().toString(36).slice(2)}${'x'.repeat(30)}`;

for (const kind of databaseKinds()) {
  describe(`token scanning limits (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => {
      alias = await startAlias(kind, { listen: false });
    });
    after(() => alias?.close());

    interface Rs { client: Client; secret: string }
    async function confidential(): Promise<Rs> {
      const { client, secret } = await alias.client({ grantTypes: ['client_credentials'], redirectUris: [] });
      return { client, secret: secret! };
    }
    async function accessToken(c: Rs): Promise<string> {
      const res = await alias.app.inject({ method: 'POST', url: '/api/oauth2/token',
        headers: { authorization: basic(c.client.id, c.secret), 'content-type': FORM }, payload: 'grant_type=client_credentials' });
      assert.equal(res.statusCode, 200, res.body);
      return res.json().access_token;
    }
    const post = (url: string, c: Rs | { publicId: string }, fields: Record<string, string>, remoteAddress = '127.0.0.1') =>
      alias.app.inject({
        method: 'POST', url, remoteAddress,
        headers: { 'content-type': FORM, ...('client' in c ? { authorization: basic(c.client.id, c.secret) } : {}) },
        payload: new URLSearchParams({ ...fields, ...('publicId' in c ? { client_id: c.publicId } : {}) }).toString(),
      });
    const introspect = (c: Rs, token: string) => post('/api/oauth2/introspect', c, { token });
    const revoke = (c: Rs | { publicId: string }, token: string, remoteAddress?: string) =>
      post('/api/oauth2/revoke', c, { token }, remoteAddress);
    const misses = async (key: string) => (await alias.s.store.throttles.get(key))?.failures ?? 0;
    /** Puts a counter at its limit: the next miss is the first one over it. */
    const atLimit = (key: string, allowed: number, windowStart = alias.s.now()) =>
      alias.s.store.throttles.put({ key, failures: allowed, windowStart, blockedUntil: 0 });
    function assertThrottled(res: Awaited<ReturnType<typeof post>>, seconds: number) {
      assert.equal(res.statusCode, 429, res.body);
      assert.equal(res.headers['retry-after'], String(seconds));
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.match(String(res.headers['cache-control']), /no-store/);
      const body = res.json();
      assert.equal(body.error, 'too_many_requests');
      assert.equal(typeof body.error_description, 'string');
      assert.equal(body.active, undefined);
    }

    it("introspecting another client's live token answers exactly like an unknown token, and counts as the caller's miss", async () => {
      const [owner, other] = [await confidential(), await confidential()];
      const token = await accessToken(owner);
      const foreign = await introspect(other, token);
      const unknown = await introspect(other, unknownToken());
      for (const res of [foreign, unknown]) {
        assert.equal(res.statusCode, 200);
        assert.equal(res.body, '{"active":false}');
      }
      assert.equal(foreign.headers['content-type'], unknown.headers['content-type']);
      assert.equal(foreign.headers['content-length'], unknown.headers['content-length']);
      assert.equal(await misses(scanCounter(other.client, '').key), 2);
      // The owner still sees it, and the owner was charged nothing.
      assert.equal((await introspect(owner, token)).json().active, true);
      assert.equal(await misses(scanCounter(owner.client, '').key), 0);
    });

    it("revoking another client's token or an unknown one is the same silent 200, both counted; the token lives on", async () => {
      const [owner, other] = [await confidential(), await confidential()];
      const token = await accessToken(owner);
      const foreign = await revoke(other, token);
      const unknown = await revoke(other, unknownToken());
      for (const res of [foreign, unknown]) {
        assert.equal(res.statusCode, 200);
        assert.equal(res.body, '');
      }
      assert.equal(foreign.headers['content-type'], unknown.headers['content-type']);
      assert.equal(await misses(scanCounter(other.client, '').key), 2);
      assert.equal((await introspect(owner, token)).json().active, true);
    });

    it('hits never count: active introspections, and revoking own tokens (even twice)', async () => {
      const c = await confidential();
      const tokens = await Promise.all(Array.from({ length: 5 }, () => accessToken(c)));
      for (let i = 0; i < 4; i++) for (const t of tokens) assert.equal((await introspect(c, t)).json().active, true);
      for (const t of tokens) {
        assert.equal((await revoke(c, t)).statusCode, 200);
        assert.equal((await revoke(c, t)).statusCode, 200, 'an own, already revoked token');
      }
      assert.equal(await misses(scanCounter(c.client, '').key), 0);
    });

    it(`tolerates a busy resource server: 100 misses in a row are answered normally (limit ${POLICIES.scanClient.allowed} per 10 minutes)`, async () => {
      assert.ok(POLICIES.scanClient.allowed >= 1000 && POLICIES.scanSource.allowed >= 100, 'DESIGN: at least 100 per 10 minutes');
      const c = await confidential();
      for (let i = 0; i < 100; i++) {
        const res = i % 2 ? await introspect(c, unknownToken()) : await revoke(c, unknownToken());
        assert.equal(res.statusCode, 200, `miss ${i + 1}`);
      }
      assert.equal(await misses(scanCounter(c.client, '').key), 100);
    });

    it('over the limit: 429 + Retry-After on both endpoints, for hits too; other clients and the token endpoint go on; the block ends and doubles', async () => {
      const [c, other] = [await confidential(), await confidential()];
      const token = await accessToken(c);
      const key = scanCounter(c.client, '').key;
      await atLimit(key, POLICIES.scanClient.allowed);
      assert.equal((await introspect(c, unknownToken())).body, '{"active":false}', 'the miss that goes over is still answered');
      assertThrottled(await introspect(c, token), 1);
      assertThrottled(await revoke(c, token), 1);
      assertThrottled(await revoke(c, unknownToken()), 1);
      assert.equal(await misses(key), POLICIES.scanClient.allowed + 1, 'refused requests are not looked up, not counted');
      assert.equal((await introspect(other, token)).body, '{"active":false}', 'another client is not blocked');
      await accessToken(c); // The token endpoint does not share this counter.

      alias.advance(1_001);
      assert.equal((await introspect(c, token)).json().active, true, 'the block has ended');
      assert.equal((await introspect(c, unknownToken())).statusCode, 200);
      assertThrottled(await introspect(c, token), 2);
      alias.advance(2_001);
      assert.equal((await revoke(c, token)).statusCode, 200);
      assert.equal((await introspect(c, token)).body, '{"active":false}', 'revoked');
    });

    it('a new 10-minute window starts the count again', async () => {
      const c = await confidential();
      const key = scanCounter(c.client, '').key;
      await atLimit(key, POLICIES.scanClient.allowed, alias.s.now() - POLICIES.scanClient.windowMs - 1);
      assert.equal((await introspect(c, unknownToken())).statusCode, 200);
      assert.equal((await introspect(c, unknownToken())).statusCode, 200);
      assert.equal(await misses(key), 2);
    });

    it("a public client's revocation misses count per source address, never against its client_id", async () => {
      const { client } = await alias.client({ isPublic: true });
      const app = { publicId: client.id };
      const rs = await confidential();
      const sourceKey = scanCounter(client, '10.0.0.1').key;
      assert.notEqual(sourceKey, scanCounter(client, '10.0.0.2').key);
      assert.equal((await revoke(app, unknownToken(), '10.0.0.2')).statusCode, 200);
      assert.equal(await misses(scanCounter(client, '10.0.0.2').key), 1);
      await atLimit(sourceKey, POLICIES.scanSource.allowed);
      assert.equal((await revoke(app, unknownToken(), '10.0.0.1')).statusCode, 200);
      assertThrottled(await revoke(app, unknownToken(), '10.0.0.1'), 1);
      assert.equal((await revoke(app, unknownToken(), '10.0.0.2')).statusCode, 200, 'the same app from elsewhere');
      const token = await accessToken(rs);
      const fromBlocked = await post('/api/oauth2/revoke', rs, { token: unknownToken() }, '10.0.0.1');
      assert.equal(fromBlocked.statusCode, 200, 'a confidential client at the blocked address');
      assert.equal((await post('/api/oauth2/introspect', rs, { token }, '10.0.0.1')).json().active, true);
    });

    // Last: moves the clock by half an hour.
    it("introspecting the caller's own expired token is a miss too (tolerated by the generous limit)", async () => {
      const c = await confidential();
      const token = await accessToken(c);
      alias.advance(1801_000);
      assert.equal((await introspect(c, token)).body, '{"active":false}');
      assert.equal(await misses(scanCounter(c.client, '').key), 1);
    });
  });
}
