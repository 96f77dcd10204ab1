// Kysely builds and compiles a query on every call. For the fixed-shape queries on the
// token paths that costs more CPU than SQLite takes to run them (bench/README.md), so
// those are built once per dialect with named placeholders, and only the values are
// bound per call. The placeholders are checked when the shape is compiled: a value
// that is not a placeholder, or a placeholder never bound, fails loudly, not silently.
import { CompiledQuery, type Compilable, type Kysely, type QueryResult, type Transaction } from 'kysely';
import type { Database } from './schema.js';
import type { DialectName } from './dialect.js';
import { registerPrepared } from './postgres/prepared.js';

const MARK = '\u0000alias-param:';

/** A named placeholder for a value bound at run time. */
export function param<T = string>(name: string): T {
  return `${MARK}${name}` as unknown as T;
}

/** The same keys as `row`, each value the placeholder `prefix + key` (an INSERT's values). */
export function placeholders<T extends object>(row: T, prefix = ''): T {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(row)) out[key] = param(prefix + key);
  return out as T;
}

/** `row`'s values, each named `prefix + key`: the arguments of placeholders(row, prefix). */
export function prefixed(row: object, prefix: string, into: Record<string, unknown>): void {
  for (const [key, v] of Object.entries(row)) into[`${prefix}${key}`] = v;
}

interface Shape {
  sql: string;
  /** Placeholder name of each positional parameter, in order. */
  names: string[];
}

const shapes = new Map<string, Shape>();

function compileShape(k: Kysely<Database> | Transaction<Database>, build: (k: Kysely<Database>) => Compilable): Shape {
  const compiled = build(k as Kysely<Database>).compile();
  const names = compiled.parameters.map((p) => {
    if (typeof p !== 'string' || !p.startsWith(MARK)) {
      throw new Error(`compiled query has a literal parameter; use param() for every value: ${compiled.sql}`);
    }
    return p.slice(MARK.length);
  });
  return { sql: compiled.sql, names };
}

/** Values by placeholder name (a row object works as is). */
export type Args = object;

/**
 * Runs the query `name` (built by `build` the first time it is seen on this dialect)
 * with `args` bound to its placeholders.
 */
export function runShape<R>(k: Kysely<Database> | Transaction<Database>, dialect: DialectName, name: string,
  build: (k: Kysely<Database>) => Compilable, args: Args): Promise<QueryResult<R>> {
  return k.executeQuery<R>(shapeQuery(k, dialect, name, build, args));
}

/** The query `name` with `args` bound, compiled as runShape would run it (for a batch: sqlite/group_commit.ts). */
export function shapeQuery(k: Kysely<Database> | Transaction<Database>, dialect: DialectName, name: string,
  build: (k: Kysely<Database>) => Compilable, args: Args): CompiledQuery {
  const key = `${dialect}:${name}`;
  let shape = shapes.get(key);
  if (!shape) {
    shape = compileShape(k, build);
    shapes.set(key, shape);
    // PostgreSQL parses and plans a fixed shape once per connection (postgres/prepared.ts).
    if (dialect === 'postgres') registerPrepared(shape.sql);
  }
  const byName = args as Record<string, unknown>;
  const values = shape.names.map((n) => {
    if (!(n in byName)) throw new Error(`query ${name}: no value for ${n}`);
    return byName[n];
  });
  return CompiledQuery.raw(shape.sql, values);
}
