// Repository interfaces owned by the domain, and the Store that groups them under one
// transaction. One implementation (sql/) serves SQLite and PostgreSQL; the records they
// carry are in types.ts; test/store/contract.ts holds every behaviour promised here.
import type {
  AccessToken, AuditEvent, AuthorizationCode, Client, DeviceCode, Grant, Interaction, LogoutDelivery, Message,
  RefreshToken, Session, SigningKeyRecord, Throttle, User, LinkPurpose, LinkToken, OutboxMail, TotpFactor,
  Passkey, WebauthnChallenge, WebauthnPurpose, RegistrationToken, ClientRegistration, Resource, PushedRequest,
} from './types.js';

export interface DeviceCodeRepo {
  insert(code: DeviceCode): Promise<void>;
  get(deviceDigest: string): Promise<DeviceCode | undefined>;
  /** Only pending, unexpired requests. */
  getPendingByUserCode(userCode: string, now: number): Promise<DeviceCode | undefined>;
  /** Records the user's decision on a pending request; false if it was no longer pending. */
  decide(deviceDigest: string, decision: { status: 'approved' | 'denied'; userId: string; grantId: string | null;
    scopes: string[]; channels: string[]; authTime: number; amr: string[] }): Promise<boolean>;
  /** Records a poll and the (possibly slowed-down) interval. */
  polled(deviceDigest: string, now: number, intervalS: number): Promise<void>;
  /** Marks an approved request redeemed; exactly one concurrent caller wins. */
  consume(deviceDigest: string, now: number): Promise<boolean>;
}

export interface LogoutDeliveryRepo {
  enqueue(rows: LogoutDelivery[]): Promise<void>;
  /**
   * Leases up to `limit` due pending deliveries until `leaseUntil`. A row leased by one
   * worker is not handed to another until its lease ends.
   */
  claim(now: number, leaseUntil: number, limit: number): Promise<LogoutDelivery[]>;
  /** Records an attempt's result and ends the lease. */
  settle(id: string, result: { status: LogoutDelivery['status']; attempts: number; nextAttemptAt: number; lastError: string | null }): Promise<void>;
  /**
   * Hands back claimed deliveries that were never attempted (a worker shutting down), so
   * any worker may take them at once. Only rows still leased until `leaseUntil` (this
   * claim's lease) change; attempts are not counted. Returns how many were released.
   */
  release(ids: string[], leaseUntil: number): Promise<number>;
  get(id: string): Promise<LogoutDelivery | undefined>;
  listByClient(clientId: string): Promise<LogoutDelivery[]>;
}

export interface MessageRepo {
  /** Accepts a message; a (clientId, idempotencyKey) already used → UniqueViolation. */
  insert(message: Message): Promise<void>;
  get(id: string): Promise<Message | undefined>;
  getByIdempotencyKey(clientId: string, key: string): Promise<Message | undefined>;
  /** The user's inbox, newest first. */
  listByUser(userId: string, limit: number): Promise<Message[]>;
  /** Messages per (client, channel) for one user, for the account page. */
  countsByUser(userId: string): Promise<{ clientId: string; channel: string; count: number }[]>;
  /** Messages a client sent since `since` (rate limits); optionally to one user. */
  countSince(clientId: string, since: number, userId?: string): Promise<number>;
  /** Leases up to `limit` due queued messages until `leaseUntil` (one worker per message). */
  claim(now: number, leaseUntil: number, limit: number): Promise<Message[]>;
  settle(id: string, result: { status: Message['status']; attempts: number; nextAttemptAt: number;
    lastError: string | null; deliveredAt: number | null }): Promise<void>;
  /** As LogoutDeliveryRepo.release: unsent claimed messages go back to the queue at once. */
  release(ids: string[], leaseUntil: number): Promise<number>;
}

