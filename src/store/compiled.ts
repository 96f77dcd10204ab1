// Kysely builds and compiles a query on every call. For the fixed-shape queries on the
// token paths that costs more CPU than SQLite takes to run them (bench/README.md), so
// those are built once per dialect with named placeholders, and only the values are
// bound per call. The placeholders are checked when the shape is compiled: a value
// that is not a placeholder, or a placeholder never bound, fails loudly, not silently.
import { CompiledQuery, createQueryId, type Compilable, type Kysely, type QueryResult, type RootOperationNode, type Transaction } from 'kysely';
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
  /** The query's node (immutable), shared by every call: Kysely's raw() builds and freezes a new one each time. */
  node: RootOperationNode;
}

/** Shapes by dialect, then by name: no key is built per call (a concatenated key is hashed anew each time). */
const shapes = new Map<DialectName, Map<string, Shape>>();

function compileShape(k: Kysely<Database> | Transaction<Database>, build: (k: Kysely<Database>) => Compilable): Shape {
  const compiled = build(k as Kysely<Database>).compile();
  const names = compiled.parameters.map((p) => {
    if (typeof p !== 'string' || !p.startsWith(MARK)) {
      throw new Error(`compiled query has a literal parameter; use param() for every value: ${compiled.sql}`);
    }
    return p.slice(MARK.length);
  });
  return { sql: compiled.sql, names, node: CompiledQuery.raw(compiled.sql).query };
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
  let ofDialect = shapes.get(dialect);
  if (!ofDialect) shapes.set(dialect, (ofDialect = new Map()));
  let shape = ofDialect.get(name);
  if (!shape) {
    shape = compileShape(k, build);
    ofDialect.set(name, shape);
    // PostgreSQL parses and plans a fixed shape once per connection (postgres/prepared.ts).
    if (dialect === 'postgres') registerPrepared(shape.sql);
  }
  const byName = args as Record<string, unknown>;
  const { names } = shape;
  const values = new Array<unknown>(names.length);
  for (let i = 0; i < names.length; i++) {
    const n = names[i]!;
    if (!(n in byName)) throw new Error(`query ${name}: no value for ${n}`);
    values[i] = byName[n];
  }
  // What CompiledQuery.raw(sql, values) makes, with the shape's node instead of a new one.
  return Object.freeze({ sql: shape.sql, query: shape.node, parameters: Object.freeze(values), queryId: createQueryId() });
}
