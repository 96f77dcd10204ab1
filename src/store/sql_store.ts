// The Store over Kysely: one code base for SQLite and PostgreSQL.
import { sql, type Compilable, type Kysely, type Selectable, type Transaction } from 'kysely';
import type { Database, ClientsTable, GrantsTable, AuthorizationCodesTable, AccessTokensTable,
  RefreshTokensTable, InteractionsTable, DeviceCodesTable,
  LogoutDeliveriesTable, MessagesTable, UsersTable, SessionsTable, SigningKeysTable, ThrottlesTable } from './schema.js';
import type { Db } from './db.js';
import { param, placeholders, runShape, type Args } from './compiled.js';
import { auditRow, createAuditRepo } from './sql_audit.js';
import { createPurgeRepo } from './sql_purge.js';
import type { SigningAlg } from '../oauth/signing_algs.js';
import { UniqueViolation, type Store } from './store.js';
import type {
  AccessToken, AuthorizationCode, Client, DeviceCode, Grant, Interaction, LogoutDelivery, Message, RefreshToken, SigningKeyRecord,
} from './types.js';

/** Cached rows are shared by every reader: frozen, so no caller can change them. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const list = (text: string): string[] => JSON.parse(text) as string[];


const json = (v: unknown): string => JSON.stringify(v);

function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

async function insertOrConflict(what: string, run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (err) {
    if (isUniqueViolation(err)) throw new UniqueViolation(what);
    throw err;
  }
}

const toClient = (r: Selectable<ClientsTable>): Client => ({
  id: r.id,
  name: r.name,
  secretDigest: r.secret_digest,
  previousSecretDigest: r.previous_secret_digest,
  previousSecretExpiresAt: r.previous_secret_expires_at,
  isPublic: r.is_public === 1,
  redirectUris: list(r.redirect_uris),
  postLogoutRedirectUris: list(r.post_logout_redirect_uris),
  grantTypes: list(r.grant_types),
  scopes: list(r.scopes),
  channels: JSON.parse(r.channels) as Client['channels'],
  backchannelLogoutUri: r.backchannel_logout_uri,
  // Written only through the registry, which accepts only the algorithms Alias signs with.
  idTokenSignedResponseAlg: r.id_token_signed_response_alg as SigningAlg,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const fromClient = (c: Client): ClientsTable => ({
  id: c.id,
  name: c.name,
  secret_digest: c.secretDigest,
  previous_secret_digest: c.previousSecretDigest,
  previous_secret_expires_at: c.previousSecretExpiresAt,
  is_public: c.isPublic ? 1 : 0,
  redirect_uris: json(c.redirectUris),
  post_logout_redirect_uris: json(c.postLogoutRedirectUris),
  grant_types: json(c.grantTypes),
  scopes: json(c.scopes),
  channels: json(c.channels),
  backchannel_logout_uri: c.backchannelLogoutUri,
  id_token_signed_response_alg: c.idTokenSignedResponseAlg,
  created_at: c.createdAt,
  updated_at: c.updatedAt,
});

function originsOf(c: Client): string[] {
  const out = new Set<string>();
  for (const uri of c.redirectUris) {
    try {
      const o = new URL(uri).origin;
      if (o !== 'null') out.add(o);
    } catch {
      /* validated at registration; nothing to add */
    }
  }
  return [...out];
}

const toGrant = (r: Selectable<GrantsTable>): Grant => ({
  id: r.id,
  userId: r.user_id,
  clientId: r.client_id,
  sub: r.sub,
  scopes: list(r.scopes),
  channels: list(r.channels),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  lastUsedAt: r.last_used_at,
});

/** A grant's columns read through a left join (all null when there is no grant). */
interface GrantColumns {
  g_id: string | null;
  g_user_id: string | null;
  g_client_id: string | null;
  g_sub: string | null;
  g_scopes: string | null;
  g_channels: string | null;
  g_created_at: number | null;
  g_updated_at: number | null;
  g_last_used_at: number | null;
}

