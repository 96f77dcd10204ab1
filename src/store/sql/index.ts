// The Store over Kysely: one code base for SQLite and PostgreSQL, one file per repository
// in this folder. What differs between the two databases is the Dialect (../dialect.ts).
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../schema.js';
import type { Db } from '../db.js';
import type { Store } from '../store.js';
import { sqlContext, type Sql } from './context.js';
import { createClientRepo } from './clients.js';
import { createUserRepo } from './users.js';
import { createSessionRepo } from './sessions.js';
import { createInteractionRepo } from './interactions.js';
import { createGrantRepo } from './grants.js';
import { createCodeRepo } from './codes.js';
import { createAccessTokenRepo } from './access_tokens.js';
import { createRefreshTokenRepo } from './refresh_tokens.js';
import { createFamilyRepo } from './families.js';
import { createSigningKeyRepo } from './keys.js';
import { createSettingsRepo } from './settings.js';
import { createThrottleRepo } from './throttles.js';
import { createDeviceCodeRepo } from './device_codes.js';
import { createLogoutDeliveryRepo } from './logout_deliveries.js';
import { createMessageRepo } from './messages.js';
import { createAuditRepo } from './audit.js';
import { createLinkTokenRepo } from './link_tokens.js';
import { createMailOutboxRepo } from './mail_outbox.js';
import { createPurgeRepo } from './purge.js';
import { createSecondFactorRepo } from './second_factors.js';
import { createPasskeyRepo, createWebauthnChallengeRepo } from './passkeys.js';
import { createJwtReplayRepo } from './jwt_replays.js';
import { createPushedRequestRepo } from './pushed_requests.js';
import { createClientRegistrationRepo, createRegistrationTokenRepo } from './registrations.js';
import { createResourceRepo } from './resources.js';
import { createTokenSetRepo } from './token_sets.js';

/** Every repository, by its name in Store, and how it is made. */
const REPOSITORIES = {
  clients: createClientRepo,
  users: createUserRepo,
  sessions: createSessionRepo,
  interactions: createInteractionRepo,
  grants: createGrantRepo,
  codes: createCodeRepo,
  accessTokens: createAccessTokenRepo,
  refreshTokens: createRefreshTokenRepo,
  tokenSets: createTokenSetRepo,
  families: createFamilyRepo,
  keys: createSigningKeyRepo,
  settings: createSettingsRepo,
  throttles: createThrottleRepo,
  deviceCodes: createDeviceCodeRepo,
  logoutDeliveries: createLogoutDeliveryRepo,
  messages: createMessageRepo,
  linkTokens: createLinkTokenRepo,
  mailOutbox: createMailOutboxRepo,
  secondFactors: createSecondFactorRepo,
  passkeys: createPasskeyRepo,
  webauthnChallenges: createWebauthnChallengeRepo,
  audit: createAuditRepo,
  registrationTokens: createRegistrationTokenRepo,
  clientRegistrations: createClientRegistrationRepo,
  resources: createResourceRepo,
  expired: createPurgeRepo,
  jwtReplays: createJwtReplayRepo,
  pushedRequests: createPushedRequestRepo,
} satisfies { [K in Exclude<keyof Store, 'transaction' | 'ping' | 'close'>]: (s: Sql) => Store[K] };

const CTX = Symbol('sql');
const HANDLE = Symbol('handle');
const IN_TX = Symbol('inTx');
const MADE = Symbol('made');

/**
 * The store on `k`: the database itself, or (`inTx`) one transaction on it. A repository is
 * made the first time it is used: a transaction touches two or three of the 28, and making
 * all of them (a few hundred closures) for each one showed as 9 % garbage collection in a
 * client-credentials request (bench/README.md).
 */
class SqlStore {
  // Symbol keys, not #private fields: code may wrap a store with Object.create (a test
  // that overrides one method), and a #field read through such a wrapper throws.
  readonly [CTX]: Sql;
  readonly [HANDLE]: Db;
  readonly [IN_TX]: boolean;
  /** The repositories made so far. */
  readonly [MADE]: Partial<Record<keyof typeof REPOSITORIES, unknown>> = {};

  constructor(k: Kysely<Database> | Transaction<Database>, handle: Db, inTx: boolean) {
    this[HANDLE] = handle;
    this[IN_TX] = inTx;
    this[CTX] = sqlContext(k, handle, inTx, (fn) => this.transaction(fn));
  }

  async transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T> {
    if (this[IN_TX]) return fn(this as unknown as Store);
    const k = this[CTX].k as Kysely<Database>;
    const handle = this[HANDLE];
    // PostgreSQL runs it again after a deadlock or serialization failure (postgres/retry.ts).
    return handle.dialect.retrying(() => k.transaction().execute((trx) => fn(new SqlStore(trx, handle, true) as unknown as Store)));
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this[CTX].k);
  }

  close(): Promise<void> {
    return this[HANDLE].close();
  }
}

// One getter per repository on the prototype: `store.accessTokens` makes it on first use.
for (const name of Object.keys(REPOSITORIES) as (keyof typeof REPOSITORIES)[]) {
  const make = REPOSITORIES[name] as (s: Sql) => unknown;
  Object.defineProperty(SqlStore.prototype, name, {
    get(this: SqlStore) { return (this[MADE][name] ??= make(this[CTX])); },
    enumerable: true,
  });
}

export function createSqlStore(handle: Db): Store {
  return new SqlStore(handle.kysely, handle, false) as unknown as Store;
}
