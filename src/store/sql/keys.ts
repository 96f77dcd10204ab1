// SigningKeyRepo: the signing keys, their private halves encrypted.
import type { Selectable } from 'kysely';
import type { SigningKeysTable } from '../schema.js';
import type { SigningKeyRepo } from '../store.js';
import type { SigningKeyRecord } from '../types.js';
import type { Sql } from './context.js';

export function createSigningKeyRepo(s: Sql): SigningKeyRepo {
  const { k, run } = s;
  return {
    async list() {
      const { rows } = await run<Selectable<SigningKeysTable>>('keys.list',
        (b) => b.selectFrom('signing_keys').selectAll().orderBy('created_at', 'desc'), {});
      return rows.map((r): SigningKeyRecord => ({
        kid: r.kid, alg: r.alg, publicJwk: r.public_jwk, privateKeyEnc: r.private_key_enc,
        status: r.status === 'active' ? 'active' : 'retired', createdAt: r.created_at, retiredAt: r.retired_at,
        // A key rotated by a node from before migration 019: that version's fixed 4 s.
        activatesAt: r.activates_at ?? r.created_at + 4_000,
      }));
    },
    async insert(key) {
      await k.insertInto('signing_keys').values({
        kid: key.kid, alg: key.alg, public_jwk: key.publicJwk, private_key_enc: key.privateKeyEnc,
        status: key.status, created_at: key.createdAt, retired_at: key.retiredAt, activates_at: key.activatesAt,
      }).execute();
    },
    async retireAllBut(kid, now) {
      await k.updateTable('signing_keys').set({ status: 'retired', retired_at: now })
        .where('status', '=', 'active').where('kid', '!=', kid)
        .where('alg', '=', (eb) => eb.selectFrom('signing_keys as same').select('same.alg').where('same.kid', '=', kid))
        .execute();
    },
    async deleteRetiredBefore(before) {
      const r = await k.deleteFrom('signing_keys').where('status', '=', 'retired')
        .where('retired_at', '<', before).executeTakeFirst();
      return Number(r.numDeletedRows);
    },
  };
}