const toCode = (r: Selectable<AuthorizationCodesTable>): AuthorizationCode => ({
  digest: r.digest,
  clientId: r.client_id,
  userId: r.user_id,
  grantId: r.grant_id,
  familyId: r.family_id,
  redirectUri: r.redirect_uri,
  codeChallenge: r.code_challenge,
  scopes: list(r.scopes),
  channels: list(r.channels),
  nonce: r.nonce,
  authTime: r.auth_time,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  consumedAt: r.consumed_at,
});

const toAccess = (r: Selectable<AccessTokensTable>): AccessToken => ({
  digest: r.digest,
  clientId: r.client_id,
  userId: r.user_id,
  grantId: r.grant_id,
  familyId: r.family_id,
  scopes: list(r.scopes),
  channels: list(r.channels),
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
});

const accessRow = (t: AccessToken): Selectable<AccessTokensTable> => ({
  digest: t.digest, client_id: t.clientId, user_id: t.userId, grant_id: t.grantId, family_id: t.familyId,
  scopes: json(t.scopes), channels: json(t.channels), created_at: t.createdAt, expires_at: t.expiresAt,
  revoked_at: t.revokedAt,
});

const toRefresh = (r: Selectable<RefreshTokensTable>): RefreshToken => ({
  digest: r.digest,
  clientId: r.client_id,
  userId: r.user_id,
  grantId: r.grant_id,
  familyId: r.family_id,
  scopes: list(r.scopes),
  channels: list(r.channels),
  authTime: r.auth_time,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  rotatedAt: r.rotated_at,
  revokedAt: r.revoked_at,
});

