// The Throttler contract (src/throttle/throttle.ts): the same behaviours from the database
// counters (SQLite, PostgreSQL) and the Redis counters, each seen from two instances that
// share their state, as two nodes do. Then what happens when Redis cannot be reached.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, Socket, type Server } from 'node:net';
import { Redis } from 'ioredis';
import { databaseKinds, type DatabaseKind, type TestDatabase } from '../helpers/databases.js';
import { REDIS_URL, dropPrefix, inspector, redisSkip, uniquePrefix } from '../helpers/redis.js';
import { migrate, openDatabase, type Db } from '../../src/store/db.js';
import { createSqlStore } from '../../src/store/sql/index.js';
import { createThrottler, held, reserveInOrder, type ThrottlePolicy, type Throttler } from '../../src/throttle/throttle.js';
import { connectRedis, createRedisThrottler, withFallback, type RedisConnection, type ThrottleLog } from '../../src/throttle/redis.js';

/** A clock the test moves by hand. */
interface Clock {
  now: () => number;
  advance(ms: number): void;
}
const makeClock = (): Clock => {
  let t = 1_800_000_000_000;
  return { now: () => t, advance: (ms) => { t += ms; } };
};

interface Nodes {
  /** Two throttlers over the same counters, as on two nodes. */
  a: Throttler;
  b: Throttler;
  close(): Promise<void>;
}
interface Implementation {
  name: string;
  skip?: string;
  open(clock: Clock): Promise<Nodes>;
}

function databaseImplementation(kind: DatabaseKind): Implementation {
  return {
    name: `database (${kind.name})`,
    skip: kind.skip,
    async open(clock) {
      const test: TestDatabase = await kind.create();
      const dbs: Db[] = [openDatabase(test.location, { schema: test.schema })];
      await migrate(dbs[0]!);
      // PostgreSQL: a second pool, as a second node has. SQLite: better-sqlite3 waits for
      // a lock synchronously, so two connections in one process would block each other;
      // one node runs its failures one at a time through one connection.
      if (kind.name === 'postgres') dbs.push(openDatabase(test.location, { schema: test.schema }));
      const [a, b] = [dbs[0]!, dbs[dbs.length - 1]!].map((db) => createThrottler(createSqlStore(db), clock.now));
      return {
        a: a!, b: b!,
        async close() {
          for (const db of dbs) await db.close();
          await test.cleanup();
        },
      };
    },
  };
}

const silent: ThrottleLog = () => {};

const redisImplementation: Implementation = {
  name: 'Redis',
  get skip() { return redisSkip(); },
  async open(clock) {
    const prefix = uniquePrefix();
    const conns = [await connectRedis(REDIS_URL, silent, prefix), await connectRedis(REDIS_URL, silent, prefix)];
    const [a, b] = conns.map((c) => createRedisThrottler(c.redis, { prefix, now: clock.now }));
    return {
      a: a!, b: b!,
      async close() {
        const r = inspector();
        await dropPrefix(r, prefix);
        await r.quit();
        for (const c of conns) await c.close();
      },
    };
  },
};

const policy: ThrottlePolicy = { allowed: 3, windowMs: 60_000, baseBlockMs: 1_000, maxBlockMs: 8_000 };
let keyCounter = 0;
const freshKey = () => `test:${++keyCounter}:${Math.random().toString(36).slice(2)}`;

