// Builds the plain service objects every entry point (server, CLI, tests) shares.
import { resolve } from 'node:path';
import { createBackground, type Background } from './queue/background.js';
import type { Config } from './config/config.js';
import { migrate, openDatabase, type Db, isPostgresUrl } from './store/db.js';
import { createSqlStore } from './store/sql/index.js';
import type { Store } from './store/store.js';
import { createSecondFactors, type SecondFactors } from './accounts/second_factor.js';
import { createSecrets, loadOrCreateSecretFile, type Secrets } from './crypto/secrets.js';
import { createThrottler, type Throttler } from './throttle/throttle.js';
import type { RedisConnection } from './throttle/redis.js';
import { createKeyService, type KeyService } from './tokens/keys.js';
import { createPairwise, type PairwiseSubject } from './tokens/pairwise.js';
import { createTokenIssuer, type TokenIssuer } from './tokens/issuer.js';
import { createClientRegistry, type ClientRegistry } from './clients/registry.js';
import { createAssertionVerifier } from './clients/assertion.js';
import { createJwksFetcher } from './clients/jwks_fetch.js';
import { createDpopChecker, type DpopChecker } from './tokens/dpop.js';
import { createDpopNonces } from './crypto/dpop_nonce.js';
import { createRegistration, type Registration } from './clients/registration.js';
import { createAccounts, type Accounts } from './accounts/users.js';
import { createSessions, type Sessions } from './accounts/sessions.js';
import { createConsent, type Consent } from './consent/grants.js';
import { createDeviceFlow, type DeviceFlow } from './device/device_flow.js';
import { createBackchannel, type Backchannel } from './logout/backchannel.js';
import { createRelay, type Relay } from './relay/relay.js';
import { createRelayWorker, type RelayWorker } from './relay/worker.js';
import { createUnsubscribe, type Unsubscribe } from './relay/unsubscribe.js';
import { createAudit, type Audit } from './audit/audit.js';
import { createJanitor, type Janitor } from './maintenance/janitor.js';
import { pino } from 'pino';
import { createMailTransport, type MailTransport } from './mail/transport.js';
import { createAccountMailer, type AccountMailer } from './mail/outbox.js';
import { createLinkTokens, type LinkTokens } from './accounts/link_tokens.js';
import { createSignup, type Signup } from './accounts/signup.js';
import { createPasskeys, type Passkeys } from './accounts/passkeys.js';
import { defaultFrom } from './relay/mail.js';
import { namedIfUnreachable } from './store/unavailable.js';

export type Clock = () => number;

export interface Services {
  config: Config;
  db: Db;
  store: Store;
  now: Clock;
  secrets: Secrets;
  throttle: Throttler;
  keys: KeyService;
  pairwise: PairwiseSubject;
  tokens: TokenIssuer;
  clients: ClientRegistry;
  /** RFC 9449 proofs: checked with nonces and single use across nodes. */
  dpop: DpopChecker;
  /** Dynamic client registration (RFC 7591) and its management (RFC 7592). */
  registration: Registration;
  accounts: Accounts;
  /** Browser sessions: start, read, end, end everywhere. */
  sessions: Sessions;
  /** TOTP and recovery codes (issue 15 §2). */
  secondFactors: SecondFactors;
  consent: Consent;
  /** The device authorization grant's codes and the user's decision on them. */
  deviceFlow: DeviceFlow;
  backchannel: Backchannel;
  /** Security events (append-only audit log). */
  audit: Audit;
  /** How mail leaves Alias: SMTP, .eml files, or not at all. */
  mail: MailTransport;
  /** Account mails (verification, reset, notices): queued in a transaction, sent by the delivery worker. */
  accountMail: AccountMailer;
  /** Single-use links mailed about an account. */
  links: LinkTokens;
  /** Sign-up, e-mail verification and "send the link again". */
  signup: Signup;
  /** Passkeys (WebAuthn): registration, sign-in, the person's list. */
  passkeys: Passkeys;
  /** The contact relay: accepts messages into the outbox. */
  relay: Relay;
  /** One-click unsubscribe links from relayed mail. */
  unsubscribe: Unsubscribe;
  /** Delivers the outbox (started by serve and `aliasid worker`). */
  relayWorker: RelayWorker;
  /** Deletes expired rows and old audit events (started by serve). */
  janitor: Janitor;
  /** Work started after an answer was sent; close() waits for it. */
  background: Background;
  close(): Promise<void>;
}

export interface ServiceOptions {
  now?: Clock;
  /** PostgreSQL schema (tests). */
  schema?: string;
  /** Apply migrations first (serve and migrate do; other commands expect a migrated database). */
  migrate?: boolean;
}

