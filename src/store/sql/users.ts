// UserRepo: accounts; e-mail addresses are stored lower-cased.
import type { Selectable } from 'kysely';
import type { UsersTable } from '../schema.js';
import type { UserRepo } from '../store.js';
import { param } from '../compiled.js';
import { insertOrConflict, type Sql } from './context.js';

export function createUserRepo(s: Sql): UserRepo {
  const { k, first } = s;
  return {
    async insert(u) {
      await insertOrConflict('user', () => k.insertInto('users').values({
        id: u.id, email: u.email.toLowerCase(), password_hash: u.passwordHash, nickname: u.nickname,
        created_at: u.createdAt, updated_at: u.updatedAt,
      }).execute());
    },
    async get(id) {
      const r = await first<Selectable<UsersTable>>('users.get',
        (b) => b.selectFrom('users').selectAll().where('id', '=', param('id')), { id });
      return r && { id: r.id, email: r.email, passwordHash: r.password_hash, nickname: r.nickname,
        createdAt: r.created_at, updatedAt: r.updated_at };
    },
    async getByEmail(email) {
      const r = await k.selectFrom('users').selectAll().where('email', '=', email.toLowerCase()).executeTakeFirst();
      return r && { id: r.id, email: r.email, passwordHash: r.password_hash, nickname: r.nickname,
        createdAt: r.created_at, updatedAt: r.updated_at };
    },
    async update(u) {
      await k.updateTable('users').set({
        email: u.email.toLowerCase(), password_hash: u.passwordHash, nickname: u.nickname, updated_at: u.updatedAt,
      }).where('id', '=', u.id).execute();
    },
  };
}