export interface ClientRepo {
  insert(client: Client): Promise<void>;
  get(id: string): Promise<Client | undefined>;
  /**
   * Inside a transaction: reads the client and keeps others from changing it until the
   * transaction ends (a read-modify-write, such as a secret rotation, never loses a
   * concurrent one). PostgreSQL locks the row; SQLite runs write transactions one at a time.
   */
  getForUpdate(id: string): Promise<Client | undefined>;
  list(): Promise<Client[]>;
  update(client: Client): Promise<void>;
  /** Deletes the client and, by cascade, everything issued to it. */
  delete(id: string): Promise<boolean>;
  /** True when `origin` is the origin of some client's registered redirect URI (CORS). */
  hasOrigin(origin: string): Promise<boolean>;
}

export interface UserRepo {
  insert(user: User): Promise<void>;
  get(id: string): Promise<User | undefined>;
  /** `email` is matched case-insensitively (stored lower-cased). */
  getByEmail(email: string): Promise<User | undefined>;
  update(user: User): Promise<void>;
  /** Every account, oldest first (`aliasid user list`). */
  list(): Promise<User[]>;
  /**
   * Deletes the account and every row tied to it (sessions, grants, codes, tokens, device
   * codes, inbox messages, mailed links, queued account mails, TOTP authenticator and
   * recovery codes) in one transaction; the
   * audit log and queued back-channel logout deliveries stay. False when there was none.
   */
  delete(id: string): Promise<boolean>;
}

export interface SessionRepo {
  /**
   * `authenticates`: an interaction (an authorization request waiting for its sign-in) that
   * this session signed in, marked as InteractionRepo.setAuthenticatedSession does, with
   * the insert: one statement on PostgreSQL. `unlessTotp`: nothing is stored when the
   * session's user has a TOTP factor (a password alone does not sign them in), checked in
   * the insert's own statement. False when nothing was stored.
   */
  insert(session: Session, opts?: { authenticates?: string; unlessTotp?: boolean }): Promise<boolean>;
  /** Returns only unexpired sessions. */
  get(idDigest: string, now: number): Promise<Session | undefined>;
  /** Records that the session was used at `at`. */
  touch(idDigest: string, at: number): Promise<void>;
  delete(idDigest: string): Promise<void>;
  deleteByUser(userId: string): Promise<void>;
  /** Replaces the methods the session's sign-in used (a second factor given later: step-up). */
  setAmr(idDigest: string, amr: string[]): Promise<void>;
  /** The user's unexpired sessions, oldest first (data export). */
  listByUser(userId: string, now: number): Promise<Session[]>;
}

export interface InteractionRepo {
  insert(interaction: Interaction): Promise<void>;
  /** Returns only unexpired interactions. */
  get(id: string, now: number): Promise<Interaction | undefined>;
  setAuthenticatedSession(id: string, sessionDigest: string): Promise<void>;
  delete(id: string): Promise<void>;
}

export interface GrantRepo {
  get(userId: string, clientId: string): Promise<Grant | undefined>;
  getById(id: string): Promise<Grant | undefined>;
  getBySub(clientId: string, sub: string): Promise<Grant | undefined>;
  listByUser(userId: string): Promise<Grant[]>;
  /** Inserts, or replaces scopes/channels of the existing (user, client) grant. */
  save(grant: Grant): Promise<Grant>;
  touch(id: string, now: number): Promise<void>;
  /** Deletes the grant; its codes and tokens go with it (cascade). */
  delete(id: string): Promise<boolean>;
}

/** A code or refresh token just spent, with its grant as stored now and the grant's user's nickname. */
export interface Spent<T> {
  row: T;
  /** Undefined when the grant is gone (revoked by the user). */
  grant?: Grant;
  nickname: string | null;
}

export interface CodeRepo {
  insert(code: AuthorizationCode): Promise<void>;
  get(digest: string): Promise<AuthorizationCode | undefined>;
  /**
   * Marks the code consumed if nobody has yet. Exactly one of any number of concurrent
   * callers gets the code back; the others get undefined.
   */
  consume(digest: string, now: number): Promise<AuthorizationCode | undefined>;
  /** As consume, with the code's grant and its user's nickname (one statement on PostgreSQL). */
  consumeWithGrant(digest: string, now: number): Promise<Spent<AuthorizationCode> | undefined>;
}

