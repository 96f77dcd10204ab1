// Nodes started together on an empty database create exactly one first signing key.
// Two keys, each usable at once, let one node sign with a key another node does not
// publish yet (its key list is cached for 2 s): its ID tokens fail verification against
// that node's JWKS. Found by test/e2e/two_nodes.test.ts; here with several store handles
// (several nodes) on PostgreSQL. Not on SQLite: it is one node's database, and its
// handles in one process block each other (better-sqlite3 waits synchronously).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { databaseKinds, TEST_SECRET } from '../helpers/databases.js';
import { migrate, openDatabase } from '../../src/store/db.js';
import { createSqlStore } from '../../src/store/sql_store.js';
import { createSecrets } from '../../src/security/secrets.js';
import { createKeyService } from '../../src/tokens/keys.js';

const NODES = 4;

for (const kind of databaseKinds().filter((k) => k.name === 'postgres')) {
  describe(`the first signing key (${kind.name})`, { skip: kind.skip }, () => {
    it(`${NODES} nodes starting at once on an empty database create one key, and all sign with it`, async () => {
      // Several fresh databases: the race is won differently each time.
      for (let round = 0; round < 3; round++) {
        const t = await kind.create();
        const dbs = Array.from({ length: NODES }, () => openDatabase(t.location, { schema: t.schema }));
        try {
          await migrate(dbs[0]!);
          const services = dbs.map((db) => createKeyService(createSqlStore(db), createSecrets(TEST_SECRET), Date.now));
          const created = await Promise.all(services.map((k) => k.ensureKey()));
          assert.equal(created.filter(Boolean).length, 1, `exactly one node created the key (round ${round}): ${created}`);
          const keys = await createSqlStore(dbs[0]!).keys.list();
          assert.equal(keys.length, 1, `one key in the database (round ${round})`);
          const kids = await Promise.all(services.map(async (k) => (await k.signingKey()).kid));
          assert.deepEqual(kids, kids.map(() => keys[0]!.kid), 'every node signs with it');
        } finally {
          await Promise.all(dbs.map((db) => db.close()));
          await t.cleanup();
        }
      }
    });
  });
}
