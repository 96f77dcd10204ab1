// The Store over Kysely: one code base for SQLite and PostgreSQL, one file per repository
// in this folder. What differs between the two databases is the Dialect (../dialect.ts).
import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from '../schema.js';
import type { Db } from '../db.js';
import type { Store } from '../store.js';
import { sqlContext } from './context.js';
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

export function createSqlStore(handle: Db): Store {
  return build(handle.kysely, handle, false);
}

/** The store on `k`: the database itself, or (`inTx`) one transaction on it. */
function build(k: Kysely<Database> | Transaction<Database>, handle: Db, inTx: boolean): Store {
  const s = sqlContext(k, handle, inTx, (fn) => store.transaction(fn));
  const store: Store = {
    clients: createClientRepo(s),
    users: createUserRepo(s),
    sessions: createSessionRepo(s),
    interactions: createInteractionRepo(s),
    grants: createGrantRepo(s),
    codes: createCodeRepo(s),
    accessTokens: createAccessTokenRepo(s),
    refreshTokens: createRefreshTokenRepo(s),
    tokenSets: createTokenSetRepo(s),
    families: createFamilyRepo(s),
    keys: createSigningKeyRepo(s),
    settings: createSettingsRepo(s),
    throttles: createThrottleRepo(s),
    deviceCodes: createDeviceCodeRepo(s),
    logoutDeliveries: createLogoutDeliveryRepo(s),
    messages: createMessageRepo(s),
    linkTokens: createLinkTokenRepo(s),
    mailOutbox: createMailOutboxRepo(s),
    secondFactors: createSecondFactorRepo(s),
    passkeys: createPasskeyRepo(s),
    webauthnChallenges: createWebauthnChallengeRepo(s),
    audit: createAuditRepo(s),
    registrationTokens: createRegistrationTokenRepo(s),
    clientRegistrations: createClientRegistrationRepo(s),
    resources: createResourceRepo(s),
    expired: createPurgeRepo(s),
    jwtReplays: createJwtReplayRepo(s),
    pushedRequests: createPushedRequestRepo(s),

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
