// Authorization codes and refresh tokens are single-use rows found by digest. `get` reads
// one; `spend` marks it used with one conditional UPDATE … RETURNING, so among any number
// of concurrent callers the database picks the single winner and hands it the row as
// stored now (the others get undefined). Both are hot queries, compiled once per dialect.
// `spendWithGrant` also reads the grant the row was issued under and its user's nickname:
// on PostgreSQL in the same statement (a data-modifying CTE: one round trip, issue 17 §3).
import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../schema.js';
import type { Spent } from '../store.js';
import { param } from '../compiled.js';
import type { ShapeOf, Sql } from './context.js';
import { GRANT_AND_NICKNAME, joinedGrant, type GrantAndNickname } from './grants.js';

type SingleUseTable = 'authorization_codes' | 'refresh_tokens';

/** The columns a spend reads or writes; each table has those it names. */
interface SingleUseRow {
  digest: string;
  consumed_at: number | null;
  rotated_at: number | null;
  revoked_at: number | null;
}

export interface SingleUse<T> {
  get(s: Sql, digest: string): Promise<T | undefined>;
  spend(s: Sql, digest: string, now: number): Promise<T | undefined>;
  spendWithGrant(s: Sql, digest: string, now: number): Promise<Spent<T> | undefined>;
}

export function singleUse<N extends SingleUseTable, T>(spec: {
  table: N;
  /** Query names (compiled.ts) of the read and of the spend. */
  getName: string;
  spendName: string;
  /** Set to the time of the spend; a row is spent at most once, while this is null. */
  mark: 'consumed_at' | 'rotated_at';
  /** Further columns that must be null for a spend (a revoked refresh token is no longer current). */
  alsoNull?: 'revoked_at'[];
  to: (row: Selectable<Database[N]>) => T;
}): SingleUse<T> {
  const on = (b: Kysely<Database>) => b as unknown as Kysely<{ single_use: SingleUseRow }>;
  const table = spec.table as unknown as 'single_use';
  const getShape: ShapeOf = (b) => on(b).selectFrom(table).selectAll().where('digest', '=', param('digest'));
  const spendShape: ShapeOf = (b) => {
    let q = on(b as Kysely<Database>).updateTable(table).set({ [spec.mark]: param<number>('now') }).where('digest', '=', param('digest'));
    for (const column of [spec.mark, ...(spec.alsoNull ?? [])]) q = q.where(column, 'is', null);
    return q.returningAll();
  };
  // The spent row (RETURNING) joined with its grant and the grant's user, in one statement.
  const spendWithGrantShape: ShapeOf = (b) => (b as unknown as Kysely<Database & { spent: Database[N] }>)
    .with('spent', (w) => spendShape(w as unknown as Kysely<Database>) as never)
    .selectFrom('spent').leftJoin('grants as g', 'g.id', 'spent.grant_id').leftJoin('users as u', 'u.id', 'g.user_id')
    .selectAll('spent').select(GRANT_AND_NICKNAME);
  return {
    async get(s, digest) {
      const r = await s.first<Selectable<Database[N]>>(spec.getName, getShape, { digest });
      return r && spec.to(r);
    },
    async spend(s, digest, now) {
      const r = await s.first<Selectable<Database[N]>>(spec.spendName, spendShape, { digest, now });
      return r && spec.to(r);
    },
    async spendWithGrant(s, digest, now) {
      if (s.dialect.writableCte) {
        const r = await s.first<Selectable<Database[N]> & GrantAndNickname>(
          `${spec.spendName}WithGrant`, spendWithGrantShape, { digest, now });
        return r && { row: spec.to(r), grant: joinedGrant(r), nickname: r.u_nickname };
      }
      // SQLite: two statements, neither a round trip (the caller's transaction holds the database).
      const r = await s.first<Selectable<Database[N]>>(spec.spendName, spendShape, { digest, now });
      if (!r) return undefined;
      const g = await s.first<GrantAndNickname>('singleUse.grantWithNickname', (b) => b
        .selectFrom('grants as g').leftJoin('users as u', 'u.id', 'g.user_id').select(GRANT_AND_NICKNAME)
        .where('g.id', '=', param('id')), { id: (r as unknown as { grant_id: string }).grant_id });
      return { row: spec.to(r), grant: g && joinedGrant(g), nickname: g?.u_nickname ?? null };
    },
  };
}
