// ThrottleRepo: failure counters, read through the SQLite read cache.
import type { Selectable } from 'kysely';
import type { ThrottlesTable } from '../schema.js';
import type { ThrottleRepo } from '../store.js';
import { param } from '../compiled.js';
import type { Sql } from './context.js';

export function createThrottleRepo(s: Sql): ThrottleRepo {
  const { k, first, cachedRead, writing, dialect } = s;
  return {
    get(key) {
      return cachedRead(`throttle:${key}`, async () => {
        const r = await first<Selectable<ThrottlesTable>>('throttles.get',
          (b) => b.selectFrom('throttles').selectAll().where('key', '=', param('key')), { key });
        return r && { key: r.key, failures: r.failures, windowStart: r.window_start, blockedUntil: r.blocked_until };
      });
    },
    lock: (key, now) => writing(async () => {
      await k.insertInto('throttles').values({ key, failures: 0, window_start: now, blocked_until: 0 })
        .onConflict((oc) => oc.column('key').doNothing()).execute();
      // SQLite transactions already run one at a time; PostgreSQL needs the row lock.
      const r = await dialect.forUpdate(k.selectFrom('throttles').selectAll().where('key', '=', key))
        .executeTakeFirstOrThrow();
      return { key: r.key, failures: r.failures, windowStart: r.window_start, blockedUntil: r.blocked_until };
    }),
    put: (t) => writing(async () => {
      const row = { key: t.key, failures: t.failures, window_start: t.windowStart, blocked_until: t.blockedUntil };
      await k.insertInto('throttles').values(row).onConflict((oc) => oc.column('key').doUpdateSet({
        failures: row.failures, window_start: row.window_start, blocked_until: row.blocked_until,
      })).execute();
    }),
    reset: (key) => writing(async () => {
      await k.updateTable('throttles').set({ failures: 0, blocked_until: 0 }).where('key', '=', key).execute();
    }),
    delete: (key) => writing(async () => {
      await k.deleteFrom('throttles').where('key', '=', key).execute();
    }),
  };
}
