// Group commit for the embedded SQLite store.
//
// On SQLite a write transaction's cost is dominated by its COMMIT: the WAL frames of every
// page it dirtied (bench/README.md: 107–125 µs of a 340 µs client-credentials request;
// checkpoints run on a worker thread, checkpointer.ts). Concurrent requests touch the same few pages (the
// tail of the token table and its indexes), so committing them together writes those
// pages once. This Kysely driver runs every transaction ("unit") as a SAVEPOINT inside one
// shared `BEGIN IMMEDIATE … COMMIT` ("group"):
//
// - The first unit to begin opens the group and schedules its commit for the end of the
//   current event-loop turn (setImmediate): every unit that starts before then joins it.
// - A unit that succeeds releases its savepoint and the connection, then waits for the
//   group's COMMIT: `transaction()` returns only once its writes are committed, exactly as
//   before. A unit that fails rolls back to its savepoint; the others are unaffected.
// - If the group itself fails (COMMIT fails, or an error made SQLite roll the whole
//   transaction back), every unit waiting on it fails with that error: none of them was
//   answered, and none of their writes is kept.
// - A statement outside any transaction that writes joins the open group as a unit of its
//   own and returns once that group is committed; with no group open it commits on its own
//   at once (autocommit), which for a lone write costs less than a group of one. Either
//   way a plain write is committed when it returns. (It used to commit the open group
//   first: a round trip's authorization code cut short the group of the concurrent code
//   exchanges.)
// - A plain read runs inside the open group and may see writes of units that are about to
//   commit (their requests have not been answered yet). If that group then fails, the read
//   cache is emptied (`onGroupFailed`). With synchronous=NORMAL a committed write could
//   already be lost on power failure until the next checkpoint, so this adds no new loss.
// - With no group open, plain reads share one read transaction (`BEGIN`). In WAL mode each
//   transaction takes and drops SQLite's shared-memory read lock (fcntl calls); an
//   introspection's reads (the read cache's `PRAGMA data_version`, the token) were two
//   transactions of their own (issue 17). It never spans a wait for I/O, so no request,
//   and no word of another process's commit, arrives while it is open: a request never
//   reads a snapshot older than its own arrival.
//   - Opened by a request that has just arrived (request_task.ts), it serves the other
//     requests the same wait for I/O found, and ends in the check phase that follows
//     (setImmediate), before the loop waits again.
//   - Opened anywhere else (a timer, a callback after a group's COMMIT, `app.inject`),
//     it ends with the current task.
//   - Either way it ends before this process writes, on any handle (`writesInProcess`):
//     a read after a write of this process sees it, as before.
//
// - A batched write (`batch`: the rows of a client_credentials token and its event, no
//   transaction around them) does not open a unit of its own. It waits for the open
//   group, and at the group's COMMIT the writes of one kind queued in the turn are stored
//   together, by one multi-row statement per table inside one savepoint (issue 17: the
//   statements, savepoints and Kysely transaction of each unit were a fifth of such a
//   request's CPU). If that fails, each write is stored in a savepoint of its own, so only
//   a bad one fails, with its own error. Each answers once the group has committed.
//
// Other processes (admin commands, workers) wait at most one event-loop turn for the
// write lock a group holds, as they waited for single transactions before.
//
// When another process holds the write lock, better-sqlite3 would wait for it inside a
// synchronous call, freezing the whole event loop for as long as busy_timeout allows.
// Instead SQLite's own wait is kept short (SYNC_BUSY_MS) and taking the lock is retried
// asynchronously, with the connection handed to others (reads go on in WAL mode) between
// tries, for up to BUSY_PATIENCE_MS; then SQLITE_BUSY is answered 503 (store/unavailable.ts).
import {
  CompiledQuery, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler, type DatabaseConnection, type Dialect,
  type Driver, type Kysely, type QueryResult,
} from 'kysely';
import type SQLite from 'better-sqlite3';
import { atTaskEnd, servingArrival } from '../request_task.js';
import { prepareRows, readRows } from './rows.js';

/** Counters for tests and diagnostics. */
export interface GroupCommitStats {
  /** Groups committed. */
  commits: number;
  /** Units (transactions) committed inside those groups. */
  units: number;
  /** Groups that failed as a whole. */
  failedGroups: number;
  /** Writes committed on their own, with no group open (the checkpointer counts them too). */
  autocommits: number;
}

