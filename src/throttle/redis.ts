// Failure counters in Redis (ALIAS_REDIS_URL), shared by every node, with the semantics of
// the database's counters (src/throttle/throttle.ts): a window, exponential back-off from
// the first failure over the allowance, a cap, clear. Only failures are ever written.
import { Redis } from 'ioredis';
import { held, reserveInOrder, type Reservation, type ThrottlePolicy, type Throttler } from './throttle.js';

/**
 * One failure, atomically: Redis runs a script alone, so failures arriving at once from
 * any number of nodes are all counted. The same arithmetic as createThrottler's `fail`.
 * The key expires by itself once neither its window nor its block matters any more, so
 * Redis never fills up with counters. Times are the caller's clock (the nodes' clocks, as
 * with the database counters), passed in; numbers are formatted as integers because
 * Lua 5.1 would print large ones in exponent notation.
 */
const FAIL_LUA = `
local t = tonumber(ARGV[1])
local allowed = tonumber(ARGV[2])
local windowMs = tonumber(ARGV[3])
local baseMs = tonumber(ARGV[4])
local maxMs = tonumber(ARGV[5])
local cur = redis.call('HMGET', KEYS[1], 'f', 'w')
local failures = tonumber(cur[1]) or 0
local windowStart = tonumber(cur[2]) or t
if failures == 0 or t - windowStart > windowMs then
  failures = 1
  windowStart = t
else
  failures = failures + 1
end
local over = failures - allowed
local blockedUntil = 0
if over > 0 then
  blockedUntil = t + math.min(baseMs * 2 ^ math.min(over - 1, 30), maxMs)
end
local function int(n) return string.format('%.0f', n) end
redis.call('HSET', KEYS[1], 'f', int(failures), 'w', int(windowStart), 'b', int(blockedUntil))
redis.call('PEXPIRE', KEYS[1], int(math.max(windowStart + windowMs, blockedUntil) - t + 1))
return int(blockedUntil)
`;

/**
 * One reservation, atomically (createThrottler's `reserve`, the same step as the database's): refused while
 * blocked (returns {0, blockedUntil}); otherwise the attempt is counted and the block
 * starts with the attempt that uses the last free try (returns {1, blockedUntil}).
 */
const RESERVE_LUA = `
local t = tonumber(ARGV[1])
local allowed = tonumber(ARGV[2])
local windowMs = tonumber(ARGV[3])
local baseMs = tonumber(ARGV[4])
local maxMs = tonumber(ARGV[5])
local function int(n) return string.format('%.0f', n) end
local cur = redis.call('HMGET', KEYS[1], 'f', 'w', 'b')
local failures = tonumber(cur[1]) or 0
local windowStart = tonumber(cur[2]) or t
local blocked = tonumber(cur[3]) or 0
if blocked > t then return {0, int(blocked)} end
if failures == 0 or t - windowStart > windowMs then
  failures = 1
  windowStart = t
else
  failures = failures + 1
end
local over = failures - allowed
local blockedUntil = 0
if over >= 0 then
  blockedUntil = t + math.min(baseMs * 2 ^ math.min(over, 30), maxMs)
end
redis.call('HSET', KEYS[1], 'f', int(failures), 'w', int(windowStart), 'b', int(blockedUntil))
redis.call('PEXPIRE', KEYS[1], int(math.max(windowStart + windowMs, blockedUntil) - t + 1))
return {1, int(blockedUntil)}
`;

/** Takes one reserved attempt back (as the database's release); the key goes once nothing is counted. */
const RELEASE_LUA = `
local allowed = tonumber(ARGV[1])
local cur = redis.call('HMGET', KEYS[1], 'f', 'b')
if not cur[1] then return 0 end
local failures = math.max(0, tonumber(cur[1]) - 1)
if failures == 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
local blocked = cur[2]
if failures < allowed then blocked = '0' end
redis.call('HSET', KEYS[1], 'f', string.format('%.0f', failures), 'b', blocked)
return failures
`;

type ScriptedRedis = Redis & {
  aliasThrottleReserve(key: string, now: number, allowed: number, windowMs: number, baseMs: number, maxMs: number): Promise<[number, string]>;
  aliasThrottleRelease(key: string, allowed: number): Promise<number>;
  aliasThrottleFail(key: string, now: number, allowed: number, windowMs: number, baseMs: number, maxMs: number): Promise<string>;
};

