// ThrottleRepo: failure counters, read through the SQLite read cache.
import { sql, type RawBuilder, type Selectable } from 'kysely';
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

/** A policy's value in a statement over `n` counters: the row's own, chosen by its key when there are several. */
type PolicyValue = (name: 'window' | 'allowed' | 'base' | 'max' | 'cap') => RawBuilder<number>;
function policyValue(n: number): PolicyValue {
  if (n === 1) return (name) => int(`${name}0`);
  return (name) => sql<number>`(case throttles.key ${sql.join(Array.from({ length: n },
    (_, i) => sql`when ${param(`key${i}`)} then ${int(`${name}${i}`)}`), sql` `)} end)`;
}

/** The reserve step's new values (failures, window start, block) for the counters' policies. */
function reserveStep(p: PolicyValue) {
  const fresh = sql<boolean>`(throttles.failures = 0 or ${int('t')} - throttles.window_start > ${p('window')})`;
  const counted = sql<number>`(case when ${fresh} then 1 else throttles.failures + 1 end)`;
  const over = sql<number>`(${counted} - ${p('allowed')})`;
  return {
    failures: counted,
    window_start: sql<number>`(case when ${fresh} then ${int('t')} else throttles.window_start end)`,
    // min(base · 2^over, max) as base << over below `cap`, the first exponent that reaches max.
    blocked_until: sql<number>`(case when ${over} < 0 then 0 when ${over} >= ${p('cap')} then ${int('t')} + ${p('max')}
      else ${int('t')} + (${p('base')} << cast(${over} as integer)) end)`,
  };
}

/** The bound values of the reserve statement for counter `i`: its policy, and the row a first attempt inserts. */
function reserveArgs(i: number, key: string, t: number, p: CounterPolicy, into: Record<string, unknown>) {
  let cap = 0;
  while (cap < 30 && p.baseBlockMs * 2 ** cap < p.maxBlockMs) cap++;
  const block = (over: number) => (over < 0 ? 0 : t + Math.min(p.baseBlockMs * 2 ** Math.min(over, cap), p.maxBlockMs));
  Object.assign(into, { [`key${i}`]: key, [`window${i}`]: p.windowMs, [`allowed${i}`]: p.allowed, [`base${i}`]: p.baseBlockMs,
    [`max${i}`]: p.maxBlockMs, [`cap${i}`]: cap, [`first_blocked${i}`]: block(1 - p.allowed) });
}

/** Release's new values (one failure fewer, no block once under the allowance); cleared counters get 0 and 0. */
function releaseStep(released: number, cleared: number) {
  if (released === 0) return { failures: sql<number>`0`, blocked_until: sql<number>`0` };
  const p = policyValue(released);
  const isReleased = sql<boolean>`throttles.key in (${sql.join(Array.from({ length: released }, (_, i) => param(`key${i}`)))})`;
  const failures = sql<number>`(case when failures > 0 then failures - 1 else 0 end)`;
  const blocked = sql<number>`(case when failures - 1 < ${p('allowed')} then 0 else blocked_until end)`;
  if (cleared === 0) return { failures, blocked_until: blocked };
  return {
    failures: sql<number>`(case when ${isReleased} then ${failures} else 0 end)`,
    blocked_until: sql<number>`(case when ${isReleased} then ${blocked} else 0 end)`,
  };
}

export function createThrottleRepo(s: Sql): ThrottleRepo {
  const { k, first, cachedRead, writing, dialect } = s;

  /**
   * Every counter's reserve step in one statement (a multi-row upsert). PostgreSQL locks
   * the rows in the order of the VALUES: sorted by key, as settle() locks them, so two
   * statements over the same counters never wait for each other in a cycle (a deadlock).
   */
  const reserveMany = (counters: readonly { key: string; policy: CounterPolicy }[], t: number) => writing('throttle', async () => {
    const sorted = [...counters].sort((x, y) => (x.key < y.key ? -1 : x.key > y.key ? 1 : 0));
    const n = sorted.length;
    const args: Record<string, unknown> = { t };
    sorted.forEach((c, i) => reserveArgs(i, c.key, t, c.policy, args));
    const r = await s.run<Selectable<ThrottlesTable>>(`throttles.reserve:${n}`, (b) => b.insertInto('throttles')
      .values(Array.from({ length: n }, (_, i) => ({
        key: param(`key${i}`), failures: sql<number>`1`, window_start: int('t'), blocked_until: int(`first_blocked${i}`),
      })))
      .onConflict((oc) => oc.column('key').doUpdateSet(reserveStep(policyValue(n)))
        .where(sql<number>`throttles.blocked_until`, '<=', int('t')))
      .returningAll(), args);
    const counted = new Map(r.rows.map((row) => [row.key, toThrottle(row)]));
    return counters.map((c) => counted.get(c.key));
  });

  /**
   * Takes one attempt back on each of `release` and clears each of `clear`, in one
   * statement. Several rows are locked in key order first (PostgreSQL), as reserveMany
   * locks them; SQLite's single writer needs no lock.
   */
  const settle = (release: readonly { key: string; policy: CounterPolicy }[], clear: readonly string[]) => writing('throttle', async () => {
    const n = release.length;
    const keys = [...release.map((c) => c.key), ...clear];
    if (!keys.length) return;
    const args: Record<string, unknown> = {};
    release.forEach((c, i) => Object.assign(args, { [`key${i}`]: c.key, [`allowed${i}`]: c.policy.allowed }));
    clear.forEach((key, i) => { args[`clear${i}`] = key; });
    const all = keys.map((_, i) => param(i < n ? `key${i}` : `clear${i - n}`));
    await s.run(`throttles.settle:${n}:${clear.length}`, (b) => {
      const q = b.updateTable('throttles').set(releaseStep(n, clear.length));
      return keys.length === 1 ? q.where('key', '=', all[0]!)
        : q.where('key', 'in', dialect.forUpdate(b.selectFrom('throttles').select('key').where('key', 'in', all).orderBy('key')));
    }, args);
  });

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
    reserveMany,
    reset: (key) => settle([], [key]),
    settle,
    put: (t) => writing('throttle', async () => {
      const row = { key: t.key, failures: t.failures, window_start: t.windowStart, blocked_until: t.blockedUntil };
      await k.insertInto('throttles').values(row).onConflict((oc) => oc.column('key').doUpdateSet({
        failures: row.failures, window_start: row.window_start, blocked_until: row.blocked_until,
      })).execute();
    }),
    delete: (key) => writing('throttle', async () => {
      await k.deleteFrom('throttles').where('key', '=', key).execute();
    }),
  };
}
