// The store contract (test/store/contract.ts) on every database: SQLite always,
// PostgreSQL too (skipped loudly when unreachable outside CI).
// No top-level await: Node 20's test runner ignores suites declared after one.
import { databaseKinds } from '../helpers/databases.js';
import { storeContract } from './contract.js';

for (const kind of databaseKinds()) storeContract(kind);
