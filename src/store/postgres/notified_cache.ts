// The read cache of the rows every token request reads (the client, its failure counters)
// on PostgreSQL, kept valid across nodes by LISTEN/NOTIFY: each of those reads is a round
// trip, and on PostgreSQL one round trip costs about as much as a whole request of the
// in-memory peer (bench/README.md). Migration 022 makes every statement that changes
// `clients` or `throttles` (from any node, CLI or tool) notify channel `alias_cache_table`
// with its schema and table when it commits; each node's listener empties that table's
// entries on that notification (021's channel, `alias_cache`, names no table: it is kept
// for nodes of the previous release during a rolling upgrade).
// It never serves a stale or negative answer after a change (DESIGN):
// - Before a cached answer is used, a `select 1` on the listening connection that was sent
//   after the read began has come back (sync()). PostgreSQL hands a listener every
//   notification it has pending before it answers a query's ReadyForQuery, so any change
//   committed before the read began has emptied the cache by then. One such query serves
//   every read waiting at that moment (one round trip for many requests, none of their CPU).
//   A key with no entry needs none (sql/context.ts): a barrier only ever removes entries,
//   so the read goes to the database at once, and what it fills is confirmed by the
//   barrier of whichever later read finds it.
// - This node's own writes empty the written table's entries before and after the
//   statement (sql/context.ts); a notification empties the entries of the table it names.
// - A read that overlapped a change to its table does not fill the cache (generation check).
// - Without a live listener (not connected yet, connection lost, migration 022 not applied)
//   nothing is served from the cache and nothing fills it: every read goes to the database.
// - No entry is served after MAX_AGE_MS, whatever happens.
import pg from 'pg';
import { ScopedEntries, type ReadCache } from '../sqlite/read_cache.js';
import { CONNECT_TIMEOUT_MS } from './pool.js';

export const CACHE_CHANNEL = 'alias_cache_table';
/** The cache scope (sql/context.ts `writing`) of each table a notification may name. */
const SCOPES: Record<string, string> = { clients: 'client', throttles: 'throttle' };
/** The longest an entry is served, whatever the listener says (ms). */
export const MAX_AGE_MS = 5_000;
/** The longest a `select 1` barrier may take before the listener counts as lost (ms). */
const BARRIER_TIMEOUT_MS = CONNECT_TIMEOUT_MS;
/** How soon a lost or refused listener connection is tried again (ms). */
const RETRY_MS = 1_000;

export interface NotifiedCacheStats {
  /** `select 1` barriers sent on the listening connection. */
  barriers: number;
}

export interface NotifiedCache extends ReadCache {
  readonly stats: NotifiedCacheStats;
  /**
   * Resolves once the listener has seen every change committed before the call (a round
   * trip on its connection, shared by every caller waiting at that moment). Call when
   * lookup() found an entry, then look the key up again before using it (sql/context.ts);
   * without a live listener it resolves at once and lookup() misses.
   */
  sync(): Promise<void>;
  close(): Promise<void>;
}

interface Entry {
  value: unknown;
  at: number;
}