function throttlerContract(impl: Implementation) {
  describe(`Throttler contract: ${impl.name}`, { skip: impl.skip }, () => {
    const clock = makeClock();
    let nodes: Nodes;
    before(async () => {
      nodes = await impl.open(clock);
    });
    after(() => nodes?.close());

    async function failTimes(t: Throttler, key: string, n: number, p = policy) {
      for (let i = 0; i < n; i++) await t.fail(key, p);
    }

    it('a key never failed is not blocked', async () => {
      assert.equal(await nodes.a.retryAfter(freshKey()), 0);
    });

    it('failures up to the allowance block nothing; the first one over blocks for the base time, then the block ends', async () => {
      const key = freshKey();
      await failTimes(nodes.a, key, policy.allowed);
      assert.equal(await nodes.a.retryAfter(key), 0);
      await nodes.b.fail(key, policy);
      assert.equal(await nodes.a.retryAfter(key), 1);
      assert.equal(await nodes.b.retryAfter(key), 1, 'the other node sees the block');
      clock.advance(999);
      assert.equal(await nodes.a.retryAfter(key), 1, 'rounded up to whole seconds');
      clock.advance(1);
      assert.equal(await nodes.a.retryAfter(key), 0, 'every block ends');
    });

    it('each further failure in the window doubles the block, up to the cap', async () => {
      const key = freshKey();
      await failTimes(nodes.a, key, policy.allowed + 1);
      const seen: number[] = [await nodes.a.retryAfter(key)];
      for (let i = 0; i < 5; i++) {
        clock.advance(seen[seen.length - 1]! * 1000);
        await (i % 2 ? nodes.a : nodes.b).fail(key, policy);
        seen.push(await nodes.a.retryAfter(key));
      }
      assert.deepEqual(seen, [1, 2, 4, 8, 8, 8]);
    });

    it('the window: a failure after it starts a new count; at exactly its end it still counts', async () => {
      const key = freshKey();
      await failTimes(nodes.a, key, policy.allowed);
      clock.advance(policy.windowMs);
      await nodes.b.fail(key, policy);
      assert.equal(await nodes.a.retryAfter(key), 1, 'still the same window');
      clock.advance(policy.windowMs + 1);
      await failTimes(nodes.b, key, policy.allowed);
      assert.equal(await nodes.a.retryAfter(key), 0, 'a new window, a new allowance');
      await nodes.a.fail(key, policy);
      assert.equal(await nodes.a.retryAfter(key), 1, 'back-off starts again from the base');
    });

    it('clear forgets the failures and ends a block, on every node', async () => {
      const key = freshKey();
      await failTimes(nodes.a, key, policy.allowed + 2);
      assert.equal(await nodes.b.retryAfter(key), 2);
      await nodes.b.clear(key);
      assert.equal(await nodes.a.retryAfter(key), 0);
      await failTimes(nodes.a, key, policy.allowed);
      assert.equal(await nodes.a.retryAfter(key), 0, 'a full allowance again');
      await nodes.b.clear(freshKey()); // Clearing a key that never failed is fine.
    });

    it('keys are independent', async () => {
      const [k1, k2] = [freshKey(), freshKey()];
      await failTimes(nodes.a, k1, policy.allowed + 1);
      assert.equal(await nodes.a.retryAfter(k1), 1);
      assert.equal(await nodes.a.retryAfter(k2), 0);
    });

    it('concurrent failures from two nodes are all counted', async () => {
      const key = freshKey();
      // No allowance and no cap: the block after N failures is 2^(N-1) s exactly, so one
      // lost failure would show.
      const strict: ThrottlePolicy = { allowed: 0, windowMs: 60_000, baseBlockMs: 1_000, maxBlockMs: 2 ** 40 };
      const n = 16;
      await Promise.all(Array.from({ length: n }, (_, i) => (i % 2 ? nodes.a : nodes.b).fail(key, strict)));
      assert.equal(await nodes.a.retryAfter(key), 2 ** (n - 1));
      assert.equal(await nodes.b.retryAfter(key), 2 ** (n - 1));
    });

    // Issue 16 item 1 (RFC 6749 §4.3.2, §10.10): an attempt is reserved before the check,
    // so a burst of parallel guesses gets no more checks than the allowance.
    it('reserve: 40 parallel reservations from two nodes: exactly the allowance goes through, the rest wait', async () => {
      const key = freshKey();
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? nodes.a : nodes.b).reserve(key, policy)));
      const ok = results.filter((r) => r.ok).length;
      assert.equal(ok, policy.allowed, `${ok} of 40 reservations went through`);
      for (const r of results) if (!r.ok) assert.equal(r.retryAfter, 1);
      assert.equal(await nodes.a.retryAfter(key), 1, 'the last free try starts the block');
      clock.advance(1_000);
      const next = await nodes.b.reserve(key, policy);
      assert.ok(next.ok, 'one try once the block ended');
      assert.equal(await nodes.a.retryAfter(key), 2, 'and the block doubles');
    });

    it('reserve: a released reservation is taken back; clear ends the count', async () => {
      const key = freshKey();
      for (let i = 0; i < policy.allowed - 1; i++) assert.ok((await nodes.a.reserve(key, policy)).ok);
      const last = await nodes.b.reserve(key, policy);
      assert.ok(last.ok);
      assert.equal(await nodes.a.retryAfter(key), 1, 'blocked while the last free try is out');
      await last.release();
      await last.release(); // Releasing twice takes back one attempt only.
      assert.equal(await nodes.a.retryAfter(key), 0, 'released: the try is free again');
      const again = await nodes.a.reserve(key, policy);
      assert.ok(again.ok);
      assert.equal(await nodes.a.retryAfter(key), 1, 'and used again');
      await nodes.b.clear(key);
      assert.equal(await nodes.a.retryAfter(key), 0);
      const r = await nodes.a.reserve(key, policy);
      assert.ok(r.ok);
      await r.release();
      assert.equal(await nodes.b.retryAfter(key), 0);
    });

    it('reserve: a refused reservation counts nothing (the block does not grow while it lasts)', async () => {
      const key = freshKey();
      for (let i = 0; i < policy.allowed; i++) await nodes.a.reserve(key, policy);
      for (let i = 0; i < 10; i++) assert.deepEqual(await nodes.b.reserve(key, policy), { ok: false, retryAfter: 1 });
      clock.advance(1_000);
      assert.ok((await nodes.a.reserve(key, policy)).ok);
      assert.equal(await nodes.a.retryAfter(key), 2);
    });

    it('reserve: each try after a block doubles it, up to the cap; a new window starts from the base; an allowance of one blocks at once', async () => {
      const key = freshKey();
      for (let i = 0; i < policy.allowed; i++) assert.ok((await (i % 2 ? nodes.a : nodes.b).reserve(key, policy)).ok);
      const seen: number[] = [await nodes.a.retryAfter(key)];
      for (let i = 0; i < 5; i++) {
        clock.advance(seen[seen.length - 1]! * 1000);
        assert.ok((await (i % 2 ? nodes.a : nodes.b).reserve(key, policy)).ok);
        seen.push(await nodes.a.retryAfter(key));
      }
      assert.deepEqual(seen, [1, 2, 4, 8, 8, 8]);
      clock.advance(policy.windowMs + 8_001);
      assert.ok((await nodes.b.reserve(key, policy)).ok);
      assert.equal(await nodes.a.retryAfter(key), 0, 'a new window, a new allowance');
      const one: ThrottlePolicy = { allowed: 1, windowMs: 60_000, baseBlockMs: 3_000, maxBlockMs: 60_000 };
      const single = freshKey();
      assert.ok((await nodes.a.reserve(single, one)).ok);
      assert.deepEqual(await nodes.b.reserve(single, one), { ok: false, retryAfter: 3 });
    });

    // A sign-in reserves on its account and its source together (src/accounts/users.ts).
    it('reserveAll: every counter counts, each by its own policy; release with clear resets those and takes the others back', async () => {
      const [k1, k2] = [freshKey(), freshKey()];
      const loose: ThrottlePolicy = { allowed: 100, windowMs: 60_000, baseBlockMs: 5_000, maxBlockMs: 60_000 };
      for (let i = 0; i < policy.allowed - 1; i++) assert.ok((await nodes.a.reserve(k1, policy)).ok);
      const both = await nodes.b.reserveAll([{ key: k1, policy }, { key: k2, policy: loose }]);
      assert.ok(both.ok);
      assert.equal(await nodes.a.retryAfter(k1), 1, 'the strict counter used its last free try (its own policy)');
      assert.equal(await nodes.a.retryAfter(k2), 0, 'the loose one is far from its allowance');
      await both.release({ clear: [k1] });
      await both.release({ clear: [k1] }); // Releasing twice changes nothing more.
      assert.equal(await nodes.a.retryAfter(k1), 0, 'cleared');
      for (let i = 0; i < policy.allowed - 1; i++) assert.ok((await nodes.a.reserve(k1, policy)).ok);
      assert.equal(await nodes.a.retryAfter(k1), 0, 'the clear forgot every failure, not one');
      // k2 was taken back: 99 more tries before its last free one.
      for (let i = 0; i < loose.allowed - 1; i++) assert.ok((await nodes.b.reserve(k2, loose)).ok);
      assert.equal(await nodes.a.retryAfter(k2), 0, 'the released attempt is free again');
      assert.ok((await nodes.a.reserve(k2, loose)).ok);
      assert.equal(await nodes.a.retryAfter(k2), 5, 'and the next one is the last free try');
    });

    it('reserveAll of no counters goes through and changes nothing', async () => {
      const r = await nodes.a.reserveAll([]);
      assert.ok(r.ok);
      await r.release({ clear: [] });
    });

    it('reserveAll: one counter blocked refuses all, counts nothing on the others, and gives the longest wait', async () => {
      const [free, blocked] = [freshKey(), freshKey()];
      const long: ThrottlePolicy = { allowed: 1, windowMs: 60_000, baseBlockMs: 4_000, maxBlockMs: 60_000 };
      assert.ok((await nodes.a.reserve(blocked, long)).ok);
      for (let i = 0; i < 5; i++) {
        assert.deepEqual(await (i % 2 ? nodes.a : nodes.b).reserveAll([{ key: free, policy }, { key: blocked, policy: long }]),
          { ok: false, retryAfter: 4 });
      }
      for (let i = 0; i < policy.allowed - 1; i++) assert.ok((await nodes.a.reserve(free, policy)).ok);
      assert.equal(await nodes.a.retryAfter(free), 0, 'the refused ones counted nothing on the free counter');
      clock.advance(4_000);
      const r = await nodes.b.reserveAll([{ key: blocked, policy: long }, { key: free, policy }]);
      assert.ok(r.ok, 'once the block ended');
    });

    it('reserveAll: parallel reservations over the same two counters, in both orders, from two nodes: exactly the allowance', async () => {
      // PostgreSQL: each is one statement locking two rows; opposite orders must not deadlock.
      const [k1, k2] = [freshKey(), freshKey()];
      const wide: ThrottlePolicy = { allowed: 1_000, windowMs: 60_000, baseBlockMs: 1_000, maxBlockMs: 8_000 };
      const results = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? nodes.a : nodes.b)
        .reserveAll(i % 3 ? [{ key: k1, policy }, { key: k2, policy: wide }] : [{ key: k2, policy: wide }, { key: k1, policy }])));
      assert.equal(results.filter((r) => r.ok).length, policy.allowed);
      // Releases and clears racing with reservations: every statement completes.
      const more = await Promise.all([
        ...results.filter((r) => r.ok).map((r, i) => (r.ok ? r.release(i % 2 ? { clear: [k1] } : {}) : undefined)),
        ...Array.from({ length: 10 }, (_, i) => (i % 2 ? nodes.b : nodes.a).reserveAll([{ key: k2, policy: wide }, { key: k1, policy }])),
      ]);
      assert.equal(more.length, policy.allowed + 10);
    });
  });
}

