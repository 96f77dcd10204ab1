// TokenSetRepo: the rows of one token response (access token, refresh token, the rotated
// token's link to them, the grant's last use, the audit event) stored together. On
// PostgreSQL they are one statement of data-modifying CTEs, so a code exchange or a refresh
// pays one round trip for its writes instead of one per row (issue 17 §3); SQLite runs the
// repositories' own statements one after another in the caller's transaction (its
// statements cost no round trip).
import type { Compilable, Kysely } from 'kysely';
import type { Database } from '../schema.js';
import type { TokenSetRepo } from '../store.js';
import { param, placeholders, prefixed } from '../compiled.js';
import { accessRow } from './access_tokens.js';
import { refreshRow } from './refresh_tokens.js';
import { auditRow } from './audit.js';
import type { Sql } from './context.js';

export function createTokenSetRepo(s: Sql): TokenSetRepo {
  const { run, dialect, transaction } = s;
  return {
    async insert(set) {
      if (!dialect.writableCte) {
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
      const access = accessRow(set.access);
      const refresh = set.refresh && refreshRow(set.refresh);
      const event = set.event && auditRow(set.event);
      // PostgreSQL: one statement. Each CTE changes a different row (the rotated token is
      // not the new one), and every data-modifying CTE runs to completion whether or not
      // the main statement reads it (PostgreSQL docs §7.8.4).
      const args: Record<string, unknown> = {};
      prefixed(access, 'a_', args);
      if (refresh) prefixed(refresh, 'r_', args);
      if (set.rotated) Object.assign(args, { l_digest: set.rotated.digest, l_refresh: set.rotated.next.refresh, l_access: set.rotated.next.access });
      if (set.touch) Object.assign(args, { g_id: set.touch.grantId, g_at: set.touch.at });
      if (event) prefixed(event, 'e_', args);
      const shape = `tokenSets.insert:${refresh ? 'r' : ''}${set.rotated ? 'l' : ''}${set.touch ? 'g' : ''}${event ? 'e' : ''}`;
      await run(shape, (b: Kysely<Database>): Compilable => {
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
    },
  };
}
