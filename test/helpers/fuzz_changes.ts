// The fuzz test's fast "no stored change on a refusal" check (SQLite): instead of reading
// every row of every table before and after each case (which grows with the database, so a
// long run slows down quadratically), triggers on every state table write each change into
// one log table, in the same transaction as the change (a rolled-back write leaves no
// entry). A case remembers the log's last id before its request and reads what came after
// only when the request was refused: the cost of a case no longer depends on the size of
// the database, and cases that write nothing cost one indexed read. Entries of finished
// cases are dropped now and then (prune), not before every case: that was a commit a case.
import { sql } from 'kysely';
import type { Alias } from './harness.js';
import type { RowChange } from './fuzz.js';

const LOG = 'fuzz_changes';

export interface ChangeLog {
  /** The id of the last entry so far. */
  mark(): Promise<number>;
  /** Drops every entry so far (none is needed once its case is over; ids are never reused). */
  prune(): Promise<void>;
  /** The net change of every row written after `mark` (a row inserted and deleted again is no change). */
  since(mark: number): Promise<RowChange[]>;
}

interface Entry { id: number; tbl: string; old: string | null; new: string | null }

/** Installs the log and its triggers on every table except `exclude` (SQLite only). */
export async function installChangeLog(alias: Alias, exclude: readonly string[]): Promise<ChangeLog> {
  const k = alias.s.db.kysely;
  await sql.raw(`CREATE TABLE IF NOT EXISTS ${LOG} (id INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, old TEXT, new TEXT)`).execute(k);
  const tables = (await sql<{ name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
    .execute(k)).rows.map((r) => r.name).filter((t) => t !== LOG && !exclude.includes(t));
  const keys = new Map<string, string[]>();
  for (const t of tables) {
    const cols = (await sql<{ name: string; pk: number }>`SELECT name, pk FROM pragma_table_info(${t})`.execute(k)).rows;
    const pk = cols.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
    // A table without a declared key is a rowid table: its rowid pairs the versions of a row.
    keys.set(t, pk.length ? pk : ['__rowid']);
    const q = (c: string) => `"${c.replace(/"/g, '""')}"`;
    // JSON holds no BLOB: those are logged as hex.
    const row = (v: 'NEW' | 'OLD') => `json_object(${[...(pk.length ? [] : [`'__rowid', ${v}.rowid`]),
      ...cols.map((c) => `'${c.name.replace(/'/g, "''")}', iif(typeof(${v}.${q(c.name)}) = 'blob', hex(${v}.${q(c.name)}), ${v}.${q(c.name)})`)].join(', ')})`;
    const lit = `'${t.replace(/'/g, "''")}'`;
    for (const [op, old, neu] of [['INSERT', 'NULL', row('NEW')], ['UPDATE', row('OLD'), row('NEW')], ['DELETE', row('OLD'), 'NULL']] as const) {
      await sql.raw(`CREATE TRIGGER IF NOT EXISTS ${q(`fuzz_${op.toLowerCase()}_${t}`)} AFTER ${op} ON ${q(t)} BEGIN ` +
        `INSERT INTO ${LOG} (tbl, old, new) VALUES (${lit}, ${old}, ${neu}); END`).execute(k);
    }
  }
  return {
    async mark() {
      const r = await sql<{ seq: number | null }>`SELECT seq FROM sqlite_sequence WHERE name = ${LOG}`.execute(k);
      return Number(r.rows[0]?.seq ?? 0);
    },
    async prune() {
      // AUTOINCREMENT never reuses the ids of deleted entries, so marks stay valid.
      await sql`DELETE FROM ${sql.table(LOG)}`.execute(k);
    },
    async since(mark) {
      const entries = (await sql<Entry>`SELECT id, tbl, old, new FROM ${sql.table(LOG)} WHERE id > ${mark} ORDER BY id`.execute(k)).rows;
      // Per row: its version before the first entry and after the last one.
      const rows = new Map<string, { table: string; key: string; before?: Record<string, unknown>; after?: Record<string, unknown> }>();
      for (const e of entries) {
        const old = e.old === null ? undefined : JSON.parse(e.old) as Record<string, unknown>;
        const neu = e.new === null ? undefined : JSON.parse(e.new) as Record<string, unknown>;
        const key = JSON.stringify(keys.get(e.tbl)!.map((c) => (neu ?? old)![c]));
        const id = `${e.tbl}\u0000${key}`;
        const seen = rows.get(id);
        if (seen) seen.after = neu;
        else rows.set(id, { table: e.tbl, key, before: old, after: neu });
      }
      const changes: RowChange[] = [];
      for (const { table, key, before, after } of rows.values()) {
        if (!before && !after) continue;
        if (!before) { changes.push({ table, key, kind: 'insert', columns: [], after }); continue; }
        if (!after) { changes.push({ table, key, kind: 'delete', columns: [], before }); continue; }
        const columns = Object.keys({ ...before, ...after }).filter((c) => JSON.stringify(before[c]) !== JSON.stringify(after[c]));
        if (columns.length) changes.push({ table, key, kind: 'update', columns, before, after });
      }
      return changes;
    },
  };
}
