// Which errors mean "the database cannot answer right now" — worth a retry, not a bug.
// The HTTP error handler answers them 503 + Retry-After (RFC 6749 §4.1.2.1
// temporarily_unavailable), background workers back off on them, and commands name
// the database they could not reach. One list, for PostgreSQL (pg) and SQLite.

/** Seconds a client is asked to wait (Retry-After) while the database is unavailable. */
export const RETRY_AFTER_S = 5;

/** SQLSTATEs of PostgreSQL's own "not now" answers (PostgreSQL docs, Appendix A). */
function unavailableSqlState(code: string): boolean {
  return code.startsWith('08') // connection_exception: refused, lost, protocol failure
    || code === '57P01' // admin_shutdown: the server is stopping
    || code === '57P02' // crash_shutdown
    || code === '57P03' // cannot_connect_now: starting up or in recovery
    || code === '57P05' // idle_session_timeout
    || code === '57014' // query_canceled: our statement_timeout fired
    || code === '25P03' // idle_in_transaction_session_timeout
    || code.startsWith('53'); // insufficient_resources: too many connections, disk full, out of memory
}

/** Socket-level failures on the way to the database server. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH',
  'EHOSTDOWN', 'ENETDOWN', 'EAI_AGAIN', 'ENOTFOUND', 'ECONNABORTED']);

/**
 * SQLite result codes (with their extended forms, SQLITE_IOERR_WRITE…): a writer held the
 * file beyond busy_timeout, or the file or its disk failed.
 */
const SQLITE_PREFIXES = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_CANTOPEN', 'SQLITE_FULL', 'SQLITE_PROTOCOL'];

/** pg and pg-pool report a lost or never-made connection with these messages (no code). */
const PG_MESSAGES = [
  /^Connection terminated/, // the server or the network closed the socket (or the connect timed out)
  /timeout exceeded when trying to connect/, // pg-pool: no connection within connectionTimeoutMillis
  /^Query read timeout/, // pg: query_timeout
  /is not queryable/, // pg: a client whose connection already failed
];

function matchesOne(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (/^[0-9A-Z]{5}$/.test(code) && unavailableSqlState(code)) return true;
    if (NETWORK_CODES.has(code)) return true;
    if (SQLITE_PREFIXES.some((p) => code === p || code.startsWith(p + '_'))) return true;
  }
  return typeof message === 'string' && PG_MESSAGES.some((re) => re.test(message));
}

/** True when `err` (or its cause, or one of an AggregateError's errors) says the database is unavailable. */
export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (matchesOne(err)) return true;
  if (depth >= 3 || !err || typeof err !== 'object') return false;
  const { cause, errors } = err as { cause?: unknown; errors?: unknown };
  if (cause !== undefined && isDatabaseUnavailable(cause, depth + 1)) return true;
  return Array.isArray(errors) && errors.some((e) => isDatabaseUnavailable(e, depth + 1));
}

/** What to throw for `err` met on the way to the database at `location`: named if it is unreachable. */
export function namedIfUnreachable(location: string, err: unknown): unknown {
  return isDatabaseUnavailable(err) ? new DatabaseUnreachable(location, err) : err;
}

/** The database could not be reached when a command or the server started; names it. */
export class DatabaseUnreachable extends Error {
  constructor(readonly location: string, cause: unknown) {
    const reason = (cause as { message?: string } | null)?.message || (cause as { code?: string } | null)?.code || String(cause);
    super(`cannot reach the database ${location}: ${reason}`, { cause });
    this.name = 'DatabaseUnreachable';
  }
}