export interface AccessTokenRepo {
  insert(token: AccessToken): Promise<void>;
  get(digest: string): Promise<AccessToken | undefined>;
  /**
   * The token, the grant it was issued under and that user's nickname, in one read
   * (userinfo, introspection); `grant` is undefined (and `nickname` null) for client
   * tokens and when the grant is gone.
   */
  getWithGrant(digest: string): Promise<{ token: AccessToken; grant?: Grant; nickname: string | null } | undefined>;
  revoke(digest: string, now: number): Promise<void>;
}

export interface RefreshTokenRepo {
  insert(token: RefreshToken): Promise<void>;
  get(digest: string): Promise<RefreshToken | undefined>;
  /**
   * Marks the token rotated if it is still current (neither rotated nor revoked) and
   * returns it as stored now; undefined if it was not current or is unknown. Exactly one
   * concurrent caller gets the token.
   */
  rotate(digest: string, now: number): Promise<RefreshToken | undefined>;
  /** As rotate, with the token's grant and its user's nickname (one statement on PostgreSQL). */
  rotateWithGrant(digest: string, now: number): Promise<Spent<RefreshToken> | undefined>;
  revoke(digest: string, now: number): Promise<void>;
  /** Records what the rotation of a token issued (its successor and that answer's access token). */
  link(digest: string, next: { refresh: string; access: string }): Promise<void>;
  /**
   * The one retry of a rotated token inside the grace window: marks it retried if it was
   * rotated at or after `rotatedSince`, is not revoked and was never retried; returns it,
   * or undefined. Exactly one concurrent caller gets it (docs/security.md).
   */
  claimRetry(digest: string, now: number, rotatedSince: number): Promise<RefreshToken | undefined>;
  /**
   * Takes back an answer nobody used: marks the token rotated (spent, so a later use is a
   * reuse) if it is still current; returns it, or undefined when it was used or revoked.
   */
  supersede(digest: string, now: number): Promise<RefreshToken | undefined>;
}

/** The rows of one token response (code exchange, refresh, device code, password grant). */
export interface TokenSet {
  access: AccessToken;
  refresh?: RefreshToken;
  /** The refresh token this response rotated, and what it issued (as RefreshTokenRepo.link). */
  rotated?: { digest: string; next: { refresh: string; access: string } };
  /** Records the grant's last use (GrantRepo.touch). */
  touch?: { grantId: string; at: number };
  /** The response's audit event (AuditRepo.append). */
  event?: AuditEvent;
}

export interface TokenSetRepo {
  /**
   * Stores every row of `set` atomically (all or none). One statement where the database
   * allows it (PostgreSQL: one round trip); call it inside the transaction that spent the
   * code or refresh token, or on its own for a token issued outside any other change (a
   * client_credentials token and its event).
   */
  insert(set: TokenSet): Promise<void>;
}

export interface FamilyRepo {
  /** Revokes every access and refresh token of a code's family (RFC 9700 §4.14). */
  revoke(familyId: string, now: number): Promise<void>;
  /**
   * Revokes every access and refresh token of the user, of every app (a password reset or
   * change, a cancelled e-mail change: RFC 9700 §4.14.2). Other users' tokens are untouched.
   */
  revokeByUser(userId: string, now: number): Promise<void>;
}

export interface SigningKeyRepo {
  list(): Promise<SigningKeyRecord[]>;
  insert(key: SigningKeyRecord): Promise<void>;
  /**
   * Retires every other active key of `kid`'s algorithm (`aliasid keys rotate`); keys of
   * other algorithms are left alone.
   */
  retireAllBut(kid: string, now: number): Promise<void>;
  /** Deletes retired keys retired before `before`. */
  deleteRetiredBefore(before: number): Promise<number>;
}

export interface SettingsRepo {
  get(key: string): Promise<string | undefined>;
  /** Stores `value` unless the key exists; returns what is stored afterwards. */
  putIfAbsent(key: string, value: string): Promise<string>;
  /**
   * Inside a transaction: stores `value` unless the key exists, and locks the row until
   * the transaction ends, so transactions locking one key on several nodes run one after
   * another (each sees what the previous one committed). The stored value is kept.
   */
  lock(key: string, value: string): Promise<void>;
}