export function secretFor(config: Config): string {
  if (config.secret) return config.secret;
  if (isPostgresUrl(config.db)) throw new Error('ALIAS_SECRET is required with PostgreSQL');
  return loadOrCreateSecretFile(resolve(config.db));
}

export async function createServices(config: Config, opts: ServiceOptions = {}): Promise<Services> {
  const now = opts.now ?? Date.now;
  let db: Db;
  try {
    db = openDatabase(config.db, { schema: opts.schema });
  } catch (err) {
    throw namedIfUnreachable(config.db, err);
  }
  let redis: RedisConnection | undefined;
  try {
    if (opts.migrate ?? true) await migrate(db);
    const store = createSqlStore(db);
    const secrets = createSecrets(secretFor(config));
    const logger = pino({ level: config.logLevel, base: undefined });
    let throttle: Throttler = createThrottler(store, now);
    if (config.redisUrl) {
      const log = (level: 'warn' | 'info', msg: string, fields: Record<string, unknown> = {}) => logger[level](fields, msg);
      // Loaded only when configured: ioredis is a fifth of every CLI command's start-up.
      const { connectRedis, createRedisThrottler, withFallback } = await import('./throttle/redis.js');
      redis = await connectRedis(config.redisUrl, log, config.redisPrefix);
      throttle = withFallback(createRedisThrottler(redis.redis, { prefix: config.redisPrefix, now }), throttle, log,
        { down: !redis.connected });
    }
    const keys = createKeyService(store, secrets, now);
    const background = createBackground();
    const pairwise = await createPairwise(store);
    const audit = createAudit({ store, secrets, pairwise, now });
    const tokens = createTokenIssuer({
      issuer: config.issuer,
      keys,
      now,
      nickname: async (userId, tx) => (await tx.users.get(userId))?.nickname ?? null,
    });
    const backchannel = createBackchannel({ store, keys, issuer: config.issuer, now, log: (msg, fields) => logger.warn(fields, msg) });
    const consent = createConsent(store, pairwise, now, audit);
    const mail = createMailTransport({ smtpUrl: config.smtpUrl, mailDir: config.mailDir, dkim: config.dkim });
    const warn = (msg: string, fields: Record<string, unknown>) => logger.warn(fields, msg);
    const accountMail = createAccountMailer({ outbox: store.mailOutbox, sealer: secrets, transport: mail, issuer: config.issuer,
      from: config.smtpFrom ?? defaultFrom(config.issuer), now, kick: () => relayWorker.kick(), log: warn });
    const relayWorker = createRelayWorker({ store, secrets, issuer: config.issuer, now, transport: mail, accountMails: accountMail,
      from: config.smtpFrom, log: (msg, fields) => logger.warn(fields, msg) });
    const links = createLinkTokens(now);
    const clients = createClientRegistry(store, throttle, now, secrets, createAssertionVerifier({
      store, jwks: createJwksFetcher(now), secrets,
      // RFC 7523bis: the issuer; the token endpoint (DESIGN: POST /api/oauth2/token) too.
      audiences: [config.issuer, `${config.issuer}/api/oauth2/token`], now }));
    return {
      config, db, store, now, secrets, throttle, keys, pairwise, tokens, mail, accountMail, links,
      signup: createSignup({ store, throttle, links, accountMail, audit, issuer: config.issuer, now }),
      passkeys: createPasskeys({ store, audit, accountMail, throttle, issuer: config.issuer, now }),
      clients,
      dpop: createDpopChecker({ store, nonces: createDpopNonces(secrets, now), now }),
      registration: createRegistration({ store, clients, throttle, audit, now, mode: config.registration,
        issuer: config.issuer }),
      accounts: createAccounts(store, throttle, now, audit),
      sessions: createSessions({ store, backchannel, audit, now }),
      secondFactors: createSecondFactors({ store, secrets, throttle, audit, accountMail, issuer: config.issuer, now }),
      consent,
      deviceFlow: createDeviceFlow({ store, consent, throttle, now }),
      audit,
      backchannel,
      relay: createRelay({ store, now, onAccepted: () => relayWorker.kick() }),
      unsubscribe: createUnsubscribe({ secrets, consent }),
      relayWorker,
      janitor: createJanitor({ store, now, auditRetentionDays: config.auditRetentionDays,
        log: (msg, fields) => logger.warn(fields, msg) }),
      background,
      async close() {
        // Work promised by an answer already sent (a reset mail) finishes before the database closes.
        await background.settled();
        await redis?.close();
        await db.close();
      },
    };
  } catch (err) {
    await redis?.close().catch(() => {});
    await db.close().catch(() => {});
    // The first queries run here: an unreachable database is named, so the operator
    // sees which one (DESIGN: serve exits non-zero at once naming it).
    throw namedIfUnreachable(db.location, err);
  }
}