interface Group {
  done: Promise<void>;
  resolve(): void;
  reject(err: unknown): void;
  units: number;
  /** Why the group failed, once it has. */
  error?: unknown;
}

/** Prepared statements are kept: preparing is a large share of a request's CPU on SQLite. */
const STATEMENT_CACHE_MAX = 1000;

/** The longest one synchronous wait for another process's write lock may freeze the event loop. */
export const SYNC_BUSY_MS = 10;
/** How long a write waits, in all, for another process to let go of the write lock. */
export const BUSY_PATIENCE_MS = 5_000;
/** Pause between tries: doubles from 2 ms, at most this. */
const MAX_BUSY_PAUSE_MS = 50;

/** Writes of one kind that go into a group together (GroupCommitDriver.batch). */
export interface BatchKind<T> {
  /** The statements that store `items`, all or none (run inside one savepoint). */
  statements(items: readonly T[]): CompiledQuery[];
  /** The most items one batch stores (each distinct count is a prepared statement). */
  readonly max: number;
  /** After each try: `n` items stored together, or (fellBack) a batch that failed as one. */
  tried?(n: number, fellBack: boolean): void;
}

interface Queued {
  kind: BatchKind<unknown>;
  item: unknown;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Writes committed by any handle of this process: a read transaction that began before
 * one is not used for a read after it (two stores on one file: tests, `two_nodes`).
 */
let writesInProcess = 0;

const isBusy = (err: unknown): boolean => (err as { code?: unknown } | null)?.code === 'SQLITE_BUSY';

class GroupCommitDriver implements Driver {
  readonly stats: GroupCommitStats = { commits: 0, units: 0, failedGroups: 0, autocommits: 0 };
  readonly #db: SQLite.Database;
  readonly #onGroupFailed: () => void;
  readonly #statements = new Map<string, SQLite.Statement>();
  #held = false;
  readonly #waiters: (() => void)[] = [];
  #group: Group | undefined;
  #closed = false;
  /** Batched writes waiting for the next group's COMMIT. */
  #batched: Queued[] = [];
  #batchScheduled = false;
  /** The shared read transaction is open (the file's header), since writesInProcess was this. */
  #reading = false;
  #readSince = 0;
  /** Transactions opened on the handle so far, read and write: names the current one. */
  #opened = 0;

  constructor(db: SQLite.Database, onGroupFailed: () => void) {
    this.#db = db;
    this.#onGroupFailed = onGroupFailed;
  }

  /**
   * A transaction-control statement, prepared once: `exec` parses its text on every call,
   * which was 6–7 µs of a 100 µs client-credentials request (bench/README.md).
   */
  #control(sql: 'BEGIN' | 'BEGIN IMMEDIATE' | 'COMMIT' | 'ROLLBACK' | 'SAVEPOINT unit' | 'RELEASE unit' | 'ROLLBACK TO unit'): void {
    this.prepare(sql).run();
  }

  async init(): Promise<void> {}