const toInteraction = (r: Selectable<InteractionsTable>): Interaction => ({
  id: r.id,
  browserDigest: r.browser_digest,
  clientId: r.client_id,
  params: JSON.parse(r.params) as Record<string, string>,
  authenticatedSession: r.authenticated_session,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

const toDevice = (r: Selectable<DeviceCodesTable>): DeviceCode => ({
  deviceDigest: r.device_digest,
  userCode: r.user_code,
  clientId: r.client_id,
  scopes: list(r.scopes),
  channels: list(r.channels),
  status: r.status === 'approved' ? 'approved' : r.status === 'denied' ? 'denied' : 'pending',
  userId: r.user_id,
  grantId: r.grant_id,
  approvedScopes: r.approved_scopes === null ? null : list(r.approved_scopes),
  approvedChannels: r.approved_channels === null ? null : list(r.approved_channels),
  authTime: r.auth_time,
  intervalS: r.interval_s,
  lastPolledAt: r.last_polled_at,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  consumedAt: r.consumed_at,
});

const toDelivery = (r: Selectable<LogoutDeliveriesTable>): LogoutDelivery => ({
  id: r.id,
  clientId: r.client_id,
  sub: r.sub,
  status: r.status === 'delivered' ? 'delivered' : r.status === 'failed' ? 'failed' : 'pending',
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  leaseUntil: r.lease_until,
  lastError: r.last_error,
  createdAt: r.created_at,
});

const toMessage = (r: Selectable<MessagesTable>): Message => ({
  id: r.id,
  clientId: r.client_id,
  userId: r.user_id,
  channel: r.channel,
  subject: r.subject,
  body: r.body,
  idempotencyKey: r.idempotency_key,
  status: r.status === 'sent' ? 'sent' : r.status === 'failed' ? 'failed' : 'queued',
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  leaseUntil: r.lease_until,
  lastError: r.last_error,
  createdAt: r.created_at,
  deliveredAt: r.delivered_at,
});

export function createSqlStore(handle: Db): Store {
  return build(handle.kysely, handle, false);
}

function build(k: Kysely<Database> | Transaction<Database>, handle: Db, inTx: boolean): Store {
  /** A hot, fixed-shape query: compiled once per dialect (compiled.ts). */
  const run = <R>(name: string, shape: (b: Kysely<Database>) => Compilable, args: Args) =>
    runShape<R>(k, handle.dialect.name, name, shape, args);
  const first = async <R>(name: string, shape: (b: Kysely<Database>) => Compilable, args: Args) =>
    (await run<R>(name, shape, args)).rows[0];
  // Cached reads (SQLite): never inside a transaction, which may see uncommitted rows.
  const cache = inTx ? undefined : handle.readCache;
  async function cachedRead<T>(key: string, read: () => Promise<T | undefined>): Promise<T | undefined> {
    if (!cache) return read();
    const found = cache.lookup<T>(key);
    if (found.hit) return found.value;
    const value = await read();
    found.fill(value === undefined ? value : deepFreeze(value));
    return value;
  }
  /** Every write to a cached table (clients, throttles) goes through here. */
  async function writing<T>(run: () => Promise<T>): Promise<T> {
    handle.readCache?.changed();
    try {
      return await run();
    } finally {
      handle.readCache?.changed();
    }
  }
  const changed = async (name: string, shape: (b: Kysely<Database>) => Compilable, args: Args) =>
    Number((await run(name, shape, args)).numAffectedRows ?? 0);

  /**
   * The leased queues (logout deliveries, messages) share status, next_attempt_at and
   * lease_until. One UPDATE picks and leases due rows, so two workers never take the
   * same one (PostgreSQL also skips rows another worker is leasing right now).
   */
  async function claimLeased<T extends 'logout_deliveries' | 'messages'>(table: T, status: string, now: number,
    leaseUntil: number, limit: number): Promise<Selectable<Database[T]>[]> {
    type Leased = { id: string; status: string; next_attempt_at: number; lease_until: number | null };
    const q = k as unknown as Kysely<{ leased: Leased }>;
    const name = table as unknown as 'leased';
    const due = q.selectFrom(name).select('id').where('status', '=', status).where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
      .orderBy('next_attempt_at').limit(limit);
    const rows = await q.updateTable(name).set({ lease_until: leaseUntil })
      .where('id', 'in', handle.dialect.skipLocked(due))
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
      .returningAll().execute();
    return rows as unknown as Selectable<Database[T]>[];
  }

  /** Ends this claim's lease on rows never attempted; a row since leased by another worker is left alone. */
  async function releaseLeased(table: 'logout_deliveries' | 'messages', ids: string[], leaseUntil: number): Promise<number> {
    if (!ids.length) return 0;
    const r = await k.updateTable(table).set({ lease_until: null })
      .where('id', 'in', ids).where('lease_until', '=', leaseUntil).executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  const purgeRepo = createPurgeRepo(k, handle.dialect);
  const store: Store = {
    clients: {
      async insert(c) {
        // The client row and its origins change together (one transaction), so no
        // reader sees one without the other.
        if (!inTx) return store.transaction((tx) => tx.clients.insert(c));
        await writing(() => insertOrConflict('client', async () => {
          await k.insertInto('clients').values(fromClient(c)).execute();
          const origins = originsOf(c);
          if (origins.length) {
            await k.insertInto('client_origins')
              .values(origins.map((origin) => ({ origin, client_id: c.id }))).execute();
          }
        }));
      },
      get(id) {
        return cachedRead(`client:${id}`, async () => {
          const r = await first<Selectable<ClientsTable>>('clients.get',
            (b) => b.selectFrom('clients').selectAll().where('id', '=', param('id')), { id });
          return r && toClient(r);
        });
      },
      async getForUpdate(id) {
        const r = await handle.dialect.forUpdate(k.selectFrom('clients').selectAll().where('id', '=', id)).executeTakeFirst();
        return r && toClient(r);
      },
      async list() {
        const rows = await k.selectFrom('clients').selectAll().orderBy('created_at').orderBy('id').execute();
        return rows.map(toClient);
      },
      async update(c) {
        // Atomic: otherwise hasOrigin answers false between deleting and re-adding the
        // origins of a redirect URI the client keeps (CORS fails during a rename).
        if (!inTx) return store.transaction((tx) => tx.clients.update(c));
        const { id: _id, created_at: _c, ...rest } = fromClient(c);
        await writing(() => k.updateTable('clients').set(rest).where('id', '=', c.id).execute());
        await k.deleteFrom('client_origins').where('client_id', '=', c.id).execute();
        const origins = originsOf(c);
        if (origins.length) {
          await k.insertInto('client_origins')
            .values(origins.map((origin) => ({ origin, client_id: c.id }))).execute();
        }
      },
      async delete(id) {
        const r = await writing(() => k.deleteFrom('clients').where('id', '=', id).executeTakeFirst());
        return Number(r.numDeletedRows) > 0;
      },
      async hasOrigin(origin) {
        const r = await k.selectFrom('client_origins').select('client_id')
          .where('origin', '=', origin).limit(1).executeTakeFirst();
        return r !== undefined;
      },
    },

    users: {
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
    },

    sessions: {
      async insert(s) {
        await k.insertInto('sessions').values({
          id_digest: s.idDigest, user_id: s.userId, auth_time: s.authTime, created_at: s.createdAt,
          expires_at: s.expiresAt,
        }).execute();
      },
      async get(idDigest, now) {
        const r = await first<Selectable<SessionsTable>>('sessions.get', (b) => b.selectFrom('sessions').selectAll()
          .where('id_digest', '=', param('digest')).where('expires_at', '>', param<number>('now')), { digest: idDigest, now });
        return r && { idDigest: r.id_digest, userId: r.user_id, authTime: r.auth_time, createdAt: r.created_at,
          expiresAt: r.expires_at };
      },
      async delete(idDigest) {
        await k.deleteFrom('sessions').where('id_digest', '=', idDigest).execute();
      },
      async deleteByUser(userId) {
        await k.deleteFrom('sessions').where('user_id', '=', userId).execute();
      },
    },

    interactions: {
      async insert(i) {
        await k.insertInto('interactions').values({
          id: i.id, browser_digest: i.browserDigest, client_id: i.clientId, params: json(i.params),
          authenticated_session: i.authenticatedSession, created_at: i.createdAt, expires_at: i.expiresAt,
        }).execute();
      },
      async get(id, now) {
        const r = await k.selectFrom('interactions').selectAll().where('id', '=', id)
          .where('expires_at', '>', now).executeTakeFirst();
        return r && toInteraction(r);
      },
      async setAuthenticatedSession(id, sessionDigest) {
        await k.updateTable('interactions').set({ authenticated_session: sessionDigest }).where('id', '=', id).execute();
      },
      async delete(id) {
        await k.deleteFrom('interactions').where('id', '=', id).execute();
      },
    },

    grants: {
      async get(userId, clientId) {
        const r = await first<Selectable<GrantsTable>>('grants.get', (b) => b.selectFrom('grants').selectAll()
          .where('user_id', '=', param('user')).where('client_id', '=', param('client')), { user: userId, client: clientId });
        return r && toGrant(r);
      },
      async getById(id) {
        const r = await first<Selectable<GrantsTable>>('grants.getById',
          (b) => b.selectFrom('grants').selectAll().where('id', '=', param('id')), { id });
        return r && toGrant(r);
      },
      async getBySub(clientId, sub) {
        const r = await k.selectFrom('grants').selectAll().where('client_id', '=', clientId)
          .where('sub', '=', sub).executeTakeFirst();
        return r && toGrant(r);
      },
      async listByUser(userId) {
        const rows = await k.selectFrom('grants').selectAll().where('user_id', '=', userId)
          .orderBy('created_at').execute();
        return rows.map(toGrant);
      },
      async save(g) {
        // Not `ON CONFLICT (user_id, client_id) DO UPDATE`: PostgreSQL arbitrates only that
        // constraint, so a concurrent save of the same grant (same sub) failed on
        // grants_client_sub with a duplicate key error. DO NOTHING without a target
        // arbitrates every unique constraint (waiting for a racing insert to commit), then
        // the existing (user, client) grant is updated. Rerun if that grant was deleted in
        // between; if there is still none, the conflict is with another grant's id or sub.
        for (let attempt = 0; attempt < 3; attempt++) {
          const inserted = await k.insertInto('grants').values({
            id: g.id, user_id: g.userId, client_id: g.clientId, sub: g.sub, scopes: json(g.scopes),
            channels: json(g.channels), created_at: g.createdAt, updated_at: g.updatedAt, last_used_at: g.lastUsedAt,
          }).onConflict((oc) => oc.doNothing()).returningAll().executeTakeFirst();
          if (inserted) return toGrant(inserted);
          const updated = await k.updateTable('grants')
            .set({ scopes: json(g.scopes), channels: json(g.channels), updated_at: g.updatedAt })
            .where('user_id', '=', g.userId).where('client_id', '=', g.clientId)
            .returningAll().executeTakeFirst();
          if (updated) return toGrant(updated);
        }
        throw new UniqueViolation('grant');
      },
      async touch(id, now) {
        await run('grants.touch', (b) => b.updateTable('grants').set({ last_used_at: param<number>('now') })
          .where('id', '=', param('id')), { id, now });
      },
      async delete(id) {
        const r = await k.deleteFrom('grants').where('id', '=', id).executeTakeFirst();
        return Number(r.numDeletedRows) > 0;
      },
    },

    codes: {
      async insert(c) {
        const row: Selectable<AuthorizationCodesTable> = {
          digest: c.digest, client_id: c.clientId, user_id: c.userId, grant_id: c.grantId, family_id: c.familyId,
          redirect_uri: c.redirectUri, code_challenge: c.codeChallenge, scopes: json(c.scopes),
          channels: json(c.channels), nonce: c.nonce, auth_time: c.authTime, created_at: c.createdAt,
          expires_at: c.expiresAt, consumed_at: c.consumedAt,
        };
        await run('codes.insert', (b) => b.insertInto('authorization_codes').values(placeholders(row)), row);
      },
      async get(digest) {
        const r = await first<Selectable<AuthorizationCodesTable>>('codes.get', (b) => b.selectFrom('authorization_codes')
          .selectAll().where('digest', '=', param('digest')), { digest });
        return r && toCode(r);
      },
      async consume(digest, now) {
        // One conditional UPDATE: the database decides the single winner.
        const r = await first<Selectable<AuthorizationCodesTable>>('codes.consume', (b) => b.updateTable('authorization_codes')
          .set({ consumed_at: param<number>('now') }).where('digest', '=', param('digest')).where('consumed_at', 'is', null)
          .returningAll(), { digest, now });
        return r && toCode(r);
      },
    },

    accessTokens: {
      async insert(t) {
        const row = accessRow(t);
        await run('accessTokens.insert', (b) => b.insertInto('access_tokens').values(placeholders(row)), row);
      },
      async insertWithEvent(t, event) {
        if (!handle.dialect.writableCte || inTx) {
          // SQLite: one transaction is one commit (and far cheaper than two autocommits).
          return store.transaction(async (tx) => {
            await tx.accessTokens.insert(t);
            await tx.audit.append(event);
          });
        }
        // PostgreSQL: one statement, so one round trip, and atomic all the same.
        const token = accessRow(t);
        const ev = auditRow(event);
        const args: Record<string, unknown> = {};
        for (const [key, v] of Object.entries(token)) args[`t_${key}`] = v;
        for (const [key, v] of Object.entries(ev)) args[`e_${key}`] = v;
        await run('accessTokens.insertWithEvent', (b) => b
          .with('t', (w) => w.insertInto('access_tokens').values(placeholders(token, 't_')))
          .insertInto('audit_events').values(placeholders(ev, 'e_')), args);
      },
      async get(digest) {
        const r = await first<Selectable<AccessTokensTable>>('accessTokens.get', (b) => b.selectFrom('access_tokens')
          .selectAll().where('digest', '=', param('digest')), { digest });
        return r && toAccess(r);
      },
      async getWithGrant(digest) {
        const r = await first<Selectable<AccessTokensTable> & GrantColumns>('accessTokens.getWithGrant', (b) => b
          .selectFrom('access_tokens as t').leftJoin('grants as g', 'g.id', 't.grant_id').selectAll('t')
          .select(['g.id as g_id', 'g.user_id as g_user_id', 'g.client_id as g_client_id', 'g.sub as g_sub',
            'g.scopes as g_scopes', 'g.channels as g_channels', 'g.created_at as g_created_at',
            'g.updated_at as g_updated_at', 'g.last_used_at as g_last_used_at'])
          .where('t.digest', '=', param('digest')), { digest });
        if (!r) return undefined;
        const grant = r.g_id === null ? undefined : toGrant({
          id: r.g_id, user_id: r.g_user_id!, client_id: r.g_client_id!, sub: r.g_sub!, scopes: r.g_scopes!,
          channels: r.g_channels!, created_at: r.g_created_at!, updated_at: r.g_updated_at!, last_used_at: r.g_last_used_at,
        });
        return { token: toAccess(r), grant };
      },
      async revoke(digest, now) {
        await k.updateTable('access_tokens').set({ revoked_at: now }).where('digest', '=', digest)
          .where('revoked_at', 'is', null).execute();
      },
    },

    refreshTokens: {
      async insert(t) {
        const row: Selectable<RefreshTokensTable> = {
          digest: t.digest, client_id: t.clientId, user_id: t.userId, grant_id: t.grantId, family_id: t.familyId,
          scopes: json(t.scopes), channels: json(t.channels), auth_time: t.authTime, created_at: t.createdAt,
          expires_at: t.expiresAt, rotated_at: t.rotatedAt, revoked_at: t.revokedAt,
        };
        await run('refreshTokens.insert', (b) => b.insertInto('refresh_tokens').values(placeholders(row)), row);
      },
      async get(digest) {
        const r = await first<Selectable<RefreshTokensTable>>('refreshTokens.get', (b) => b.selectFrom('refresh_tokens')
          .selectAll().where('digest', '=', param('digest')), { digest });
        return r && toRefresh(r);
      },
      async rotate(digest, now) {
        // One conditional UPDATE decides the single winner and returns the token (as codes.consume).
        const r = await first<Selectable<RefreshTokensTable>>('refreshTokens.rotate', (b) => b.updateTable('refresh_tokens')
          .set({ rotated_at: param<number>('now') }).where('digest', '=', param('digest'))
          .where('rotated_at', 'is', null).where('revoked_at', 'is', null).returningAll(), { digest, now });
        return r && toRefresh(r);
      },
      async revoke(digest, now) {
        await k.updateTable('refresh_tokens').set({ revoked_at: now }).where('digest', '=', digest)
          .where('revoked_at', 'is', null).execute();
      },
    },

    families: {
      async revoke(familyId, now) {
        await k.updateTable('access_tokens').set({ revoked_at: now }).where('family_id', '=', familyId)
          .where('revoked_at', 'is', null).execute();
        await k.updateTable('refresh_tokens').set({ revoked_at: now }).where('family_id', '=', familyId)
          .where('revoked_at', 'is', null).execute();
      },
    },

    keys: {
      async list() {
        const { rows } = await run<Selectable<SigningKeysTable>>('keys.list',
          (b) => b.selectFrom('signing_keys').selectAll().orderBy('created_at', 'desc'), {});
        return rows.map((r): SigningKeyRecord => ({
          kid: r.kid, alg: r.alg, publicJwk: r.public_jwk, privateKeyEnc: r.private_key_enc,
          status: r.status === 'active' ? 'active' : 'retired', createdAt: r.created_at, retiredAt: r.retired_at,
        }));
      },
      async insert(key) {
        await k.insertInto('signing_keys').values({
          kid: key.kid, alg: key.alg, public_jwk: key.publicJwk, private_key_enc: key.privateKeyEnc,
          status: key.status, created_at: key.createdAt, retired_at: key.retiredAt,
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
    },

    settings: {
      async get(key) {
        const r = await k.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
        return r?.value;
      },
      async putIfAbsent(key, value) {
        await k.insertInto('settings').values({ key, value }).onConflict((oc) => oc.column('key').doNothing()).execute();
        const r = await k.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirstOrThrow();
        return r.value;
      },
      async lock(key, value) {
        // An upsert that changes nothing still takes the row lock (PostgreSQL) and the
        // write lock (SQLite) until the transaction ends; a concurrent one waits for it.
        await k.insertInto('settings').values({ key, value })
          .onConflict((oc) => oc.column('key').doUpdateSet({ value: (eb) => eb.ref('settings.value') })).execute();
      },
    },

    throttles: {
      get(key) {
        return cachedRead(`throttle:${key}`, async () => {
          const r = await first<Selectable<ThrottlesTable>>('throttles.get',
            (b) => b.selectFrom('throttles').selectAll().where('key', '=', param('key')), { key });
          return r && { key: r.key, failures: r.failures, windowStart: r.window_start, blockedUntil: r.blocked_until };
        });
      },
      lock: (key, now) => writing(async () => {
        await k.insertInto('throttles').values({ key, failures: 0, window_start: now, blocked_until: 0 })
          .onConflict((oc) => oc.column('key').doNothing()).execute();
        // SQLite transactions already run one at a time; PostgreSQL needs the row lock.
        const r = await handle.dialect.forUpdate(k.selectFrom('throttles').selectAll().where('key', '=', key))
          .executeTakeFirstOrThrow();
        return { key: r.key, failures: r.failures, windowStart: r.window_start, blockedUntil: r.blocked_until };
      }),
      put: (t) => writing(async () => {
        const row = { key: t.key, failures: t.failures, window_start: t.windowStart, blocked_until: t.blockedUntil };
        await k.insertInto('throttles').values(row).onConflict((oc) => oc.column('key').doUpdateSet({
          failures: row.failures, window_start: row.window_start, blocked_until: row.blocked_until,
        })).execute();
      }),
      delete: (key) => writing(async () => {
        await k.deleteFrom('throttles').where('key', '=', key).execute();
      }),
    },

    deviceCodes: {
      async insert(d) {
        await insertOrConflict('device code', () => k.insertInto('device_codes').values({
          device_digest: d.deviceDigest, user_code: d.userCode, client_id: d.clientId, scopes: json(d.scopes),
          channels: json(d.channels), status: d.status, user_id: d.userId, grant_id: d.grantId,
          approved_scopes: d.approvedScopes && json(d.approvedScopes), approved_channels: d.approvedChannels && json(d.approvedChannels),
          auth_time: d.authTime, interval_s: d.intervalS, last_polled_at: d.lastPolledAt, created_at: d.createdAt,
          expires_at: d.expiresAt, consumed_at: d.consumedAt,
        }).execute());
      },
      async get(deviceDigest) {
        const r = await k.selectFrom('device_codes').selectAll().where('device_digest', '=', deviceDigest).executeTakeFirst();
        return r && toDevice(r);
      },
      async getPendingByUserCode(userCode, now) {
        const r = await k.selectFrom('device_codes').selectAll().where('user_code', '=', userCode)
          .where('status', '=', 'pending').where('expires_at', '>', now).executeTakeFirst();
        return r && toDevice(r);
      },
      async decide(deviceDigest, d) {
        const r = await k.updateTable('device_codes').set({
          status: d.status, user_id: d.userId, grant_id: d.grantId, approved_scopes: json(d.scopes),
          approved_channels: json(d.channels), auth_time: d.authTime,
        }).where('device_digest', '=', deviceDigest).where('status', '=', 'pending').executeTakeFirst();
        return Number(r.numUpdatedRows) === 1;
      },
      async polled(deviceDigest, now, intervalS) {
        await k.updateTable('device_codes').set({ last_polled_at: now, interval_s: intervalS })
          .where('device_digest', '=', deviceDigest).execute();
      },
      async consume(deviceDigest, now) {
        const r = await k.updateTable('device_codes').set({ consumed_at: now }).where('device_digest', '=', deviceDigest)
          .where('status', '=', 'approved').where('consumed_at', 'is', null).executeTakeFirst();
        return Number(r.numUpdatedRows) === 1;
      },
    },

    logoutDeliveries: {
      async enqueue(rows) {
        if (!rows.length) return;
        await k.insertInto('logout_deliveries').values(rows.map((d) => ({
          id: d.id, client_id: d.clientId, sub: d.sub, status: d.status, attempts: d.attempts,
          next_attempt_at: d.nextAttemptAt, lease_until: d.leaseUntil, last_error: d.lastError, created_at: d.createdAt,
        }))).execute();
      },
      async claim(now, leaseUntil, limit) {
        const rows = await claimLeased('logout_deliveries', 'pending', now, leaseUntil, limit);
        return rows.map(toDelivery);
      },
      async settle(id, r) {
        await k.updateTable('logout_deliveries').set({ status: r.status, attempts: r.attempts,
          next_attempt_at: r.nextAttemptAt, last_error: r.lastError, lease_until: null }).where('id', '=', id).execute();
      },
      release: (ids, leaseUntil) => releaseLeased('logout_deliveries', ids, leaseUntil),
      async get(id) {
        const r = await k.selectFrom('logout_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
        return r && toDelivery(r);
      },
      async listByClient(clientId) {
        const rows = await k.selectFrom('logout_deliveries').selectAll().where('client_id', '=', clientId)
          .orderBy('created_at').execute();
        return rows.map(toDelivery);
      },
    },

    messages: {
      async insert(m) {
        await insertOrConflict('message', () => k.insertInto('messages').values({
          id: m.id, client_id: m.clientId, user_id: m.userId, channel: m.channel, subject: m.subject, body: m.body,
          idempotency_key: m.idempotencyKey, status: m.status, attempts: m.attempts, next_attempt_at: m.nextAttemptAt,
          lease_until: m.leaseUntil, last_error: m.lastError, created_at: m.createdAt, delivered_at: m.deliveredAt,
        }).execute());
      },
      async get(id) {
        const r = await k.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst();
        return r && toMessage(r);
      },
      async getByIdempotencyKey(clientId, key) {
        const r = await k.selectFrom('messages').selectAll().where('client_id', '=', clientId)
          .where('idempotency_key', '=', key).executeTakeFirst();
        return r && toMessage(r);
      },
      async listByUser(userId, limit) {
        const rows = await k.selectFrom('messages').selectAll().where('user_id', '=', userId)
          .orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
        return rows.map(toMessage);
      },
      async countsByUser(userId) {
        const rows = await k.selectFrom('messages').select(['client_id', 'channel', (eb) => eb.fn.countAll<number>().as('n')])
          .where('user_id', '=', userId).groupBy(['client_id', 'channel']).execute();
        return rows.map((r) => ({ clientId: r.client_id, channel: r.channel, count: Number(r.n) }));
      },
      async countSince(clientId, since, userId) {
        let q = k.selectFrom('messages').select((eb) => eb.fn.countAll<number>().as('n'))
          .where('client_id', '=', clientId).where('created_at', '>=', since);
        if (userId) q = q.where('user_id', '=', userId);
        return Number((await q.executeTakeFirstOrThrow()).n);
      },
      async claim(now, leaseUntil, limit) {
        const rows = await claimLeased('messages', 'queued', now, leaseUntil, limit);
        return rows.map(toMessage);
      },
      async settle(id, r) {
        await k.updateTable('messages').set({ status: r.status, attempts: r.attempts, next_attempt_at: r.nextAttemptAt,
          last_error: r.lastError, delivered_at: r.deliveredAt, lease_until: null }).where('id', '=', id).execute();
      },
      release: (ids, leaseUntil) => releaseLeased('messages', ids, leaseUntil),
    },

    audit: createAuditRepo(k, handle.dialect),
    expired: {
      purge: (kind, before, limit) => (kind === 'throttles' ? writing(() => purgeRepo.purge(kind, before, limit))
        : purgeRepo.purge(kind, before, limit)),
    },

    async transaction(fn) {
      if (inTx) return fn(store);
      // PostgreSQL runs it again after a deadlock or serialization failure (postgres/retry.ts).
      return handle.dialect.retrying(() => (k as Kysely<Database>).transaction().execute((trx) => fn(build(trx, handle, true))));
    },
    async ping() {
      await sql`select 1`.execute(k);
    },
    close: () => handle.close(),
  };
  return store;
}
