// The PostgreSQL read cache (src/store/postgres/notified_cache.ts) against a real server: a
// cached answer is used only after a `select 1` barrier on the listening connection, but
// a key with no entry goes to the database at once, with no barrier (a barrier only ever
// empties entries, so it could not turn that miss into a hit): one round trip fewer for
// each read of a key just emptied. What a miss fills is still confirmed before use, and a
// change made by another node is seen at once (DESIGN: never a stale answer); such a change
// empties only its table's entries (migration 022).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { databaseKinds } from '../helpers/databases.js';
import { openTwoNodes, type TwoNodes } from '../helpers/two_nodes.js';
import type { Store } from '../../src/store/store.js';
import type { NotifiedCache } from '../../src/store/postgres/notified_cache.js';
import { newClient } from './contract.js';

const pgKind = databaseKinds().find((k) => k.name === 'postgres')!;
const NOW = Date.now();
const MINUTE = 60_000;

describe('PostgreSQL read cache: barriers', { skip: pgKind.skip }, () => {
  let nodes: TwoNodes | undefined;
  let store: Store;
  let node2: Store;
  let cache: NotifiedCache;
  before(async () => {
    nodes = await openTwoNodes(pgKind);
    ({ store, node2 } = nodes);
    cache = nodes.db.readCache as NotifiedCache;
  });
  after(async () => {
    await nodes?.close();
  });

  const key = () => `test:${randomBytes(6).toString('hex')}`;

  /** Reads `k` until an answer comes from the cache (the listener is up): a barrier was sent for it. */
  async function untilCached(k: string): Promise<void> {
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      const before = cache.stats.barriers;
      await store.throttles.get(k);
      if (cache.stats.barriers > before) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail('the cache never served an answer (listener not up?)');
  }

  it('a key with no entry is read at once, without a barrier; a cached one after exactly one', async () => {
    const cached = key();
    await node2.throttles.put({ key: cached, failures: 2, windowStart: NOW, blockedUntil: 0 });
    await untilCached(cached);

    const before = cache.stats.barriers;
    for (let i = 0; i < 5; i++) assert.equal(await store.throttles.get(key()), undefined);
    assert.equal(cache.stats.barriers, before, 'five keys never read before: five misses, no barrier');

    assert.equal((await store.throttles.get(cached))?.failures, 2);
    assert.equal(cache.stats.barriers, before + 1, 'a cached answer: one barrier before it is used');
  });

  it('another node\'s write empties only its table\'s entries: a counter change keeps the cached client, a client change drops it', async () => {
    // Migration 022: the notification names the table (channel alias_cache_table).
    const { id } = newClient();
    await node2.clients.insert(newClient({ id }));
    const counter = key();
    await node2.throttles.put({ key: counter, failures: 1, windowStart: NOW, blockedUntil: 0 });
    await untilCached(counter);
    assert.equal((await store.clients.get(id))?.id, id, 'read once: now cached');
    assert.equal(cache.lookup(`client:${id}`).hit, true);
    await node2.throttles.put({ key: counter, failures: 2, windowStart: NOW, blockedUntil: 0 });
    await cache.sync(); // Every notification committed before this has been handled.
    assert.equal(cache.lookup(`throttle:${counter}`).hit, false, 'the counter\'s entry is gone');
    assert.equal(cache.lookup(`client:${id}`).hit, true, 'the client\'s is not');
    assert.equal((await store.throttles.get(counter))?.failures, 2, 'the counter is read anew');
    await node2.clients.update({ ...(await node2.clients.get(id))!, name: 'renamed elsewhere' });
    await cache.sync();
    assert.equal(cache.lookup(`client:${id}`).hit, false, 'a client change empties the clients');
    assert.equal((await store.clients.get(id))?.name, 'renamed elsewhere', 'seen at once');
  });

  it('what a miss filled is confirmed before use: a change by another node is seen at once', async () => {
    const k = key();
    await node2.throttles.put({ key: k, failures: 1, windowStart: NOW, blockedUntil: 0 });
    await untilCached(k);
    // Emptied by the change (the other node's write notifies), then filled by a miss ...
    await node2.throttles.put({ key: k, failures: 3, windowStart: NOW, blockedUntil: NOW + MINUTE });
    assert.equal((await store.throttles.get(k))?.blockedUntil, NOW + MINUTE, 'changed elsewhere: seen at once');
    // ... and changed again right after: the filled entry must not be served.
    await node2.throttles.put({ key: k, failures: 4, windowStart: NOW, blockedUntil: NOW + 2 * MINUTE });
    assert.equal((await store.throttles.get(k))?.blockedUntil, NOW + 2 * MINUTE, 'changed again: seen at once');
    await node2.throttles.delete(k);
    assert.equal(await store.throttles.get(k), undefined, 'deleted elsewhere: gone at once');
  });
});