/** A counter's limits (throttle/throttle.ts ThrottlePolicy). */
export interface CounterPolicy {
  allowed: number;
  windowMs: number;
  baseBlockMs: number;
  maxBlockMs: number;
}

export interface ThrottleRepo {
  get(key: string): Promise<Throttle | undefined>;
  /**
   * Inside a transaction: makes sure the row exists and locks it until the transaction
   * ends, so concurrent failures on several nodes are all counted.
   */
  lock(key: string, now: number): Promise<Throttle>;
  put(throttle: Throttle): Promise<void>;
  /**
   * One attempt counted on each of several distinct counters in one atomic statement, no
   * transaction (issue 16 item 1, with one round trip instead of a locked read and a write
   * per counter): a counter blocked at `now` is not written and its answer is undefined;
   * otherwise the attempt is counted as Throttler.reserve says (throttle/throttle.ts) and
   * the counter after it is the answer, in the order given. Concurrent calls from any node
   * are counted one after another, and never deadlock.
   */
  reserveMany(counters: readonly { key: string; policy: CounterPolicy }[], now: number): Promise<(Throttle | undefined)[]>;
  /**
   * Forgets the counter's failures and block, keeping the row: a reservation waiting on
   * its lock (PostgreSQL) still finds it. No row is made for a key without one.
   */
  reset(key: string): Promise<void>;
  /**
   * Takes one counted attempt back on each of `release` (Throttler.reserve's release: one
   * failure fewer, no block once under the allowance) and reset() on each of `clear` (all
   * keys distinct), in one atomic statement: a successful sign-in's two counters in one
   * round trip.
   */
  settle(release: readonly { key: string; policy: CounterPolicy }[], clear: readonly string[]): Promise<void>;
  delete(key: string): Promise<void>;
}

export interface AuditQuery {
  /** Only events at or after this time. */
  since?: number;
  clientId?: string;
  /** Only events of one user: any of these alias IDs, or this user digest. */
  user?: { subs: string[]; userRef: string };
  limit: number;
}

/** Append-only: rows are never changed; they leave only by age (purgeOlderThan). */
export interface AuditRepo {
  append(event: AuditEvent): Promise<void>;
  /** Newest first (time, then id, descending). */
  query(q: AuditQuery): Promise<AuditEvent[]>;
  /** Every client_id that occurs in the log, deleted clients included (to resolve a user's alias IDs). */
  clientIds(): Promise<string[]>;
  /** Deletes up to `limit` of the oldest events older than `before`; returns how many. */
  purgeOlderThan(before: number, limit: number): Promise<number>;
}

/**
 * Rows the janitor may delete, each kind once it can no longer matter:
 * - interactions, sessions, device_codes, access_tokens: expired before `before`;
 * - refresh_tokens: every refresh token of the family expired before `before` (a rotated
 *   token must outlive its successors: presenting it again revokes the family);
 * - authorization_codes: expired before `before` and no token of its family left (a
 *   reused code revokes its family while there is one);
 * - throttles: window started and any block ended before `before`;
 * - logout_deliveries: delivered or failed, queued before `before`;
 * - webauthn_challenges: expired before `before` (used ones are gone already);
 * - jwt_replays: expired before `before` (the JWT they name is refused by its exp by then);
 * - pushed_authorization_requests: expired before `before` (taken ones are gone already).
 */
export type PurgeKind = 'interactions' | 'sessions' | 'device_codes' | 'access_tokens' | 'refresh_tokens'
  | 'authorization_codes' | 'throttles' | 'logout_deliveries' | 'webauthn_challenges' | 'jwt_replays'
  | 'pushed_authorization_requests';

/** RFC 9126 pushed authorization requests, found by the digest of their request_uri. */
export interface PushedRequestRepo {
  insert(request: PushedRequest): Promise<void>;
  /**
   * Deletes and returns the request when it exists, was pushed by `clientId` and is
   * unexpired at `now`, in one statement (of any number of concurrent takes, one wins:
   * RFC 9126 §4, one-time use). Otherwise nothing changes and undefined comes back.
   */
  take(digest: string, clientId: string, now: number): Promise<PushedRequest | undefined>;
}