  prepare(sql: string): SQLite.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      if (this.#statements.size >= STATEMENT_CACHE_MAX) this.#statements.clear();
      statement = prepareRows(this.#db.prepare(sql));
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  /** The single connection, handed out first come, first served. */
  #lock(): Promise<void> {
    if (!this.#held) {
      this.#held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #unlock(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#held = false;
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#lock();
    return new GroupConnection(this);
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    const conn = connection as GroupConnection;
    // Another unit may open the group while this one waits between tries: it joins it then.
    await this.whileBusy(() => { if (!this.#group) this.#openGroup(); });
    this.#control('SAVEPOINT unit');
    conn.group = this.#group;
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const conn = connection as GroupConnection;
    const group = conn.group;
    if (!group) throw new Error('no transaction to commit');
    if (group !== this.#group) throw group.error;
    this.#control('RELEASE unit');
    conn.group = undefined;
    group.units++;
    // Hand the connection on now; this unit's answer waits for the group's COMMIT.
    conn.released = true;
    this.#unlock();
    await group.done;
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    const conn = connection as GroupConnection;
    const group = conn.group;
    conn.group = undefined;
    // Released already (the group failed after this unit's work was done), or the group
    // was already failed by another statement: nothing of this unit is left to undo.
    if (conn.released || !group || group !== this.#group) return;
    if (!this.#db.inTransaction) {
      // SQLite rolled the whole transaction back (SQLITE_FULL, IOERR…): the group is gone.
      this.#failGroup(group, new Error('the database rolled back a group of transactions'));
      return;
    }
    try {
      this.#control('ROLLBACK TO unit');
      this.#control('RELEASE unit');
    } catch (err) {
      this.#failGroup(group, err);
      if (this.#db.inTransaction) this.#control('ROLLBACK');
    }
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const conn = connection as GroupConnection;
    if (conn.released) return;
    conn.released = true;
    this.#unlock();
  }

  async destroy(): Promise<void> {
    if (this.#closed) return;
    await this.#lock();
    await this.#commitAll();
    this.#closed = true;
    this.#statements.clear();
    this.#db.close();
    this.#unlock();
  }

  /**
   * Runs `fn` with no group open and no statement of this process running: the open group
   * is committed and every other unit and statement waits (asynchronously: the event loop
   * runs on) until `fn` settles. The checkpointer restarts the WAL in such a pause.
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    await this.#lock();
    try {
      if (this.#closed) throw new Error('the database is closed');
      await this.#commitAll();
      return await fn();
    } finally {
      this.#unlock();
    }
  }

  /**
   * Runs `attempt` (which takes the write lock) until it stops failing with SQLITE_BUSY or
   * BUSY_PATIENCE_MS have passed. The caller holds the connection; between tries it is
   * handed on, so other requests run (and read) while another process writes.
   */
  async whileBusy<T>(attempt: () => T): Promise<T> {
    const deadline = Date.now() + BUSY_PATIENCE_MS;
    for (let pause = 2; ; pause = Math.min(pause * 2, MAX_BUSY_PAUSE_MS)) {
      try {
        return attempt();
      } catch (err) {
        if (!isBusy(err) || Date.now() >= deadline) throw err;
      }
      this.#unlock();
      await new Promise((r) => setTimeout(r, pause));
      await this.#lock();
    }
  }

  /** Takes the connection back for a connection that handed it on (writeAlone). */
  reacquire(): Promise<void> {
    return this.#lock();
  }

  /**
   * A write outside any transaction (issue 17). With a group open it joins it as a unit of
   * one statement, and returns once the group is committed. With none open it commits on
   * its own at once (autocommit): a sign-in's writes mostly come one at a time, and a group
   * of one would add a BEGIN, a COMMIT and a turn to each.
   */
  async writeAlone<R>(conn: GroupConnection, query: CompiledQuery, statement: SQLite.Statement): Promise<QueryResult<R>> {
    if (!this.#group) {
      // Another process's write lock is waited for without freezing the event loop; if a
      // group opened meanwhile (the connection is handed on between tries), it joins that.
      const alone = await this.whileBusy(() => (this.#group ? undefined : { result: this.execute<R>(conn, query, statement) }));
      if (alone) return alone.result;
    }
    const group = this.#group!;
    // No savepoint for one statement: SQLite undoes a failed statement's own changes and
    // the transaction goes on ("ABORT", the only conflict resolution Alias uses), or it
    // rolls the whole transaction back, which execute() turns into the group's failure.
    conn.group = group;
    let result: QueryResult<R>;
    try {
      result = this.execute<R>(conn, query, statement);
    } finally {
      conn.group = undefined;
    }
    group.units++;
    conn.released = true;
    this.#unlock();
    await group.done;
    return result;
  }

  /** Runs one statement on the connection (held by the caller). */
  execute<R>(conn: GroupConnection, query: CompiledQuery, statement = this.prepare(query.sql)): QueryResult<R> {
    // A statement on a connection handed on would run inside whichever unit holds it now.
    if (conn.released) throw new Error('a statement on a connection this caller no longer holds');
    // The unit's group failed under it (SQLite rolled it back): nothing it writes now
    // would be part of a transaction.
    if (conn.group && conn.group !== this.#group) throw conn.group.error;
    const parameters = query.parameters as unknown[];
    if (!conn.group) {
      if (statement.readonly) this.snapshot();
      // A write on its own (writeAlone, no group open): the read transaction ends first.
      else this.#endRead();
    }
    try {
      if (statement.reader) return { rows: readRows<R>(statement, parameters) };
      const { changes, lastInsertRowid } = statement.run(parameters);
      if (!conn.group && !statement.readonly) {
        this.stats.autocommits++;
        writesInProcess++;
      }
      return { rows: [], numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid) };
    } catch (err) {
      // Some errors make SQLite roll back the whole transaction: the group is gone.
      if (this.#group && !this.#db.inTransaction) this.#failGroup(this.#group, err);
      throw err;
    }
  }

  /**
   * The transaction the handle's reads run in now, as a number that changes whenever
   * another one begins: the open group, or else the shared read transaction, opened here
   * (the file's header). Within one, no other commit changes what a read sees (the read
   * cache checks `data_version` once per transaction).
   */
  snapshot(): number {
    if (this.#reading && this.#readSince !== writesInProcess) this.#endRead();
    if (!this.#db.inTransaction && !this.#closed) {
      this.#control('BEGIN');
      this.#reading = true;
      this.#readSince = writesInProcess;
      this.#opened++;
      if (servingArrival()) setImmediate(this.#endReadNow);
      else atTaskEnd(this.#endReadNow);
    }
    return this.#opened;
  }

  readonly #endReadNow = () => this.#endRead();

  /** Ends the shared read transaction, if open: before a write, a group, or at the task's end. */
  #endRead(): void {
    if (!this.#reading) return;
    this.#reading = false;
    if (this.#group || !this.#db.inTransaction) return;
    try {
      this.#control('COMMIT');
    } catch {
      // A read-only transaction has nothing to lose; it must not stay open either way.
      if (this.#db.inTransaction) this.#control('ROLLBACK');
    }
  }

  #openGroup(): void {
    this.#endRead();
    // IMMEDIATE: take the write lock now, so no other process's commit can make a
    // later write in this group fail with SQLITE_BUSY_SNAPSHOT.
    this.#control('BEGIN IMMEDIATE');
    this.#opened++;
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Awaited by each unit; a group no unit waits for must not be an unhandled rejection.
    done.catch(() => {});
    const group: Group = { done, resolve, reject, units: 0 };
    this.#group = group;
    setImmediate(() => void this.#commitLater(group));
  }

  /** Commits `group` once the units queued before this point have run. */
  async #commitLater(group: Group): Promise<void> {
    await this.#lock();
    try {
      if (this.#group === group) this.#commitOpenGroup();
    } finally {
      this.#unlock();
    }
  }

  /**
   * Queues `item` for the next group's COMMIT (the file's header); resolves once it is
   * committed, rejects with its own error if it alone cannot be stored, or with the
   * group's if the group fails.
   */
  batch<T>(kind: BatchKind<T>, item: T): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the database is closed'));
    return new Promise((resolve, reject) => {
      this.#batched.push({ kind: kind as BatchKind<unknown>, item, resolve, reject });
      if (this.#batchScheduled) return;
      this.#batchScheduled = true;
      // An open group's own commit (scheduled when it opened, so before this) stores them;
      // otherwise this opens a group at the end of the turn, which the turn's units join.
      setImmediate(() => void this.#commitBatched());
    });
  }

  async #commitBatched(): Promise<void> {
    this.#batchScheduled = false;
    if (!this.#batched.length) return;
    await this.#lock();
    try {
      await this.#commitAll();
    } finally {
      this.#unlock();
    }
  }

  /** Commits the open group and the batched writes (the caller holds the connection). */
  async #commitAll(): Promise<void> {
    if (this.#batched.length && !this.#group) {
      try {
        await this.whileBusy(() => { if (!this.#group) this.#openGroup(); });
      } catch (err) {
        // Another process kept the write lock beyond BUSY_PATIENCE_MS: 503 for each.
        for (const q of this.#batched.splice(0)) q.reject(err);
        return;
      }
    }
    this.#commitOpenGroup();
    this.#endRead();
  }

  /**
   * Stores the batched writes in `group`, kind by kind, up to `kind.max` in one savepoint;
   * a batch that fails is stored again item by item. Throws only if the group is lost.
   */
  #storeBatched(group: Group): void {
    const queued = this.#batched.splice(0);
    const failed = new Map<Queued, unknown>();
    try {
      const kinds = new Map<BatchKind<unknown>, Queued[]>();
      for (const q of queued) {
        const same = kinds.get(q.kind);
        if (same) same.push(q);
        else kinds.set(q.kind, [q]);
      }
      for (const [kind, all] of kinds) {
        for (let i = 0; i < all.length; i += kind.max) {
          const chunk = all.slice(i, i + kind.max);
          const err = this.#inSavepoint(kind, chunk);
          if (err === undefined) {
            kind.tried?.(chunk.length, false);
          } else if (chunk.length === 1) {
            failed.set(chunk[0]!, err);
          } else {
            kind.tried?.(0, true);
            for (const q of chunk) {
              const own = this.#inSavepoint(kind, [q]);
              if (own === undefined) kind.tried?.(1, false);
              else failed.set(q, own);
            }
          }
        }
      }
    } finally {
      // Stored ones (and, if the group was lost, the rest) answer with the group's outcome.
      for (const q of queued) {
        if (failed.has(q)) q.reject(failed.get(q));
        else {
          group.units++;
          group.done.then(q.resolve, q.reject);
        }
      }
    }
  }

  /** Runs `items`' statements in a savepoint: undefined if stored, else the error (rolled back). */
  #inSavepoint(kind: BatchKind<unknown>, items: readonly Queued[]): unknown {
    this.#control('SAVEPOINT unit');
    try {
      for (const q of kind.statements(items.map((x) => x.item))) this.prepare(q.sql).run(q.parameters as unknown[]);
      this.#control('RELEASE unit');
      return undefined;
    } catch (err) {
      // SQLite rolled the whole transaction back: the group is lost (the caller fails it).
      if (!this.#db.inTransaction) throw err;
      this.#control('ROLLBACK TO unit');
      this.#control('RELEASE unit');
      return err;
    }
  }

  /** COMMITs the open group, if any, with the batched writes (the caller holds the connection). */
  #commitOpenGroup(): void {
    const group = this.#group;
    if (!group) return;
    try {
      if (this.#batched.length) this.#storeBatched(group);
      this.#control('COMMIT');
    } catch (err) {
      this.#failGroup(group, err);
      if (this.#db.inTransaction) this.#control('ROLLBACK');
      return;
    }
    this.#group = undefined;
    writesInProcess++;
    this.stats.commits++;
    this.stats.units += group.units;
    group.resolve();
  }

  #failGroup(group: Group, err: unknown): void {
    if (this.#group === group) this.#group = undefined;
    group.error = err;
    this.stats.failedGroups++;
    this.#onGroupFailed();
    group.reject(err);
  }
}

class GroupConnection implements DatabaseConnection {
  /** The group this connection's open unit belongs to, while one is open. */
  group: Group | undefined;
  released = false;
  readonly #driver: GroupCommitDriver;

  constructor(driver: GroupCommitDriver) {
    this.#driver = driver;
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    // A plain write handed the connection on while it waited for its group's COMMIT
    // (writeAlone); a further statement on this connection takes it back first.
    if (this.released) {
      await this.#driver.reacquire();
      this.released = false;
    }
    // Prepared once here: whether it writes decides the path, and either path runs it.
    const statement = this.#driver.prepare(query.sql);
    if (!this.group && !statement.readonly) return this.#driver.writeAlone<R>(this, query, statement);
    return this.#driver.execute<R>(this, query, statement);
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming is not supported by the SQLite store');
  }
}

export interface GroupCommitDialect extends Dialect {
  readonly stats: GroupCommitStats;
  /** GroupCommitDriver.exclusive: `fn` runs while no transaction of this process is open. */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** GroupCommitDriver.batch: `item` is stored with the others of its kind at the next COMMIT. */
  batch<T>(kind: BatchKind<T>, item: T): Promise<void>;
  /** GroupCommitDriver.snapshot: the transaction reads run in now (opened for the turn if none). */
  snapshot(): number;
}

/**
 * A Kysely dialect for one better-sqlite3 handle with group commit. `onGroupFailed` runs
 * when a group's writes are lost (callers drop what they cached from it).
 */
export function groupCommitDialect(db: SQLite.Database, onGroupFailed: () => void): GroupCommitDialect {
  const driver = new GroupCommitDriver(db, onGroupFailed);
  return {
    stats: driver.stats,
    exclusive: (fn) => driver.exclusive(fn),
    batch: (kind, item) => driver.batch(kind, item),
    snapshot: () => driver.snapshot(),
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => driver,
    createQueryCompiler: () => new SqliteQueryCompiler(),
    createIntrospector: (k: Kysely<any>) => new SqliteIntrospector(k),
  };
}
