// SettingsRepo: small values shared by every node (and the lock rows that order them).
import type { SettingsRepo } from '../store.js';
import type { Sql } from './context.js';

export function createSettingsRepo(s: Sql): SettingsRepo {
  const { k } = s;
  return {
    async get(key) {
      const r = await k.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
      return r?.value;
    },
    async putIfAbsent(key, value) {
      await k.insertInto('settings').values({ key, value }).onConflict((oc) => oc.column('key').doNothing()).execute();
      const r = await k.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirstOrThrow();
      return r.value;
    },
    async lock(key, value) {
      // An upsert that changes nothing still takes the row lock (PostgreSQL) and the
      // write lock (SQLite) until the transaction ends; a concurrent one waits for it.
      await k.insertInto('settings').values({ key, value })
        .onConflict((oc) => oc.column('key').doUpdateSet({ value: (eb) => eb.ref('settings.value') })).execute();
    },
  };
}