/**
 * Single-use JWT ids (RFC 7523 §3 item 7 client assertions, RFC 9449 §11.1 DPoP proofs),
 * shared by every node.
 */
export interface JwtReplayRepo {
  /**
   * Records `key` as used until `expiresAt`. True for the first use; false when the key
   * is already recorded and not expired at `now`. Of any number of concurrent callers
   * with one key, on any node, exactly one gets true. An expired record is taken over.
   */
  claim(key: string, expiresAt: number, now: number): Promise<boolean>;
}

export interface PurgeRepo {
  /** Deletes up to `limit` rows of `kind` (rules above); returns how many. Safe to run on several nodes at once. */
  purge(kind: PurgeKind, before: number, limit: number): Promise<number>;
}

export interface Store {
  clients: ClientRepo;
  users: UserRepo;
  sessions: SessionRepo;
  interactions: InteractionRepo;
  grants: GrantRepo;
  codes: CodeRepo;
  accessTokens: AccessTokenRepo;
  refreshTokens: RefreshTokenRepo;
  /** A token response's rows in one write (issue 17 §3). */
  tokenSets: TokenSetRepo;
  families: FamilyRepo;
  keys: SigningKeyRepo;
  settings: SettingsRepo;
  throttles: ThrottleRepo;
  deviceCodes: DeviceCodeRepo;
  logoutDeliveries: LogoutDeliveryRepo;
  messages: MessageRepo;
  linkTokens: LinkTokenRepo;
  mailOutbox: MailOutboxRepo;
  /** TOTP authenticators and recovery codes (issue 15 §2). */
  secondFactors: SecondFactorRepo;
  passkeys: PasskeyRepo;
  webauthnChallenges: WebauthnChallengeRepo;
  audit: AuditRepo;
  registrationTokens: RegistrationTokenRepo;
  clientRegistrations: ClientRegistrationRepo;
  resources: ResourceRepo;
  /** Expired-row cleanup (src/maintenance/janitor.ts). */
  expired: PurgeRepo;
  jwtReplays: JwtReplayRepo;
  pushedRequests: PushedRequestRepo;
  /**
   * Runs `fn` in one transaction; nested calls join the outer one. When PostgreSQL aborts
   * the transaction for a deadlock or a serialization failure, `fn` runs again (at most
   * three times in all), so it must not have effects outside the database.
   */
  transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
  /** Cheap round trip, for health checks. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export class UniqueViolation extends Error {
  constructor(what: string) {
    super(`${what} already exists`);
    this.name = 'UniqueViolation';
  }
}

/** Single-use mailed links, stored as digests. */
export interface LinkTokenRepo {
  insert(token: LinkToken): Promise<void>;
  /**
   * Marks the link used if it is unused and unexpired, in one statement (of two clicks
   * at once, one wins); returns it then, or undefined.
   */
  use(digest: string, purpose: LinkPurpose, now: number): Promise<LinkToken | undefined>;
  get(digest: string): Promise<LinkToken | undefined>;
  /** Marks every unused link of these purposes of the account used (a newer one replaces them). */
  useAll(userId: string, purposes: LinkPurpose[], now: number): Promise<number>;
}

/** Account mails waiting for the delivery worker; a leased queue. */
export interface MailOutboxRepo {
  insert(mail: OutboxMail): Promise<void>;
  /** Leases up to `limit` due mails until `leaseUntil`; no two workers hold the same one. */
  claim(now: number, leaseUntil: number, limit: number): Promise<OutboxMail[]>;
  /** Ends this claim's lease on mails never attempted. */
  release(ids: string[], leaseUntil: number): Promise<number>;
  /** Sent: the row (and with it the sealed mail) is deleted. */
  remove(id: string): Promise<void>;
  /** Failed for now (retry at `nextAttemptAt`) or for good (`failed`; the sealed mail is emptied). */
  settle(id: string, r: { status: OutboxMail['status']; attempts: number; nextAttemptAt: number; lastError: string }): Promise<void>;
  listByUser(userId: string): Promise<OutboxMail[]>;
}

/** A person's second factors: one TOTP authenticator, and recovery codes as digests. */
export interface SecondFactorRepo {
  getTotp(userId: string): Promise<TotpFactor | undefined>;
  /** Stores a confirmed authenticator; false (nothing changes) when the account has one already. */
  insertTotp(factor: TotpFactor): Promise<boolean>;
  /**
   * Accepts time step `step` when it is later than the last accepted one, in one
   * statement: of two requests carrying the same code, exactly one gets true.
   */
  useTotpStep(userId: string, step: number): Promise<boolean>;
  deleteTotp(userId: string): Promise<boolean>;
  /** The account's recovery codes become exactly these digests (the old set stops working). */
  replaceRecoveryCodes(userId: string, digests: string[], at: number): Promise<void>;
  /** Marks an unused code used, in one statement (of two uses at once, one wins); false otherwise. */
  useRecoveryCode(userId: string, digest: string, at: number): Promise<boolean>;
  /** How many unused recovery codes the account has. */
  countRecoveryCodes(userId: string): Promise<number>;
  deleteRecoveryCodes(userId: string): Promise<void>;
}

/** The passkeys (WebAuthn credentials) of accounts. */
export interface PasskeyRepo {
  /** A credential id already registered (to anyone) → UniqueViolation. */
  insert(passkey: Passkey): Promise<void>;
  getByCredentialId(credentialId: string): Promise<Passkey | undefined>;
  /** Oldest first. */
  listByUser(userId: string): Promise<Passkey[]>;
  /** Renames the user's passkey; false when the user has no passkey `id`. */
  rename(userId: string, id: string, name: string): Promise<boolean>;
  /** Deletes the user's passkey and returns it; undefined when the user has no passkey `id`. */
  delete(userId: string, id: string): Promise<Passkey | undefined>;
  /**
   * Records a sign-in: the new counter, the backup state and the time. Only while the
   * stored counter is still `expectedCounter` (compare-and-set), so of two sign-ins racing
   * with the same counter value one wins; false for the loser.
   */
  recordUse(id: string, expectedCounter: number, use: { counter: number; backupState: boolean; at: number }): Promise<boolean>;
}

/** Challenges of WebAuthn ceremonies in progress: single use, per browser and purpose. */
export interface WebauthnChallengeRepo {
  insert(challenge: WebauthnChallenge): Promise<void>;
  /**
   * Deletes and returns the challenge when it exists, has this purpose, was issued to this
   * browser and is unexpired at `now`, in one statement (of two uses at once, one wins).
   * Otherwise nothing changes and undefined comes back.
   */
  take(digest: string, purpose: WebauthnPurpose, browserDigest: string, now: number): Promise<WebauthnChallenge | undefined>;
}

/** Initial access tokens for dynamic client registration (RFC 7591 §3), stored as digests. */
export interface RegistrationTokenRepo {
  insert(token: RegistrationToken): Promise<void>;
  get(digest: string): Promise<RegistrationToken | undefined>;
  /**
   * Spends one use of an unexpired token with uses left, in one conditional statement (of
   * any number of concurrent registrations, at most `usesLeft` succeed); true when spent.
   */
  spend(digest: string, now: number): Promise<boolean>;
}

/** The registration access token of each self-registered client (RFC 7592), as a digest. */
export interface ClientRegistrationRepo {
  /** A client has at most one: a second insert for it → UniqueViolation. */
  insert(registration: ClientRegistration): Promise<void>;
  /** Gone with its client (cascade). */
  get(clientId: string): Promise<ClientRegistration | undefined>;
}

/**
 * Resource servers (RFC 8707) registered by the operator. Deleting one leaves tokens
 * already issued for it to expire; no new token names it (its URI is unknown then).
 */
export interface ResourceRepo {
  /** A URI already registered → UniqueViolation. */
  insert(resource: Resource): Promise<void>;
  get(uri: string): Promise<Resource | undefined>;
  /** Oldest first. */
  list(): Promise<Resource[]>;
  /** False when there was none. */
  delete(uri: string): Promise<boolean>;
}
