// Nodes started together create exactly one key per algorithm (RS256, ES256): on an
// empty database, and on a database from before ES256 that has only its RSA key. Two
// keys of one algorithm, each usable at once, let one node sign with a key another node
// does not publish yet (its key list is cached for 2 s): its ID tokens fail verification
// against that node's JWKS. Found by test/e2e/two_nodes.test.ts; here with several store
// handles (several nodes) on PostgreSQL. Not on SQLite: it is one node's database, and
// its handles in one process block each other (better-sqlite3 waits synchronously).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds, TEST_SECRET } from '../helpers/databases.js';
import { migrate, openDatabase } from '../../src/store/db.js';
import { createSqlStore } from '../../src/store/sql/index.js';
import type { Store } from '../../src/store/store.js';
import { sql } from 'kysely';
import { createSecrets } from '../../src/crypto/secrets.js';
import { createKeyService } from '../../src/tokens/keys.js';
import { SIGNING_ALGS } from '../../src/oauth/signing_algs.js';

const NODES = 4;

/**
 * The store of one node whose transactions, before reading the key list, wait until every
 * node got that far (or 300 ms passed): without the lock in ensureKey all nodes would read
 * "no key" before any of them writes one, every time, instead of by chance.
 */
function racing(store: Store, arrive: () => Promise<void>): Store {
  // Object.create with own properties: the store's repositories are getters on its
  // prototype (store/sql/index.ts), which a spread would not copy.
  return Object.create(store, {
    transaction: { value: <T>(fn: (tx: Store) => Promise<T>) => store.transaction((tx) => fn(Object.create(tx, {
      keys: { value: { ...tx.keys, list: async () => {
        await arrive();
        return tx.keys.list();
      } } },
    }) as Store)) },
  }) as Store;
}

function barrier(n: number, timeoutMs = 300): () => Promise<void> {
  let arrived = 0;
  let open!: () => void;
  const all = new Promise<void>((resolve) => { open = resolve; });
  return async () => {
    if (++arrived >= n) open();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([all, new Promise((resolve) => { timer = setTimeout(resolve, timeoutMs); })]);
    clearTimeout(timer);
  };
}

/** Key services for every node, their connections made (so none starts late), meeting at the key list. */
async function nodes(dbs: ReturnType<typeof openDatabase>[]) {
  await Promise.all(dbs.map((db) => sql`select 1`.execute(db.kysely)));
  const arrive = barrier(dbs.length);
  return dbs.map((db) => createKeyService(racing(createSqlStore(db), arrive), createSecrets(TEST_SECRET), Date.now));
}

for (const kind of databaseKinds().filter((k) => k.name === 'postgres')) {
  describe(`the first signing keys (${kind.name})`, { skip: kind.skip }, () => {
    it(`${NODES} nodes starting at once on an empty database create one key per algorithm, and all sign with them`, async () => {
      // Several fresh databases: the race is won differently each time.
      for (let round = 0; round < 3; round++) {
        const t = await kind.create();
        const dbs = Array.from({ length: NODES }, () => openDatabase(t.location, { schema: t.schema }));
        try {
          await migrate(dbs[0]!);
          const services = await nodes(dbs);
          const created = await Promise.all(services.map((k) => k.ensureKey()));
          const creators = created.filter((algs) => algs.length > 0);
          assert.equal(creators.length, 1, `exactly one node created keys (round ${round}): ${JSON.stringify(created)}`);
          assert.deepEqual(creators[0], [...SIGNING_ALGS], 'that node created one key per algorithm');
          const keys = await createSqlStore(dbs[0]!).keys.list();
          assert.deepEqual(keys.map((k) => k.alg).sort(), [...SIGNING_ALGS].sort(), `one key per algorithm in the database (round ${round})`);
          for (const alg of SIGNING_ALGS) {
            const kids = await Promise.all(services.map(async (k) => (await k.signingKey(alg)).kid));
            assert.deepEqual(kids, kids.map(() => keys.find((k) => k.alg === alg)!.kid), `every node signs ${alg} with it`);
          }
        } finally {
          await Promise.all(dbs.map((db) => db.close()));
          await t.cleanup();
        }
      }
    });

    it(`${NODES} nodes restarting at once on a database with only an RSA key (before ES256) add one ES256 key`, async () => {
      for (let round = 0; round < 3; round++) {
        const t = await kind.create();
        const dbs = Array.from({ length: NODES }, () => openDatabase(t.location, { schema: t.schema }));
        try {
          await migrate(dbs[0]!);
          const store = createSqlStore(dbs[0]!);
          // The state the previous version left: its RSA key, and the row it claimed for it.
          await createKeyService(store, createSecrets(TEST_SECRET), Date.now).ensureKey();
          await dbs[0]!.kysely.deleteFrom('signing_keys').where('alg', '=', 'ES256').execute();
          const [rsa] = await store.keys.list();
          assert.equal(rsa?.alg, 'RS256');
          const services = await nodes(dbs);
          const created = await Promise.all(services.map((k) => k.ensureKey()));
          assert.deepEqual(created.filter((algs) => algs.length > 0), [['ES256']],
            `exactly one node created a key, an ES256 one (round ${round}): ${JSON.stringify(created)}`);
          const keys = await store.keys.list();
          assert.equal(keys.length, 2);
          assert.deepEqual(keys.find((k) => k.alg === 'RS256'), rsa, 'the RSA key is left as it was');
          const ec = keys.find((k) => k.alg === 'ES256')!;
          const kids = await Promise.all(services.map(async (k) => (await k.signingKey('ES256')).kid));
          assert.deepEqual(kids, kids.map(() => ec.kid), 'every node signs ES256 with it');
        } finally {
          await Promise.all(dbs.map((db) => db.close()));
          await t.cleanup();
        }
      }
    });
  });
}
