// ResourceRepo: the resource servers (APIs) the operator registered (RFC 8707).
import type { Selectable } from 'kysely';
import type { ResourcesTable } from '../schema.js';
import type { ResourceRepo } from '../store.js';
import type { Resource } from '../types.js';
import { insertOrConflict, json, list, type Sql } from './context.js';

const toResource = (r: Selectable<ResourcesTable>): Resource => ({
  uri: r.uri, name: r.name, scopes: list(r.scopes), tokenFormat: r.token_format === 'jwt' ? 'jwt' : 'opaque',
  ttlS: Number(r.ttl), createdAt: Number(r.created_at),
});

export function createResourceRepo({ k }: Sql): ResourceRepo {
  return {
    async insert(res) {
      await insertOrConflict('resource', () => k.insertInto('resources').values({
        uri: res.uri, name: res.name, scopes: json(res.scopes), token_format: res.tokenFormat, ttl: res.ttlS,
        created_at: res.createdAt,
      }).execute());
    },
    async get(uri) {
      const r = await k.selectFrom('resources').selectAll().where('uri', '=', uri).executeTakeFirst();
      return r && toResource(r);
    },
    async list() {
      const rows = await k.selectFrom('resources').selectAll().orderBy('created_at').orderBy('uri').execute();
      return rows.map(toResource);
    },
    async delete(uri) {
      const r = await k.deleteFrom('resources').where('uri', '=', uri).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    },
  };
}
