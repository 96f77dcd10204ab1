// Kysely table types. Times are epoch milliseconds (bigint in PostgreSQL, read back as
// numbers); lists are JSON text so one schema serves SQLite and PostgreSQL alike.
import type { Generated } from 'kysely';

export interface ClientsTable {
  id: string;
  name: string;
  secret_digest: string | null;
  /** Digest of the previous secret while a rotation overlap lasts. */
  previous_secret_digest: string | null;
  previous_secret_expires_at: number | null;
  /** client_secret_jwt only: the secret sealed with ALIAS_SECRET (migration 020), and the previous one during an overlap. */
  secret_sealed: string | null;
  previous_secret_sealed: string | null;
  is_public: number;
  redirect_uris: string;
  post_logout_redirect_uris: string;
  grant_types: string;
  scopes: string;
  channels: string;
  backchannel_logout_uri: string | null;
  /** RS256 or ES256 (OIDC Dynamic Client Registration §2). */
  id_token_signed_response_alg: string;
  /** RFC 7591 §2 (migration 011): none, client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt. */
  token_endpoint_auth_method: string;
  /** RFC 7591 §2: the client's JWK Set (JSON text), or where to fetch it. */
  jwks: string | null;
  jwks_uri: string | null;
  /** RFC 9126 §6. */
  require_pushed_authorization_requests: number;
  /** RFC 9449 §5.2. */
  dpop_bound_access_tokens: number;
  /** Every sign-in for this client reaches urn:alias:acr:mfa. */
  require_mfa: number;
  logo_uri: string | null;
  policy_uri: string | null;
  tos_uri: string | null;
  client_uri: string | null;
  created_at: number;
  updated_at: number;
}

export interface ClientOriginsTable {
  origin: string;
  client_id: string;
}

export interface UsersTable {
  id: string;
  email: string;
  password_hash: string;
  nickname: string | null;
  /** 1 once the address is proven (migration 008; operator-made accounts are 1). */
  email_verified: number;
  created_at: number;
  updated_at: number;
}

export interface SessionsTable {
  id_digest: string;
  user_id: string;
  auth_time: number;
  /** Migration 010: RFC 8176 methods as a JSON list; NULL on older rows means ["pwd"]. */
  amr: string | null;
  created_at: number;
  expires_at: number;
  /** Migration 009: a coarse browser and system label; when the session was last used. */
  device: string | null;
  last_seen_at: number | null;
}

export interface InteractionsTable {
  id: string;
  browser_digest: string;
  client_id: string;
  params: string;
  /** Set once the user signed in during this interaction (prompt=login, max_age). */
  authenticated_session: string | null;
  created_at: number;
  expires_at: number;
}

export interface GrantsTable {
  id: string;
  user_id: string;
  client_id: string;
  sub: string;
  scopes: string;
  channels: string;
  created_at: number;
  updated_at: number;
  last_used_at: number | null;
}

export interface AuthorizationCodesTable {
  digest: string;
  client_id: string;
  user_id: string;
  grant_id: string;
  family_id: string;
  redirect_uri: string;
  code_challenge: string | null;
  scopes: string;
  channels: string;
  nonce: string | null;
  auth_time: number;
  /** Migration 010: RFC 8176 methods as a JSON list; NULL on older rows means ["pwd"]. */
  amr: string | null;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
  /** Migration 015: RFC 9449 §10 dpop_jkt. */
  dpop_jkt: string | null;
  /** Migration 017: RFC 8707 resources granted (JSON list). */
  resources: string | null;
}

export interface AccessTokensTable {
  digest: string;
  client_id: string;
  user_id: string | null;
  grant_id: string | null;
  family_id: string | null;
  scopes: string;
  channels: string;
  created_at: number;
  expires_at: number;
  revoked_at: number | null;
  /** Migration 015: RFC 9449 §6 cnf.jkt. */
  dpop_jkt: string | null;
  /** Migration 017: RFC 8707 the resource (audience) the token is for. */
  resource: string | null;
}

export interface RefreshTokensTable {
  digest: string;
  client_id: string;
  user_id: string;
  grant_id: string;
  family_id: string;
  scopes: string;
  channels: string;
  auth_time: number;
  created_at: number;
  expires_at: number;
  rotated_at: number | null;
  revoked_at: number | null;
  /** Migration 015: RFC 9449 §5, public clients' refresh tokens. */
  dpop_jkt: string | null;
  /** Migration 017: RFC 8707 resources granted (JSON list). */
  resources: string | null;
  /** Migration 018: digests of the refresh and access token this token's rotation issued. */
  next_digest: string | null;
  next_access_digest: string | null;
  /** Migration 018: when the one grace-window retry of this (rotated) token was answered. */
  retried_at: number | null;
}

/** Migration 017: resource servers (RFC 8707) registered by the operator. */
export interface ResourcesTable {
  uri: string;
  name: string;
  scopes: string;
  token_format: string;
  ttl: number;
  created_at: number;
}

/** Migration 015: single-use JWT ids (RFC 7523 §3 item 7, RFC 9449 §11.1). */
export interface JwtReplaysTable {
  key: string;
  expires_at: number;
}

