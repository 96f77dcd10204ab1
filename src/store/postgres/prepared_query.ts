// A registered hot query (prepared.ts) as node-postgres runs it, without two costs pg pays on
// every call of a named statement (bench/README.md, "What node-postgres does per statement"):
//
// - A query given as an object ({ name, text, values }) is copied property by property
//   through its descriptors (`cloneQueryConfig`): about 2 µs each time. Here the query is
//   made from its text, which pg takes as it is, and named afterwards.
// - Every answer's row description is turned into type parsers and an empty row object
//   again (`Result.addFields`): about 7 µs for a token row of 22 columns. A prepared
//   statement describes the same row every time on its connection (a changed row type
//   is refused with SQLSTATE 0A000, prepared.ts), so that work is done once per statement
//   and connection and reused while the description is the same, field by field.
//
// Both rest on members of pg's Query and Result that are not its public API. `SHARES_ROWS`
// checks them once at load; with a pg that differs, every query is pg's own unchanged.
// The parsers are those of a statement's first description on a connection: a type parser
// set later (`setTypeParser`) would not reach it there. The only one, for bigint, is set
// when postgres/dialect.ts loads, before any connection exists.
import pg from 'pg';

interface FieldDescription {
  name: string;
  dataTypeID: number;
  format?: string;
}

/** The members of pg's Result a described row sets (result.js addFields). */
interface PgResult {
  fields: FieldDescription[];
  _parsers?: unknown[];
  _prebuiltEmptyResultObject?: object;
  _types?: object;
  addFields(fields: FieldDescription[]): void;
}

interface PgQueryInternals {
  name?: string;
  callback?: unknown;
  _result: PgResult;
  _accumulateRows?: boolean;
  _checkForMultirow(): void;
  listeners(event: string): unknown[];
}

/** A statement's row as first described on one connection, with what pg made of it. */
interface RowShape {
  fields: FieldDescription[];
  parsers: unknown[];
  empty: object;
}

/** Per connection (its type parsers, one object per client), per statement name. */
const shapes = new WeakMap<object, Map<string, RowShape>>();
/** The key for a query that reaches its description without a client's parsers (pg sets them in Client.query). */
const NO_CLIENT = {};

type Answer = (err: Error | null, res: pg.QueryResult) => void;
const Query = pg.Query as unknown as new (text: string, values: unknown[], callback: Answer) => PgQueryInternals;

/** pg's Query and Result have the members this module uses and sets. */
export const SHARES_ROWS = ((): boolean => {
  try {
    const q = new Query('select 1', [], () => {});
    if (typeof q._checkForMultirow !== 'function' || typeof q._result?.addFields !== 'function') return false;
    q._result.addFields([{ name: 'a', dataTypeID: 25, format: 'text' }]);
    const r = q._result;
    return Array.isArray(r._parsers) && typeof r._parsers[0] === 'function' && typeof r._prebuiltEmptyResultObject === 'object' &&
      'a' in r._prebuiltEmptyResultObject! && r.fields.length === 1;
  } catch {
    return false;
  }
})();

function sameFields(a: FieldDescription[], b: FieldDescription[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.name !== y.name || x.dataTypeID !== y.dataTypeID || (x.format ?? 'text') !== (y.format ?? 'text')) return false;
  }
  return true;
}

class PreparedQuery extends Query {
  constructor(name: string, text: string, values: unknown[], callback: Answer) {
    super(text, values, callback);
    this.name = name;
  }

  // pg's handleRowDescription, with the row's parsers and empty object taken from the
  // statement's first description on this connection when the fields are the same.
  handleRowDescription(msg: { fields: FieldDescription[] }): void {
    this._checkForMultirow();
    const result = this._result;
    const types = result._types ?? NO_CLIENT;
    let byName = shapes.get(types);
    if (!byName) shapes.set(types, byName = new Map());
    const known = byName.get(this.name!);
    if (known && sameFields(known.fields, msg.fields)) {
      result.fields = msg.fields;
      result._parsers = known.parsers;
      result._prebuiltEmptyResultObject = known.empty;
    } else {
      result.addFields(msg.fields);
      byName.set(this.name!, { fields: msg.fields, parsers: result._parsers!, empty: result._prebuiltEmptyResultObject! });
    }
    this._accumulateRows = Boolean(this.callback) || !this.listeners('row').length;
  }
}

/**
 * Runs `text` as the named statement `name` through `query` (the client's own, unwrapped).
 * The answer and errors are pg's own, as its promise API gives them.
 */
export function runPrepared(query: (q: object) => unknown, name: string, text: string, values: unknown[]): Promise<pg.QueryResult> {
  if (!SHARES_ROWS) return query({ name, text, values }) as Promise<pg.QueryResult>;
  return new Promise<pg.QueryResult>((resolve, reject) => {
    query(new PreparedQuery(name, text, values, (err, res) => (err ? reject(err) : resolve(res))));
  }).catch((err: Error) => {
    // As pg's promise API does, in a rejection handler: the stack then carries the async
    // frames of the code that awaited the query, not only the socket's read.
    Error.captureStackTrace(err);
    throw err;
  });
}
