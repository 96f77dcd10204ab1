// The PostgreSQL connection pool, set up to fail fast and heal by itself when the
// database goes away: every request either gets an answer or an error within seconds
// (which the HTTP layer turns into 503 + Retry-After), a lost connection never crashes
// the process, and new connections are made as soon as the database is back.
import pg from 'pg';
import { isStalePlan, preparedName } from './prepared.js';
import { runPrepared } from './prepared_query.js';

/** A new connection that is not ready within this long fails (refused or silent network). */
export const CONNECT_TIMEOUT_MS = 5_000;
/** The server cancels any statement running longer (SQLSTATE 57014); ours take milliseconds. */
export const STATEMENT_TIMEOUT_MS = 10_000;
/**
 * The client gives up on an answer after this long: a network that silently drops
 * packets never closes the socket. Longer than the statement timeout, so a slow but
 * reachable server answers with its own error first.
 */
export const QUERY_TIMEOUT_MS = 15_000;
/** The server ends a session that holds a transaction open and idle (e.g. a hung node), freeing its locks. */
export const IDLE_IN_TRANSACTION_TIMEOUT_MS = 30_000;

export interface PgPoolOptions {
  max: number;
  schema?: string;
  /** Tests only: a shorter client-side query timeout. */
  queryTimeoutMs?: number;
}

export function createPgPool(connectionString: string, opts: PgPoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max: opts.max,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    query_timeout: opts.queryTimeoutMs ?? QUERY_TIMEOUT_MS,
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
    keepAlive: true,
    // Queries go out without waiting for the previous answer (node-postgres pipeline mode).
    // Kysely awaits each statement before it sends the next, so this changes one thing:
    // a transaction's BEGIN travels with its first statement (wrapQuery).
    pipeline: true,
    ...(opts.schema ? { options: `-c search_path=${opts.schema}` } : {}),
  } as pg.PoolConfig);
  // pg-pool forwards errors of idle clients here: without a listener, a server restart
  // or a dropped connection would be an unhandled 'error' event and end the process.
  // The pool has already discarded the client; the next query makes a new connection.
  pool.on('error', () => {});
  pool.on('connect', (client) => {
    // A client checked out of the pool has no pool listener: a connection lost while a
    // request holds it (between two queries of a transaction, or mid-query) is emitted
    // as 'error' on the client. The query in flight fails with the same error, and the
    // pool discards the client when it comes back, so nothing is left to do here.
    client.on('error', () => {});
    client.once('end', () => ended.add(client));
    wrapQuery(client);
  });
  return pool;
}

/** A BEGIN sent and not yet followed by a statement, per client (wrapQuery). */
const pendingBegin = new WeakMap<pg.PoolClient, Promise<unknown>>();

const BEGUN = Object.freeze({ command: 'BEGIN', rowCount: null, rows: [] as unknown[] });

/**
 * Three things around every query of a pooled client:
 * - A transaction's `begin` is sent and answered at once, without waiting for the server:
 *   the transaction's first statement follows it on the wire (pipeline mode), so a
 *   transaction costs one round trip less (issue 17 §3: a code exchange or a refresh was
 *   four round trips on PostgreSQL, BEGIN among them). The server runs them in order, and
 *   the first statement's answer is given only after BEGIN's: if BEGIN failed (the
 *   connection was lost), that statement fails with BEGIN's error.
 * - A registered hot query (prepared.ts) runs as a named prepared statement.
 * - pg's query_timeout fails the query but leaves the connection waiting for the answer
 *   that never came, and the pool would hand that connection out again (Kysely releases
 *   clients without an error). Closing the socket marks the client broken, so the pool
 *   drops it on release and later queries get a fresh connection; the error reaches the
 *   caller only once the client knows, so the release cannot race the close.
 */
function wrapQuery(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  const named = (args: unknown[]): unknown => {
    const name = typeof args[0] === 'string' && Array.isArray(args[1]) && args.length === 2 ? preparedName(args[0]) : undefined;
    if (!name) return query(...args);
    return runPrepared(query, name, args[0] as string, args[1] as unknown[])
      .catch((err: unknown) => {
        // Once more unnamed outside a transaction (status I, before and after the error).
        // Inside one (T before the error's ReadyForQuery has arrived, E after) the
        // transaction is aborted: it runs again as a whole (retry.ts), its statements
        // unnamed by then.
        if (isStalePlan(err, args[0] as string) && client.getTransactionStatus?.() === 'I') return query(...args);
        throw err;
      });
  };
  const timedOut = async (err: unknown): Promise<never> => {
    if ((err as Error | null)?.message === 'Query read timeout') await closeConnection(client);
    throw err;
  };
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    if (args[0] === 'begin' && Array.isArray(args[1]) && args[1].length === 0 && args.length === 2) {
      const begun = (query('begin') as Promise<unknown>).catch(timedOut);
      // Its outcome is the next statement's to report; unhandled it must not be.
      begun.catch(() => {});
      pendingBegin.set(client, begun);
      return Promise.resolve(BEGUN);
    }
    const begun = pendingBegin.get(client);
    pendingBegin.delete(client);
    const result = named(args);
    if (!result || typeof (result as Promise<unknown>).then !== 'function') return result; // a cursor or a callback
    const answered = (result as Promise<unknown>).catch(timedOut);
    if (!begun) return answered;
    answered.catch(() => {});
    return begun.then(() => answered);
  };
}

/** Clients whose connection has ended (the pool drops them when they come back). */
const ended = new WeakSet<pg.PoolClient>();

/**
 * Closes the client's socket, and resolves once the client knows it has ended. In pipeline
 * mode node-postgres destroys the socket of a timed-out query itself, before the error
 * arrives here: the wait for 'end' is needed all the same.
 */
function closeConnection(client: pg.PoolClient): Promise<void> {
  const stream = (client as unknown as { connection?: { stream?: { destroyed?: boolean; destroy(): void } } }).connection?.stream;
  if (!stream || ended.has(client)) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const fallback = setTimeout(resolve, 1_000);
    client.once('end', () => {
      clearTimeout(fallback);
      resolve();
    });
    if (!stream.destroyed) stream.destroy();
  });
}
