// The Redis the shared-counter tests use (ALIAS_TEST_REDIS, default 127.0.0.1:6379). When
// it is unreachable those tests are skipped loudly, except in CI (CI=true): a failure.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

export const REDIS_URL = process.env.ALIAS_TEST_REDIS ?? 'redis://127.0.0.1:6379';

// Synchronous (a child process), like the PostgreSQL check: Node 20's test runner ignores
// suites declared after a top-level await.
let checked: { why: string | undefined } | undefined;
export function redisSkip(): string | undefined {
  if (checked) return checked.why;
  const script = `const {Redis}=require('ioredis');const r=new Redis(process.argv[1],{lazyConnect:true,connectTimeout:3000,` +
    `maxRetriesPerRequest:0,retryStrategy:()=>null});r.on('error',()=>{});` +
    `r.connect().then(()=>r.ping()).then(()=>process.exit(0),(e)=>{console.error(e.message);process.exit(1)})`;
  const r = spawnSync(process.execPath, ['-e', script, REDIS_URL], { encoding: 'utf8', timeout: 10_000,
    cwd: fileURLToPath(new URL('../../', import.meta.url)) });
  let why: string | undefined;
  if (r.status !== 0) {
    why = `Redis at ${REDIS_URL} is unreachable (${(r.stderr || 'timeout').trim().split('\n').pop()})`;
    if (process.env.CI) throw new Error(`${why}; CI must run the Redis tests`);
    process.stderr.write(`\n!!! SKIPPING Redis tests: ${why}. Set ALIAS_TEST_REDIS or start redis-server.\n\n`);
  }
  checked = { why };
  return why;
}

/** A key prefix of this test's own, so tests never see each other's counters. */
export const uniquePrefix = () => `alias-test:${randomBytes(6).toString('hex')}:`;

/** A plain connection for looking at keys directly. */
export function inspector(): Redis {
  return new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
}

/** Deletes every key under `prefix`. */
export async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    if (keys.length) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}
