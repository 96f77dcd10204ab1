// SecondFactorRepo: TOTP authenticators and recovery codes (migration 013).
import type { Selectable } from 'kysely';
import type { TotpFactorsTable } from '../schema.js';
import type { SecondFactorRepo } from '../store.js';
import type { TotpFactor } from '../types.js';
import { param } from '../compiled.js';
import type { Sql } from './context.js';

const toTotp = (r: Selectable<TotpFactorsTable>): TotpFactor => ({
  userId: r.user_id, secretSealed: r.secret_sealed, lastStep: Number(r.last_step), createdAt: Number(r.created_at),
});

export function createSecondFactorRepo({ k, first }: Sql): SecondFactorRepo {
  return {
    async getTotp(userId) {
      const r = await first<Selectable<TotpFactorsTable>>('totpFactors.get',
        (b) => b.selectFrom('totp_factors').selectAll().where('user_id', '=', param('userId')), { userId });
      return r && toTotp(r);
    },
    async insertTotp(f) {
      const r = await k.insertInto('totp_factors').values({
        user_id: f.userId, secret_sealed: f.secretSealed, last_step: f.lastStep, created_at: f.createdAt,
      }).onConflict((oc) => oc.column('user_id').doNothing()).returning('user_id').executeTakeFirst();
      return r !== undefined;
    },
    async useTotpStep(userId, step) {
      // One conditional UPDATE: of two requests with the same code, exactly one moves the step.
      const r = await k.updateTable('totp_factors').set({ last_step: step })
        .where('user_id', '=', userId).where('last_step', '<', step).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    async deleteTotp(userId) {
      const r = await k.deleteFrom('totp_factors').where('user_id', '=', userId).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
    async replaceRecoveryCodes(userId, digests, at) {
      await k.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
      if (digests.length) {
        await k.insertInto('recovery_codes').values(digests.map((digest) => ({ user_id: userId, digest, created_at: at, used_at: null }))).execute();
      }
    },
    async useRecoveryCode(userId, digest, at) {
      const r = await k.updateTable('recovery_codes').set({ used_at: at })
        .where('user_id', '=', userId).where('digest', '=', digest).where('used_at', 'is', null).executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },
    async countRecoveryCodes(userId) {
      const r = await k.selectFrom('recovery_codes').select((eb) => eb.fn.countAll<number | string>().as('n'))
        .where('user_id', '=', userId).where('used_at', 'is', null).executeTakeFirst();
      return Number(r?.n ?? 0);
    },
    async deleteRecoveryCodes(userId) {
      await k.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
    },
  };
}
