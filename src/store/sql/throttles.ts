// ThrottleRepo: failure counters, read through the SQLite read cache.
import { sql, type Selectable } from 'kysely';
import type { ThrottlesTable } from '../schema.js';
import type { CounterPolicy, ThrottleRepo } from '../store.js';
import { param } from '../compiled.js';
import type { Sql } from './context.js';

const toThrottle = (r: Selectable<ThrottlesTable>) =>
  ({ key: r.key, failures: r.failures, windowStart: r.window_start, blockedUntil: r.blocked_until });

// Throttler.reserve's step (throttle/throttle.ts) in SQL, over the stored row (`throttles.*` in an
// upsert's SET is the row before the change, on SQLite and PostgreSQL alike). Every value
// is a bound placeholder cast to an integer type, so PostgreSQL never has to guess one.
const int = (name: string) => sql<number>`cast(${param(name)} as bigint)`;
const FRESH = sql<boolean>`(throttles.failures = 0 or ${int('t')} - throttles.window_start > ${int('window')})`;
const COUNTED = sql<number>`(case when ${FRESH} then 1 else throttles.failures + 1 end)`;
const OVER = sql<number>`(${COUNTED} - ${int('allowed')})`;
// min(base · 2^over, max) as base << over below `cap`, the first exponent that reaches max.
const BLOCKED_UNTIL = sql<number>`(case when ${OVER} < 0 then 0 when ${OVER} >= ${int('cap')} then ${int('t')} + ${int('max')}
  else ${int('t')} + (${int('base')} << cast(${OVER} as integer)) end)`;

/** The bound values of the reserve statement: the policy, and the row a first attempt inserts. */
function reserveArgs(key: string, t: number, p: CounterPolicy) {
  let cap = 0;
  while (cap < 30 && p.baseBlockMs * 2 ** cap < p.maxBlockMs) cap++;
  const block = (over: number) => (over < 0 ? 0 : t + Math.min(p.baseBlockMs * 2 ** Math.min(over, cap), p.maxBlockMs));
  return { key, t, window: p.windowMs, allowed: p.allowed, base: p.baseBlockMs, max: p.maxBlockMs, cap,
    first_blocked: block(1 - p.allowed) };
}

export function createThrottleRepo(s: Sql): ThrottleRepo {
  const { k, first, cachedRead, writing, dialect } = s;
  return {
    get(key) {
      return cachedRead(`throttle:${key}`, async () => {
        const r = await first<Selectable<ThrottlesTable>>('throttles.get',
          (b) => b.selectFrom('throttles').selectAll().where('key', '=', param('key')), { key });
        return r && toThrottle(r);
      });
    },
    lock: (key, now) => writing('throttle', async () => {
      await k.insertInto('throttles').values({ key, failures: 0, window_start: now, blocked_until: 0 })
        .onConflict((oc) => oc.column('key').doNothing()).execute();
      // SQLite transactions already run one at a time; PostgreSQL needs the row lock.
      const r = await dialect.forUpdate(k.selectFrom('throttles').selectAll().where('key', '=', key))
        .executeTakeFirstOrThrow();
      return toThrottle(r);
    }),
    // One statement: the row lock the upsert takes (PostgreSQL) or SQLite's single writer
    // makes the read-count-write atomic; a blocked key matches the WHERE and stays as it is.
    reserve: (key, t, policy) => writing('throttle', async () => {
      const r = await first<Selectable<ThrottlesTable>>('throttles.reserve', (b) => b.insertInto('throttles')
        .values({ key: param('key'), failures: sql<number>`1`, window_start: int('t'), blocked_until: int('first_blocked') })
        .onConflict((oc) => oc.column('key').doUpdateSet({
          failures: COUNTED,
          window_start: sql<number>`(case when ${FRESH} then ${int('t')} else throttles.window_start end)`,
          blocked_until: BLOCKED_UNTIL,
        }).where(sql<number>`throttles.blocked_until`, '<=', int('t')))
        .returningAll(), reserveArgs(key, t, policy));
      return r && toThrottle(r);
    }),
    // Throttler.reserve's release: one failure fewer, and no block once under the allowance.
    release: (key, policy) => writing('throttle', async () => {
      await s.run('throttles.release', (b) => b.updateTable('throttles').set({
        failures: sql<number>`(case when failures > 0 then failures - 1 else 0 end)`,
        blocked_until: sql<number>`(case when failures - 1 < ${int('allowed')} then 0 else blocked_until end)`,
      }).where('key', '=', param('key')), { key, allowed: policy.allowed });
    }),
    put: (t) => writing('throttle', async () => {
      const row = { key: t.key, failures: t.failures, window_start: t.windowStart, blocked_until: t.blockedUntil };
      await k.insertInto('throttles').values(row).onConflict((oc) => oc.column('key').doUpdateSet({
        failures: row.failures, window_start: row.window_start, blocked_until: row.blocked_until,
      })).execute();
    }),
    reset: (key) => writing('throttle', async () => {
      await s.run('throttles.reset', (b) => b.updateTable('throttles').set({ failures: sql<number>`0`, blocked_until: sql<number>`0` })
        .where('key', '=', param('key')), { key });
    }),
    delete: (key) => writing('throttle', async () => {
      await k.deleteFrom('throttles').where('key', '=', key).execute();
    }),
  };
}
