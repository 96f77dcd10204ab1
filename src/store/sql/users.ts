// UserRepo: accounts; e-mail addresses are stored lower-cased.
import type { Selectable } from 'kysely';
import type { UsersTable } from '../schema.js';
import type { UserRepo } from '../store.js';
import type { User } from '../types.js';
import { param } from '../compiled.js';
import { insertOrConflict, type Sql } from './context.js';

// An account without a password (passkeys only) stores the empty string: the column has
// been NOT NULL since migration 001, and no argon2 hash is empty.
const NO_PASSWORD = '';

const toUser = (r: Selectable<UsersTable>): User => ({ id: r.id, email: r.email,
  passwordHash: r.password_hash === NO_PASSWORD ? null : r.password_hash,
  nickname: r.nickname, emailVerified: r.email_verified === 1, createdAt: r.created_at, updatedAt: r.updated_at });

export function createUserRepo(s: Sql): UserRepo {
  const { k, first, inTx, transaction } = s;
  return {
    async insert(u) {
      await insertOrConflict('user', () => k.insertInto('users').values({
        id: u.id, email: u.email.toLowerCase(), password_hash: u.passwordHash ?? NO_PASSWORD, nickname: u.nickname,
        email_verified: u.emailVerified ? 1 : 0, created_at: u.createdAt, updated_at: u.updatedAt,
      }).execute());
    },
    async get(id) {
      const r = await first<Selectable<UsersTable>>('users.get',
        (b) => b.selectFrom('users').selectAll().where('id', '=', param('id')), { id });
      return r && toUser(r);
    },
    async getByEmail(email) {
      const r = await first<Selectable<UsersTable>>('users.getByEmail',
        (b) => b.selectFrom('users').selectAll().where('email', '=', param('email')), { email: email.toLowerCase() });
      return r && toUser(r);
    },
    async update(u) {
      await k.updateTable('users').set({
        email: u.email.toLowerCase(), password_hash: u.passwordHash ?? NO_PASSWORD, nickname: u.nickname,
        email_verified: u.emailVerified ? 1 : 0, updated_at: u.updatedAt,
      }).where('id', '=', u.id).execute();
    },
    async list() {
      const rows = await k.selectFrom('users').selectAll().orderBy('created_at').orderBy('id').execute();
      return rows.map(toUser);
    },
    async delete(id) {
      // Every table below also cascades from users (migrations 001, 002, 004, 008, 012, 013); the
      // explicit deletes, children first, keep the outcome the same should a foreign key
      // ever be off (SQLite without foreign_keys), and make this list the record of what
      // an account owns. The audit log (digests and alias IDs only) and logout_deliveries
      // (queued for the user's apps, naming only the alias ID) are kept on purpose.
      if (!inTx) return transaction((tx) => tx.users.delete(id));
      for (const table of ['authorization_codes', 'access_tokens', 'refresh_tokens', 'device_codes', 'messages',
        'account_tokens', 'mail_outbox', 'passkeys', 'webauthn_challenges', 'sessions', 'grants', 'totp_factors', 'recovery_codes'] as const) {
        await k.deleteFrom(table).where('user_id', '=', id).execute();
      }
      const r = await k.deleteFrom('users').where('id', '=', id).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
  };
}