export function createNotifiedCache(connectionString: string, schema: string | undefined): NotifiedCache {
  const entries = new ScopedEntries<Entry>();
  let live = false;
  let closed = false;
  let started = false;
  let client: pg.Client | undefined;
  let retry: NodeJS.Timeout | undefined;
  /** Callers waiting for the next barrier, and whether one is in flight. */
  let waiting: (() => void)[] = [];
  let inFlight = false;
  let scheduled = false;
  const stats: NotifiedCacheStats = { barriers: 0 };

  function barrier(c: pg.Client): void {
    inFlight = true;
    stats.barriers++;
    const batch = waiting;
    waiting = [];
    const done = (ok: boolean) => {
      inFlight = false;
      if (!ok) down(c);
      for (const w of batch) w();
      // Callers that came while this one was in flight need one sent after they came.
      if (waiting.length) {
        if (live && client) barrier(client);
        else flush();
      }
    };
    c.query('select 1').then(() => done(true), () => done(false));
  }

  function flush(): void {
    const batch = waiting;
    waiting = [];
    for (const w of batch) w();
  }

  /** This node's own write to `scope` (sql/context.ts), or anything: a notification, the listener lost. */
  function changed(scope?: string): void {
    entries.clear(scope);
  }

  function down(c: pg.Client): void {
    if (client !== c) return;
    client = undefined;
    live = false;
    changed();
    if (!inFlight) flush();
    c.end().catch(() => {});
    if (!closed) {
      retry = setTimeout(listen, RETRY_MS);
      retry.unref();
    }
  }

  async function listen(): Promise<void> {
    retry = undefined;
    if (closed) return;
    const c = new pg.Client({
      connectionString, keepAlive: true, connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      // A barrier that does not come back (a silent network) takes the listener down, and
      // the reads waiting on it go to the database, within this long.
      query_timeout: BARRIER_TIMEOUT_MS,
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    });
    client = c;
    c.on('error', () => down(c));
    c.on('end', () => down(c));
    try {
      await c.connect();
      await c.query(`LISTEN ${CACHE_CHANNEL}`);
      // The notifications name the schema and the table whose rows changed (tests and the
      // bench share one database, each in its own schema); and without migration 022's
      // triggers there is nothing to listen to, so the cache stays off.
      const r = await c.query<{ s: string; n: string }>(
        `select current_schema() as s, count(*)::text as n from pg_trigger
         where tgname in ('clients_cache_notify_table', 'throttles_cache_notify_table')
           and tgrelid in (to_regclass('clients'), to_regclass('throttles'))`);
      const ours = r.rows[0]?.s;
      if (r.rows[0]?.n !== '2') throw new Error('migration 022 not applied');
      const scopes = new Map(Object.entries(SCOPES).map(([table, scope]) => [`${ours}/${table}`, scope]));
      c.on('notification', (msg) => {
        const scope = msg.channel === CACHE_CHANNEL && msg.payload !== undefined ? scopes.get(msg.payload) : undefined;
        if (scope) changed(scope);
      });
      if (client !== c || closed) return;
      // Anything cached before the listener was up is unknown: start from empty.
      changed();
      live = true;
    } catch {
      down(c);
    }
  }

  /** The listener starts with the first use of the cache (admin commands never read through it). */
  function start(): void {
    if (started) return;
    started = true;
    void listen();
  }

  return {
    stats,
    sync() {
      start();
      if (!live || !client) return Promise.resolve();
      return new Promise<void>((resolve) => {
        waiting.push(resolve);
        if (inFlight || scheduled) return;
        // Sent after the current synchronous run, so the reads it starts together (a
        // request's failure counters) share one barrier.
        scheduled = true;
        queueMicrotask(() => {
          scheduled = false;
          if (inFlight || !waiting.length) return;
          if (live && client) barrier(client);
          else flush();
        });
      });
    },
    lookup<T>(key: string) {
      start();
      const miss = { hit: false as const, fill: () => {} };
      if (!live) return miss;
      const e = entries.get(key);
      const t = performance.now();
      if (e && t - e.at < MAX_AGE_MS) return { hit: true as const, value: e.value as T | undefined };
      const gen = entries.generation(key);
      return {
        hit: false as const,
        fill(value: T | undefined) {
          // Only if nothing changed (here or, as far as the listener knows, elsewhere) since the read began.
          if (!live || gen !== entries.generation(key)) return;
          entries.set(key, { value, at: t });
        },
      };
    },
    changed,
    async close() {
      closed = true;
      live = false;
      if (retry) clearTimeout(retry);
      const c = client;
      client = undefined;
      entries.clear();
      flush();
      if (c) await c.end().catch(() => {});
    },
  };
}