for (const kind of databaseKinds()) throttlerContract(databaseImplementation(kind));
throttlerContract(redisImplementation);

describe('Redis counters: keys', { skip: redisSkip() }, () => {
  const clock = makeClock();
  const prefix = uniquePrefix();
  let conn: RedisConnection;
  let r: Redis;
  let t: Throttler;
  before(async () => {
    conn = await connectRedis(REDIS_URL, silent, prefix);
    r = inspector();
    t = createRedisThrottler(conn.redis, { prefix, now: clock.now });
  });
  after(async () => {
    await dropPrefix(r, prefix);
    await r?.quit();
    await conn?.close();
  });

  it('live under the prefix, and only failures write: checking and clearing create nothing', async () => {
    await t.retryAfter('k-read');
    await t.clear('k-read');
    assert.equal(await r.exists(`${prefix}throttle:k-read`), 0);
    await t.fail('k-write', policy);
    assert.deepEqual(await r.keys(`${prefix}*`), [`${prefix}throttle:k-write`]);
  });

  it('expire by themselves once neither the window nor the block matters (PX)', async () => {
    await t.fail('k-window', policy);
    const ttl = await r.pttl(`${prefix}throttle:k-window`);
    assert.ok(ttl > policy.windowMs - 5_000 && ttl <= policy.windowMs + 1, `PTTL ${ttl} ≈ the window`);
    // A block longer than the window keeps the key until the block ends.
    const long: ThrottlePolicy = { allowed: 0, windowMs: 1_000, baseBlockMs: 120_000, maxBlockMs: 120_000 };
    await t.fail('k-block', long);
    const blockTtl = await r.pttl(`${prefix}throttle:k-block`);
    assert.ok(blockTtl > 100_000 && blockTtl <= 120_001, `PTTL ${blockTtl} ≈ the block`);
    // And a short one really goes.
    await t.fail('k-short', { allowed: 5, windowMs: 50, baseBlockMs: 1_000, maxBlockMs: 1_000 });
    assert.equal(await r.exists(`${prefix}throttle:k-short`), 1);
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(await r.exists(`${prefix}throttle:k-short`), 0);
  });

  it('the connection names the deployment, and close() ends it', async () => {
    const other = await connectRedis(REDIS_URL, silent, prefix + 'x:');
    const named = async () => (await r.client('LIST') as string).split('\n').filter((l) => l.includes(`name=alias-${prefix}x:`)).length;
    assert.equal(await named(), 1);
    await other.close();
    assert.equal(other.redis.status, 'end');
    assert.equal(await named(), 0);
  });
});