export function createRedisThrottler(redis: Redis, opts: { prefix: string; now: () => number }): Throttler {
  // ioredis sends EVALSHA and falls back to EVAL when Redis does not know the script yet.
  redis.defineCommand('aliasThrottleFail', { numberOfKeys: 1, lua: FAIL_LUA });
  redis.defineCommand('aliasThrottleReserve', { numberOfKeys: 1, lua: RESERVE_LUA });
  redis.defineCommand('aliasThrottleRelease', { numberOfKeys: 1, lua: RELEASE_LUA });
  const scripted = redis as ScriptedRedis;
  const keyOf = (key: string) => `${opts.prefix}throttle:${key}`;
  const throttler: Throttler = {
    async retryAfter(key) {
      const blockedUntil = await redis.hget(keyOf(key), 'b');
      const wait = blockedUntil === null ? 0 : Number(blockedUntil) - opts.now();
      return wait > 0 ? Math.ceil(wait / 1000) : 0;
    },
    async fail(key, policy: ThrottlePolicy) {
      await scripted.aliasThrottleFail(keyOf(key), opts.now(), policy.allowed, policy.windowMs, policy.baseBlockMs, policy.maxBlockMs);
    },
    async clear(key) {
      await redis.del(keyOf(key));
    },
    async reserve(key, policy: ThrottlePolicy): Promise<Reservation> {
      const t = opts.now();
      const [ok, blockedUntil] = await scripted.aliasThrottleReserve(keyOf(key), t, policy.allowed, policy.windowMs,
        policy.baseBlockMs, policy.maxBlockMs);
      if (!ok) return { ok: false, retryAfter: Math.max(1, Math.ceil((Number(blockedUntil) - t) / 1000)) };
      return held(async (opts) => {
        if (opts?.clear?.includes(key)) await redis.del(keyOf(key));
        else await scripted.aliasThrottleRelease(keyOf(key), policy.allowed);
      });
    },
    // One script per key, in order (a key may live on another shard of a Redis cluster).
    reserveAll: (counters) => reserveInOrder(throttler, counters),
  };
  return throttler;
}

export type ThrottleLog = (level: 'warn' | 'info', msg: string, fields?: Record<string, unknown>) => void;

/**
 * Fail safe when Redis cannot be reached: each operation that Redis does not answer is
 * done on the database's counters instead (shared by every node too), so limits keep
 * holding during an outage rather than switching off, and no request waits for Redis or
 * fails because of it. Counts do not move between the two: an outage starts the database
 * counts from zero, and Redis's counts (those that have not expired) apply again once it
 * answers. Each change of state is logged once, not every request.
 */
export function withFallback(primary: Throttler, fallback: Throttler, log: ThrottleLog, opts: { down?: boolean } = {}): Throttler {
  let down = opts.down ?? false;
  async function attempt<T>(op: (t: Throttler) => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await op(primary);
    } catch (err) {
      if (!down) log('warn', 'Redis is unreachable: counting failures in the database until it answers again', { err: String(err) });
      down = true;
      return op(fallback);
    }
    if (down) log('info', 'Redis answers again: counting failures there');
    down = false;
    return result;
  }
  return {
    retryAfter: (key) => attempt((t) => t.retryAfter(key)),
    fail: (key, policy) => attempt((t) => t.fail(key, policy)),
    clear: (key) => attempt((t) => t.clear(key)),
    reserve: (key, policy) => reserved((t) => t.reserve(key, policy)),
    reserveAll: (counters) => reserved((t) => t.reserveAll(counters)),
  };

  /** A reservation whose release goes to the counters that took it (if they answer). */
  async function reserved(op: (t: Throttler) => Promise<Reservation>): Promise<Reservation> {
    let from: Throttler = primary;
    const r = await attempt((t) => { from = t; return op(t); });
    if (!r.ok) return r;
    return { ok: true, release: (opts) => r.release(opts).catch((err) => { if (from === fallback) throw err; }) };
  }
}

export interface RedisConnection {
  redis: Redis;
  /** Whether the first connection was made (false: an outage was already logged). */
  connected: boolean;
  close(): Promise<void>;
}

/** `redis://user:password@host` → `redis://host`, for logs. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return 'redis://…';
  }
}

/**
 * Connects without ever holding a request: commands fail at once while disconnected (no
 * offline queue, no retries) and after 500 ms without an answer, so the fallback takes
 * over; ioredis keeps reconnecting in the background. Waits at most 2 s for the first
 * connection, and says so when Redis is not there.
 */
export async function connectRedis(url: string, log: ThrottleLog, prefix: string): Promise<RedisConnection> {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    commandTimeout: 500,
    connectTimeout: 2_000,
    // CLIENT LIST names the deployment.
    connectionName: `alias-${prefix}`,
  });
  // Every failed reconnection emits 'error'; the fallback reports outages instead.
  redis.on('error', () => {});
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => done(false), 2_000);
    const onReady = () => done(true);
    const onError = () => done(false);
    function done(ok: boolean) {
      clearTimeout(timer);
      redis.off('ready', onReady);
      redis.off('error', onError);
      resolve(ok);
    }
    redis.once('ready', onReady);
    redis.once('error', onError);
  });
  if (!ready) {
    log('warn', 'Redis is not reachable yet: counting failures in the database until it answers', { redis: redactRedisUrl(url) });
  }
  return {
    redis,
    connected: ready,
    /** Ends the connection (QUIT when it is up, so replies in flight arrive first). */
    async close() {
      if (redis.status === 'end') return;
      const ended = new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 2_000);
        redis.once('end', () => { clearTimeout(timer); resolve(); });
      });
      if (redis.status === 'ready') await redis.quit().catch(() => redis.disconnect());
      else redis.disconnect();
      await ended;
    },
  };
}