export interface SigningKeysTable {
  kid: string;
  alg: string;
  public_jwk: string;
  private_key_enc: string;
  status: string;
  created_at: number;
  retired_at: number | null;
  /** Null only for a key inserted by a node from before migration 019 (rolling upgrade). */
  activates_at: number | null;
}

export interface SettingsTable {
  key: string;
  value: string;
}

export interface ThrottlesTable {
  key: string;
  failures: number;
  window_start: number;
  blocked_until: number;
}

export interface DeviceCodesTable {
  device_digest: string;
  user_code: string;
  client_id: string;
  scopes: string;
  channels: string;
  status: string;
  user_id: string | null;
  grant_id: string | null;
  approved_scopes: string | null;
  approved_channels: string | null;
  auth_time: number | null;
  /** Migration 010: RFC 8176 methods as a JSON list; NULL on older rows means ["pwd"]. */
  amr: string | null;
  interval_s: number;
  last_polled_at: number | null;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
}

export interface LogoutDeliveriesTable {
  id: string;
  client_id: string;
  sub: string;
  status: string;
  attempts: number;
  next_attempt_at: number;
  lease_until: number | null;
  last_error: string | null;
  created_at: number;
}

export interface MessagesTable {
  id: string;
  client_id: string;
  user_id: string;
  channel: string;
  subject: string;
  body: string;
  idempotency_key: string | null;
  status: string;
  attempts: number;
  next_attempt_at: number;
  lease_until: number | null;
  last_error: string | null;
  created_at: number;
  delivered_at: number | null;
}

export interface AuditEventsTable {
  id: string;
  at: number;
  type: string;
  outcome: string;
  client_id: string | null;
  sub: string | null;
  user_ref: string | null;
  ip_digest: string | null;
  detail: string | null;
}

export interface MigrationsLogTable {
  id: Generated<number>;
}

export interface Database {
  clients: ClientsTable;
  client_origins: ClientOriginsTable;
  users: UsersTable;
  sessions: SessionsTable;
  interactions: InteractionsTable;
  grants: GrantsTable;
  authorization_codes: AuthorizationCodesTable;
  access_tokens: AccessTokensTable;
  refresh_tokens: RefreshTokensTable;
  signing_keys: SigningKeysTable;
  settings: SettingsTable;
  throttles: ThrottlesTable;
  device_codes: DeviceCodesTable;
  logout_deliveries: LogoutDeliveriesTable;
  messages: MessagesTable;
  audit_events: AuditEventsTable;
  account_tokens: AccountTokensTable;
  mail_outbox: MailOutboxTable;
  totp_factors: TotpFactorsTable;
  recovery_codes: RecoveryCodesTable;
  passkeys: PasskeysTable;
  webauthn_challenges: WebauthnChallengesTable;
  jwt_replays: JwtReplaysTable;
  registration_tokens: RegistrationTokensTable;
  client_registrations: ClientRegistrationsTable;
  resources: ResourcesTable;
  pushed_authorization_requests: PushedAuthorizationRequestsTable;
}

/** RFC 9126 pushed authorization requests (migration 016): `params` is a JSON object of strings. */
export interface PushedAuthorizationRequestsTable {
  digest: string;
  client_id: string;
  params: string;
  created_at: number;
  expires_at: number;
}

/** RFC 7591 §3 initial access tokens (migration 014). */
export interface RegistrationTokensTable {
  digest: string;
  uses_left: number;
  created_at: number;
  expires_at: number;
}

/** RFC 7592 §1.1: the registration access token of a client that registered itself. */
export interface ClientRegistrationsTable {
  client_id: string;
  access_token_digest: string;
  created_at: number;
}

export interface AccountTokensTable {
  digest: string;
  purpose: string;
  user_id: string;
  /** JSON object of strings. */
  data: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

export interface MailOutboxTable {
  id: string;
  user_id: string | null;
  purpose: string;
  /** The whole mail, AES-256-GCM sealed; empty once given up. */
  sealed: string;
  status: string;
  attempts: number;
  next_attempt_at: number;
  lease_until: number | null;
  last_error: string | null;
  created_at: number;
}

/** Migration 013: one confirmed TOTP authenticator per account. */
export interface TotpFactorsTable {
  user_id: string;
  /** The base32 secret, sealed (crypto/secrets.ts, purpose totp-secrets). */
  secret_sealed: string;
  /** The RFC 6238 time step of the last accepted code. */
  last_step: number;
  created_at: number;
}

/** Migration 013: recovery codes, as keyed digests. */
export interface RecoveryCodesTable {
  user_id: string;
  digest: string;
  created_at: number;
  used_at: number | null;
}

export interface PasskeysTable {
  id: string;
  user_id: string;
  credential_id: string;
  public_key: string;
  counter: number;
  /** JSON list of transport names. */
  transports: string;
  backup_eligible: number;
  backup_state: number;
  device_type: string;
  name: string;
  created_at: number;
  last_used_at: number | null;
}

export interface WebauthnChallengesTable {
  digest: string;
  purpose: string;
  browser_digest: string;
  user_id: string | null;
  created_at: number;
  expires_at: number;
}