/** A TCP relay to Redis that the test can cut, as a network outage does. */
async function relayTo(target: URL, port = 0): Promise<{ port: number; cut(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((inbound) => {
    const outbound = new Socket();
    outbound.connect(Number(target.port || 6379), target.hostname);
    for (const s of [inbound, outbound]) {
      sockets.add(s);
      s.on('error', () => {});
      s.on('close', () => { sockets.delete(s); (s === inbound ? outbound : inbound).destroy(); });
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    cut: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}

describe('Redis unreachable: the database counts instead (fail safe)', { skip: redisSkip() }, () => {
  const clock = makeClock();
  const [kind] = databaseKinds();
  let test: TestDatabase;
  let db: Db;
  let dbThrottle: Throttler;
  before(async () => {
    test = await kind!.create();
    db = openDatabase(test.location, { schema: test.schema });
    await migrate(db);
    dbThrottle = createThrottler(createSqlStore(db), clock.now);
  });
  after(async () => {
    await db?.close();
    await test?.cleanup();
  });

  it('Redis down from the start: connecting does not hang, failures count in the database and still block', async () => {
    const logs: string[] = [];
    const log: ThrottleLog = (level, msg) => logs.push(`${level}: ${msg}`);
    const started = Date.now();
    const conn = await connectRedis('redis://127.0.0.1:1', log, uniquePrefix());
    try {
      assert.ok(Date.now() - started < 3_000, 'gives up waiting within 2 s');
      assert.match(logs.join('\n'), /warn: Redis is not reachable/);
      assert.equal(conn.connected, false);
      const t = withFallback(createRedisThrottler(conn.redis, { prefix: 'unused:', now: clock.now }), dbThrottle, log,
        { down: !conn.connected });
      const key = freshKey();
      const each = Date.now();
      for (let i = 0; i < policy.allowed + 1; i++) await t.fail(key, policy);
      assert.equal(await t.retryAfter(key), 1, 'blocked, from the database counters');
      assert.equal(await dbThrottle.retryAfter(key), 1);
      assert.ok(Date.now() - each < 2_000, 'no request waits for Redis');
      assert.equal(logs.filter((l) => /^warn:/.test(l)).length, 1, 'the outage is logged once, not per request');
      await t.clear(key);
      assert.equal(await dbThrottle.retryAfter(key), 0, 'clear reaches the database too');
    } finally {
      await conn.close();
    }
  });

  it('Redis lost at a request: that request and the next count in the database; once back, Redis counts again', async () => {
    const target = new URL(REDIS_URL);
    const prefix = uniquePrefix();
    const logs: string[] = [];
    const log: ThrottleLog = (level, msg) => logs.push(`${level}: ${msg}`);
    let relay = await relayTo(target);
    const conn = await connectRedis(`redis://127.0.0.1:${relay.port}`, log, prefix);
    const r = inspector();
    try {
      const t = withFallback(createRedisThrottler(conn.redis, { prefix, now: clock.now }), dbThrottle, log);
      const key = freshKey();
      await t.fail(key, policy);
      assert.equal(await r.hget(`${prefix}throttle:${key}`, 'f'), '1', 'counted in Redis');
      assert.equal(await db.kysely.selectFrom('throttles').select('key').where('key', '=', key).executeTakeFirst(), undefined);

      await relay.cut();
      const each = Date.now();
      for (let i = 0; i < policy.allowed + 1; i++) await t.fail(key, policy);
      assert.equal(await t.retryAfter(key), 1, 'the database blocks during the outage');
      assert.ok(Date.now() - each < 3_000, 'no request hangs on the lost connection');
      assert.equal(await r.hget(`${prefix}throttle:${key}`, 'f'), '1', 'Redis was not written meanwhile');
      assert.match(logs.join('\n'), /warn: Redis is unreachable/);

      relay = await relayTo(target, relay.port);
      const deadline = Date.now() + 15_000;
      while (conn.redis.status !== 'ready' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(conn.redis.status, 'ready', 'ioredis reconnected by itself');
      await t.fail(key, policy);
      assert.equal(await r.hget(`${prefix}throttle:${key}`, 'f'), '2', 'Redis counts again, from where it was');
      assert.match(logs.join('\n'), /info: Redis answers again/);
    } finally {
      await conn.close();
      await relay.cut();
      await dropPrefix(r, prefix);
      await r.quit();
    }
  });
});

// reserveInOrder is reserveAll for counters with no step over several keys (Redis). A store
// that fails part way (Redis lost between two keys) must not keep the keys it had counted:
// withFallback then counts all of them again on the database.
describe('reserveInOrder: a counter that fails part way', () => {
  const policy: ThrottlePolicy = { allowed: 5, windowMs: 60_000, baseBlockMs: 1_000, maxBlockMs: 10_000 };
  function failingAt(failKey: string, releaseFails = false) {
    const released: string[] = [];
    const lost = new Error('connection lost');
    const throttle = {
      async reserve(key: string) {
        if (key === failKey) throw lost;
        return held(async () => {
          released.push(key);
          if (releaseFails) throw new Error('release lost too');
        });
      },
    } as unknown as Throttler;
    return { throttle, released, lost };
  }

  it('takes back the attempts it had counted, then fails with the store\'s error', async () => {
    const { throttle, released, lost } = failingAt('c');
    const counters = ['a', 'b', 'c', 'd'].map((key) => ({ key, policy }));
    await assert.rejects(reserveInOrder(throttle, counters), (err) => err === lost);
    assert.deepEqual(released.sort(), ['a', 'b']);
  });

  it('still fails with the store\'s error when taking back fails too', async () => {
    const { throttle, released, lost } = failingAt('b', true);
    await assert.rejects(reserveInOrder(throttle, [{ key: 'a', policy }, { key: 'b', policy }]), (err) => err === lost);
    assert.deepEqual(released, ['a']);
  });
});
