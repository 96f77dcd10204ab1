// Result rows of a SQLite read, built in JavaScript. better-sqlite3 builds each row object
// in C++ through V8's API: every column name made a V8 string again and every property
// defined one by one through the runtime, about half of what a read of 20-odd columns costs
// (bench/README.md: "Rows built in JavaScript"). A statement in raw mode returns arrays of
// values instead, and the objects are built here from the statement's column names, read
// once; JavaScript's own property stores are inline-cached.
import type SQLite from 'better-sqlite3';

const columnsOf = new WeakMap<SQLite.Statement, readonly string[]>();

/**
 * Puts a reading statement in raw mode and remembers its column names. A statement that
 * returns no data is left as it is (raw mode is for readers only).
 */
export function prepareRows(statement: SQLite.Statement): SQLite.Statement {
  if (statement.reader && !columnsOf.has(statement)) {
    columnsOf.set(statement, statement.columns().map((c) => c.name));
    statement.raw(true);
  }
  return statement;
}

/**
 * The rows of a statement prepared by prepareRows, as objects keyed by column name, the
 * same objects better-sqlite3 makes: a later column of the same name wins.
 */
export function readRows<R>(statement: SQLite.Statement, parameters: unknown[]): R[] {
  let names = columnsOf.get(statement);
  if (!names) return statement.all(parameters) as R[];
  const raw = statement.all(parameters) as unknown[][];
  const rows = new Array<R>(raw.length);
  for (let r = 0; r < raw.length; r++) {
    const values = raw[r]!;
    // SQLite prepares a statement again after a schema change (another process's
    // migration adds a column under a running node): `select *` then has other columns.
    // Only the count is compared: a rename that keeps it keeps the names read first,
    // which are the ones this node's code knows (Alias's migrations only add columns).
    if (values.length !== names.length) {
      names = statement.columns().map((c) => c.name);
      columnsOf.set(statement, names);
    }
    const row: Record<string, unknown> = {};
    for (let i = 0; i < names.length; i++) row[names[i]!] = values[i];
    rows[r] = row as R;
  }
  return rows;
}
