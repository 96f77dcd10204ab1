// Named prepared statements for the hot, fixed-shape queries (store/compiled.ts). Kysely's
// driver sends every query as an unnamed statement, which PostgreSQL parses, analyses and
// plans again each time: for the one-row lookups and inserts of the token paths that is
// most of the backend's work, and on a shared host the backend's CPU is the bottleneck
// (bench/README.md, "PostgreSQL's core"). A statement registered here is sent by name:
// node-postgres parses it once per connection and then only binds and executes it.
//
// Only the shapes compiled.ts builds are registered: a fixed text with every value a
// parameter, so the number of names is bounded by the code, never by input.

/** Statement names by SQL text. */
const names = new Map<string, string>();
/** Names are never reused: a connection refuses a known name with another text. */
let issued = 0;

/** Registers a fixed-shape query's text: from now on it runs as a named prepared statement. */
export function registerPrepared(text: string): void {
  if (!names.has(text)) names.set(text, `alias_${++issued}`);
}

/** The statement name for `text`, if it is registered. */
export function preparedName(text: string): string | undefined {
  return names.get(text);
}

/** PostgreSQL's refusal of a prepared statement whose result row type changed (SQLSTATE 0A000). */
export function isStalePlanError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  return e?.code === '0A000' && /cached plan/.test(e.message ?? '');
}

/**
 * A prepared `select *` stops working once a migration changes its table's columns ("cached
 * plan must not change result type", SQLSTATE 0A000): PostgreSQL re-plans a prepared
 * statement after a schema change but refuses a different row type. Another node's rolling
 * upgrade can do that under a running node. The text goes back to unnamed statements for
 * good. Outside a transaction the caller runs it once more unnamed; inside one the
 * transaction is aborted, and retry.ts runs the whole transaction again.
 */
export function isStalePlan(err: unknown, text: string): boolean {
  if (!isStalePlanError(err)) return false;
  names.delete(text);
  return true;
}
