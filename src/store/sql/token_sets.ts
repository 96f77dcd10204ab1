// TokenSetRepo: the rows of one token response (access token, refresh token, the rotated
// token's link to them, the grant's last use, the audit event) stored together. On
// PostgreSQL they are one statement of data-modifying CTEs, so a code exchange or a refresh
// pays one round trip for its writes instead of one per row (issue 17 §3); SQLite runs the
// repositories' own statements one after another in the caller's transaction (its
// statements cost no round trip).
//
// Sets stored on their own (a client_credentials token and its event: no transaction
// around them) are also grouped across requests, as many as arrive in one event-loop turn:
// - PostgreSQL: one statement at the end of the turn, so 20 concurrent requests pay one
//   round trip, one bind and one WAL flush between them instead of 20 (issue 17 §3).
// - SQLite: a batch of the group commit (sqlite/group_commit.ts `batch`): one multi-row
//   INSERT per table inside the turn's group, instead of a transaction (a savepoint, two
//   statements and its release) per request.
// Each request still answers only once its rows are committed. If the grouped statement
// fails, each set is stored again on its own, so one bad row (a client deleted meanwhile)
// fails its own request only.
import type { Compilable, Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { TokenSet, TokenSetRepo } from '../store.js';
import type { Db } from '../db.js';
import type { BatchKind } from '../sqlite/group_commit.js';
import { param, placeholders, prefixed, shapeQuery } from '../compiled.js';
import { accessRow } from './access_tokens.js';
import { refreshRow } from './refresh_tokens.js';
import { auditRow } from './audit.js';
import type { Sql } from './context.js';

/** Most sets in one grouped statement (each distinct count is one prepared statement). */
export const MAX_GROUPED_SETS = 32;

/** Counters for tests and diagnostics: grouped statements, and the sets they stored. */
export interface TokenSetGroupStats {
  /** Grouped writes of two sets or more (one statement on PostgreSQL, one per table on SQLite). */
  statements: number;
  sets: number;
  /** Grouped writes that failed, whose sets were then stored one by one. */
  fallbacks: number;
}

interface Pending {
  set: TokenSet;
  resolve(): void;
  reject(err: unknown): void;
}

/** Per database handle: the sets of every store on it share the turn's grouped write. */
interface Grouping {
  stats: TokenSetGroupStats;
  /** PostgreSQL: the sets waiting for the end of the turn. */
  queue: Pending[];
  scheduled: boolean;
  /** SQLite: the group commit's batch kind for these sets. */
  kind?: BatchKind<TokenSet>;
}

const groupings = new WeakMap<Db, Grouping>();

function groupingOf(handle: Db): Grouping {
  let g = groupings.get(handle);
  if (!g) groupings.set(handle, g = { stats: { statements: 0, sets: 0, fallbacks: 0 }, queue: [], scheduled: false });
  return g;
}

/** How the handle's standalone token sets were grouped (undefined before the first one). */
export function tokenSetGroupStats(handle: Db): TokenSetGroupStats | undefined {
  return groupings.get(handle)?.stats;
}

/** Counts a grouped write of `n` sets (one alone is not a group), or one that failed as a whole. */
function counted(st: TokenSetGroupStats, n: number, fellBack: boolean): void {
  if (fellBack) st.fallbacks++;
  else if (n > 1) {
    st.statements++;
    st.sets += n;
  }
}

/** A set that may wait for the turn's grouped statement: on its own, an access token and its event. */
const groupable = (s: Sql, set: TokenSet) => !s.inTx && !set.refresh && !set.rotated && !set.touch && set.event !== undefined;

/** The access-token rows and event rows of groupable sets, with their arguments (`a{i}_…`, `e{i}_…`). */
function groupRows(sets: readonly TokenSet[]) {
  const args: Record<string, unknown> = {};
  const access = sets.map((set, i) => {
    const row = accessRow(set.access);
    prefixed(row, `a${i}_`, args);
    return placeholders(row, `a${i}_`);
  });
  const events = sets.map((set, i) => {
    const row = auditRow(set.event!);
    prefixed(row, `e${i}_`, args);
    return placeholders(row, `e${i}_`);
  });
  return { args, access, events };
}

/** SQLite: groupable sets as a batch of the group commit, one INSERT per table. */
function sqliteBatch(handle: Db): BatchKind<TokenSet> {
  const g = groupingOf(handle);
  const k = handle.kysely;
  return g.kind ??= {
    max: MAX_GROUPED_SETS,
    statements(sets) {
      const { args, access, events } = groupRows(sets);
      return [
        shapeQuery(k, 'sqlite', `tokenSets.access:${sets.length}`, (b) => b.insertInto('access_tokens').values(access), args),
        shapeQuery(k, 'sqlite', `tokenSets.events:${sets.length}`, (b) => b.insertInto('audit_events').values(events), args),
      ];
    },
    tried: (n, fellBack) => counted(g.stats, n, fellBack),
  };
}

export function createTokenSetRepo(s: Sql): TokenSetRepo {
  const { dialect, transaction } = s;
  return {
    async insert(set) {
      if (!dialect.writableCte) {
        if (s.handle.batch && groupable(s, set)) return s.handle.batch(sqliteBatch(s.handle), set);
        // SQLite: each repository's own statement, one after another, atomic together in a
        // transaction (the caller's, when it has one: then `tx` is the caller's store).
        return transaction(async (tx) => {
          await tx.accessTokens.insert(set.access);
          if (set.refresh) await tx.refreshTokens.insert(set.refresh);
          if (set.rotated) await tx.refreshTokens.link(set.rotated.digest, set.rotated.next);
          if (set.touch) await tx.grants.touch(set.touch.grantId, set.touch.at);
          if (set.event) await tx.audit.append(set.event);
        });
      }
      if (!groupable(s, set)) return insertOne(s, set);
      const grouper = groupingOf(s.handle);
      return new Promise<void>((resolve, reject) => {
        grouper.queue.push({ set, resolve, reject });
        if (grouper.scheduled) return;
        grouper.scheduled = true;
        // After this turn's I/O callbacks: every request of the turn has queued its set.
        setImmediate(() => {
          grouper.scheduled = false;
          const queue = grouper.queue;
          grouper.queue = [];
          for (let i = 0; i < queue.length; i += MAX_GROUPED_SETS) void flush(s, grouper.stats, queue.slice(i, i + MAX_GROUPED_SETS));
        });
      });
    },
  };
}

async function flush(s: Sql, st: TokenSetGroupStats, group: Pending[]): Promise<void> {
  if (group.length === 1) {
    const [p] = group as [Pending];
    return insertOne(s, p.set).then(p.resolve, p.reject);
  }
  try {
    await insertGroup(s, group.map((p) => p.set));
    counted(st, group.length, false);
    for (const p of group) p.resolve();
  } catch {
    // All or none of a statement's rows are stored: none were. Each set on its own, so
    // only a bad one fails (and with its own error).
    counted(st, group.length, true);
    await Promise.all(group.map((p) => insertOne(s, p.set).then(p.resolve, p.reject)));
  }
}

/**
 * PostgreSQL: the rows of one set in one statement. Each CTE changes a different row (the
 * rotated token is not the new one), and every data-modifying CTE runs to completion
 * whether or not the main statement reads it (PostgreSQL docs §7.8.4).
 */
async function insertOne(s: Sql, set: TokenSet): Promise<void> {
  const access = accessRow(set.access);
  const refresh = set.refresh && refreshRow(set.refresh);
  const event = set.event && auditRow(set.event);
  const args: Record<string, unknown> = {};
  prefixed(access, 'a_', args);
  if (refresh) prefixed(refresh, 'r_', args);
  if (set.rotated) Object.assign(args, { l_digest: set.rotated.digest, l_refresh: set.rotated.next.refresh, l_access: set.rotated.next.access });
  if (set.touch) Object.assign(args, { g_id: set.touch.grantId, g_at: set.touch.at });
  if (event) prefixed(event, 'e_', args);
  const shape = `tokenSets.insert:${refresh ? 'r' : ''}${set.rotated ? 'l' : ''}${set.touch ? 'g' : ''}${event ? 'e' : ''}`;
  await s.run(shape, (b: Kysely<Database>): Compilable => {
    let q = b.with('a', (w) => w.insertInto('access_tokens').values(placeholders(access, 'a_')));
    if (refresh) q = q.with('r', (w) => w.insertInto('refresh_tokens').values(placeholders(refresh, 'r_'))) as unknown as typeof q;
    if (set.rotated) {
      q = q.with('l', (w) => w.updateTable('refresh_tokens')
        .set({ next_digest: param<string>('l_refresh'), next_access_digest: param<string>('l_access') })
        .where('digest', '=', param('l_digest'))) as unknown as typeof q;
    }
    if (set.touch) {
      q = q.with('g', (w) => w.updateTable('grants').set({ last_used_at: param<number>('g_at') })
        .where('id', '=', param('g_id'))) as unknown as typeof q;
    }
    return event ? q.insertInto('audit_events').values(placeholders(event, 'e_'))
      : q.selectNoFrom((eb) => eb.lit(1).as('one'));
  }, args);
}

/** PostgreSQL: the access tokens and events of several groupable sets, one multi-row statement. */
async function insertGroup(s: Sql, sets: TokenSet[]): Promise<void> {
  const { args, access, events } = groupRows(sets);
  await s.run(`tokenSets.group:${sets.length}`, (b: Kysely<Database>): Compilable =>
    b.with('a', (w) => w.insertInto('access_tokens').values(access)).insertInto('audit_events').values(events), args);
}
