// A migrated test database with two store handles on it: this Alias node and another one
// (a second process or machine sharing the database). The store tests that check what one
// node sees of another's writes start from this.
import { openDatabase, migrate, type Db } from '../../src/store/db.js';
import { createSqlStore } from '../../src/store/sql/index.js';
import type { Store } from '../../src/store/store.js';
import type { DatabaseKind, TestDatabase } from './databases.js';

export interface TwoNodes {
  t: TestDatabase;
  db: Db;
  store: Store;
  db2: Db;
  node2: Store;
  /** Closes both handles, then removes the test database. */
  close(): Promise<void>;
}

/** `poolSize`: each handle's PostgreSQL pool (a test that races many writers needs more). */
export async function openTwoNodes(kind: DatabaseKind, opts: { poolSize?: number } = {}): Promise<TwoNodes> {
  const t = await kind.create();
  const opened: Db[] = [];
  const open = () => {
    const db = openDatabase(t.location, { schema: t.schema, ...(opts.poolSize ? { poolSize: opts.poolSize } : {}) });
    opened.push(db);
    return db;
  };
  const close = async () => {
    for (const db of opened.reverse()) await db.close();
    await t.cleanup();
  };
  try {
    const db = open();
    await migrate(db);
    const db2 = open();
    return { t, db, store: createSqlStore(db), db2, node2: createSqlStore(db2), close };
  } catch (err) {
    // Nothing is left behind when the set-up fails part way.
    await close();
    throw err;
  }
}
