import pg from 'pg';
import { openDatabase, migrate } from '../dist/store/db.js';
import { createSqlStore } from '../dist/store/sql/index.js';
const url = 'postgres://postgres@%2Fvar%2Frun%2Fpostgresql/test';
const admin = new pg.Client({ connectionString: url }); await admin.connect();
await admin.query('drop schema if exists mb cascade'); await admin.query('create schema mb');
const db = openDatabase(url, { schema: 'mb' }); await migrate(db);
const store = createSqlStore(db);
const N = 8000;
async function measure(label, fn) {
  for (let i = 0; i < 1000; i++) await Promise.all([fn(), fn()]);
  const c0 = process.cpuUsage();
  for (let i = 0; i < N / 2; i++) await Promise.all([fn(), fn()]);
  const c = process.cpuUsage(c0);
  console.log(label.padEnd(30), 'µs CPU/statement', ((c.user + c.system) / N).toFixed(1), 'sys', (c.system / N).toFixed(1));
}
const pool = new pg.Pool({ connectionString: url, max: 10, options: '-c search_path=mb' });
for (let r = 0; r < 2; r++) {
  await measure('store.users.getByEmail', () => store.users.getByEmail('nobody@example.com'));
  await measure('pool.query prepared', () => pool.query({ name: 'x', text: 'select * from users where email = $1', values: ['nobody@example.com'] }));
  const c = await pool.connect();
  await measure('client.query prepared (held)', () => c.query({ name: 'x', text: 'select * from users where email = $1', values: ['nobody@example.com'] }));
  c.release();
}
await pool.end(); await db.close(); await admin.query('drop schema mb cascade'); await admin.end();
