// The domain's records, as the repositories in store.ts take and return them. Times are
// epoch milliseconds; digests are of secrets never stored (tokens, codes, session ids).
import type { SigningAlg } from '../oauth/signing_algs.js';
import type { TokenEndpointAuthMethod } from '../oauth/client_auth.js';

export interface Channel {
  name: string;
  description: string;
}

export interface Client {
  id: string;
  name: string;
  /** SHA-256 digest of the client secret; null for public clients. */
  secretDigest: string | null;
  previousSecretDigest: string | null;
  previousSecretExpiresAt: number | null;
  /**
   * client_secret_jwt only (RFC 7523 §2.2): the secret itself, sealed (crypto/secrets.ts),
   * since an HMAC assertion cannot be checked against a digest; and the previous one while
   * a rotation overlap lasts. Null for every other client.
   */
  secretSealed: string | null;
  previousSecretSealed: string | null;
  isPublic: boolean;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  grantTypes: string[];
  /** Client-level scopes (client_credentials). */
  scopes: string[];
  channels: Channel[];
  /** OpenID Connect Back-Channel Logout 1.0 endpoint, if registered. */
  backchannelLogoutUri: string | null;
  /** Signs this client's ID tokens and logout tokens (OIDC Dynamic Client Registration §2). */
  idTokenSignedResponseAlg: SigningAlg;
  /** How it authenticates at the token endpoint (RFC 7591 §2); `none` for public clients. */
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  /** Its public keys for private_key_jwt (RFC 7523): inline, or where to fetch them. */
  jwks: { keys: Record<string, unknown>[] } | null;
  jwksUri: string | null;
  /** RFC 9126 §6: authorization requests must be pushed first. */
  requirePushedAuthorizationRequests: boolean;
  /** RFC 9449 §5.2: access tokens are always DPoP-bound. */
  dpopBoundAccessTokens: boolean;
  /** Every sign-in for this client must reach urn:alias:acr:mfa. */
  requireMfa: boolean;
  /** Shown on the consent page (RFC 7591 §2). */
  logoUri: string | null;
  policyUri: string | null;
  tosUri: string | null;
  clientUri: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface User {
  id: string;
  email: string;
  /** argon2id; null for an account that signs in with passkeys only (issue 15 §1: sign-up with a passkey). */
  passwordHash: string | null;
  nickname: string | null;
  /** The person opened a verification link sent to `email` (or an operator vouched). */
  emailVerified: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface Session {
  idDigest: string;
  userId: string;
  authTime: number;
  createdAt: number;
  expiresAt: number;
  /** A coarse label of the browser and system ("Firefox on Linux"), never the raw User-Agent. */
  device: string | null;
  /** Updated at most every few minutes while the session is used. */
  lastSeenAt: number | null;
  /** How the person signed in (RFC 8176 values), e.g. ["pwd"] or ["hwk", "user"]. */
  amr: string[];
}

export interface Interaction {
  id: string;
  browserDigest: string;
  clientId: string;
  params: Record<string, string>;
  authenticatedSession: string | null;
  createdAt: number;
  expiresAt: number;
}

/** What one user allowed one client: the consent record. */
export interface Grant {
  id: string;
  userId: string;
  clientId: string;
  /** The pairwise subject (alias ID) of this user at this client. */
  sub: string;
  scopes: string[];
  channels: string[];
  createdAt: number;
  updatedAt: number;
  lastUsedAt: number | null;
}

export interface AuthorizationCode {
  digest: string;
  clientId: string;
  userId: string;
  grantId: string;
  /** Every token minted from this code shares it, so reuse can revoke them together. */
  familyId: string;
  redirectUri: string;
  codeChallenge: string | null;
  scopes: string[];
  channels: string[];
  nonce: string | null;
  authTime: number;
  /** The session's sign-in methods (RFC 8176), for the ID token. */
  amr: string[];
  createdAt: number;
  expiresAt: number;
  consumedAt: number | null;
  /** RFC 9449 §10: the thumbprint of the key the client named with dpop_jkt. */
  dpopJkt?: string | null;
  /** RFC 8707 §2.2: the resources the user granted; a token request picks one. */
  resources?: string[];
}

export interface AccessToken {
  digest: string;
  clientId: string;
  userId: string | null;
  grantId: string | null;
  familyId: string | null;
  scopes: string[];
  channels: string[];
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
  /** RFC 9449 §6: the JWK thumbprint (RFC 7638) the token is bound to; null for Bearer tokens. */
  dpopJkt?: string | null;
  /** RFC 8707: the one resource (audience) the token is for; absent for Alias's own APIs. */
  resource?: string | null;
}

export interface RefreshToken {
  digest: string;
  clientId: string;
  userId: string;
  grantId: string;
  familyId: string;
  scopes: string[];
  channels: string[];
  authTime: number;
  createdAt: number;
  expiresAt: number;
  rotatedAt: number | null;
  revokedAt: number | null;
  /** RFC 9449 §5: a public client's refresh token is bound to its DPoP key. */
  dpopJkt?: string | null;
  /** RFC 8707 §2.2: the resources the code granted; each refresh picks one. */
  resources?: string[];
  /** Digests of the refresh and access token the rotation of this token issued (set once rotated). */
  nextDigest?: string | null;
  nextAccessDigest?: string | null;
  /** When the one retry of this rotated token inside the grace window was answered. */
  retriedAt?: number | null;
}

/** A resource server (API) registered by the operator (RFC 8707): `aliasid resource create`. */
export interface Resource {
  /** RFC 8707 §2: absolute URI, no fragment; the `aud` of its access tokens. */
  uri: string;
  name: string;
  /** The scope names the API understands; offered on the consent page with its name. */
  scopes: string[];
  /** 'opaque' (default) or 'jwt' (RFC 9068). */
  tokenFormat: 'opaque' | 'jwt';
  /** Access token lifetime, seconds. */
  ttlS: number;
  createdAt: number;
}

export interface SigningKeyRecord {
  kid: string;
  alg: string;
  publicJwk: string;
  /** Private key, encrypted under the key derived from ALIAS_SECRET. */
  privateKeyEnc: string;
  status: 'active' | 'retired';
  createdAt: number;
  retiredAt: number | null;
  /** From then on it signs; published in JWKS from `createdAt`. */
  activatesAt: number;
}

export interface Throttle {
  key: string;
  failures: number;
  windowStart: number;
  blockedUntil: number;
}

export interface DeviceCode {
  deviceDigest: string;
  /** Normalised: upper case, no dash. */
  userCode: string;
  clientId: string;
  scopes: string[];
  channels: string[];
  status: 'pending' | 'approved' | 'denied';
  userId: string | null;
  grantId: string | null;
  approvedScopes: string[] | null;
  approvedChannels: string[] | null;
  authTime: number | null;
  /** The deciding session's sign-in methods (RFC 8176); null until approved. */
  amr: string[] | null;
  intervalS: number;
  lastPolledAt: number | null;
  createdAt: number;
  expiresAt: number;
  consumedAt: number | null;
}

export interface LogoutDelivery {
  id: string;
  clientId: string;
  /** The user's pairwise subject at that client. */
  sub: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: number;
  leaseUntil: number | null;
  lastError: string | null;
  createdAt: number;
}

export interface Message {
  id: string;
  clientId: string;
  userId: string;
  channel: string;
  subject: string;
  body: string;
  idempotencyKey: string | null;
  /** queued → sent, or failed after the last retry. */
  status: 'queued' | 'sent' | 'failed';
  attempts: number;
  nextAttemptAt: number;
  leaseUntil: number | null;
  lastError: string | null;
  createdAt: number;
  deliveredAt: number | null;
}

/** Security events (src/audit/audit.ts decides what is recorded and how it is keyed). */
export type AuditEventType =
  | 'login' | 'logout'
  | 'account.deleted' | 'account.exported'
  | 'consent.granted' | 'consent.revoked'
  | 'token.issued' | 'token.revoked'
  | 'code.reused' | 'refresh_token.reused'
  | 'admin.client.created' | 'admin.client.updated' | 'admin.client.deleted'
  | 'admin.user.created' | 'admin.keys.rotated'
  | 'password.reset' | 'password.changed' | 'email.change_requested' | 'email.changed' | 'email.change_cancelled'
  | 'signup' | 'email.verified'
  | 'mfa.enabled' | 'mfa.disabled' | 'mfa.recovery_codes.renewed' | 'mfa.recovery_code.used' | 'mfa.verified'
  | 'passkey.added' | 'passkey.removed' | 'passkey.clone_warning'
  | 'client.registered' | 'client.registration_updated' | 'client.registration_deleted' | 'admin.registration_token.created'
  | 'admin.resource.created' | 'admin.resource.deleted';

export interface AuditEvent {
  id: string;
  at: number;
  type: AuditEventType;
  outcome: 'success' | 'failure';
  clientId: string | null;
  /** The user's alias ID (pairwise sub) at `clientId`. */
  sub: string | null;
  /** Keyed digest of the internal user id, only for events without a client. */
  userRef: string | null;
  /** Keyed digest of the caller's IP address; never the address itself. */
  ipDigest: string | null;
  /** Short, secret-free context: a grant type, a scope name, where a sign-in happened. */
  detail: string | null;
}

/** A single-use link mailed about an account (accounts/link_tokens.ts). */
export type LinkPurpose = 'verify_email' | 'reset_password' | 'change_email' | 'cancel_email_change'
  /** Not mailed: the password was right and the second factor is still to come (issue 15 §2). */
  | 'second_factor';


export interface LinkToken {
  digest: string;
  purpose: LinkPurpose;
  userId: string;
  /** What the link needs to finish (the new address, the pending authorization). */
  data: Record<string, string>;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
}

/** An account mail waiting for the delivery worker (mail/outbox.ts). */
export interface OutboxMail {
  id: string;
  /** The account it is about; null once the account is gone (the deletion notice). */
  userId: string | null;
  /** verify, reset, password_changed, …: for the operator's eyes, never the content. */
  purpose: string;
  sealed: string;
  status: 'queued' | 'failed';
  attempts: number;
  nextAttemptAt: number;
  leaseUntil: number | null;
  lastError: string | null;
  createdAt: number;
}

/** A confirmed TOTP authenticator (RFC 6238), migration 013. */
export interface TotpFactor {
  userId: string;
  /** Sealed base32 secret; opened only to check a code. */
  secretSealed: string;
  /** The time step of the last accepted code (a code is never accepted twice). */
  lastStep: number;
  createdAt: number;
}

/** A registered passkey (WebAuthn credential) of an account (accounts/passkeys.ts). */
export interface Passkey {
  /** Alias's own id (hex), used in the account page's URLs. */
  id: string;
  userId: string;
  /** The WebAuthn credential id, base64url. */
  credentialId: string;
  /** The COSE public key, base64url. */
  publicKey: string;
  /** The signature counter last seen (0 for authenticators that keep none). */
  counter: number;
  transports: string[];
  backupEligible: boolean;
  backupState: boolean;
  /** singleDevice or multiDevice (synced), from the backup-eligible flag. */
  deviceType: 'singleDevice' | 'multiDevice';
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

/** `signup`: a passkey for an account that does not exist yet (its id comes from the challenge). */
export type WebauthnPurpose = 'register' | 'authenticate' | 'signup';

/** A WebAuthn ceremony's challenge, stored as its digest. */
export interface WebauthnChallenge {
  digest: string;
  purpose: WebauthnPurpose;
  /** Digest of the alias_browser cookie that asked for it. */
  browserDigest: string;
  /** Registration: the account the passkey is for. */
  userId: string | null;
  createdAt: number;
  expiresAt: number;
}

/** An initial access token (RFC 7591 §3): `aliasid registration-token create`. */
/** RFC 9126: an authorization request pushed by a client, validated, waiting for its request_uri. */
export interface PushedRequest {
  /** Digest of the request_uri. */
  digest: string;
  clientId: string;
  /** The validated request in its canonical parameter form (authorize/park.ts). */
  params: Record<string, string>;
  createdAt: number;
  expiresAt: number;
}

export interface RegistrationToken {
  digest: string;
  /** Registrations it may still make. */
  usesLeft: number;
  createdAt: number;
  expiresAt: number;
}

/** How a self-registered client manages its registration (RFC 7592 §1.1). */
export interface ClientRegistration {
  clientId: string;
  accessTokenDigest: string;
  createdAt: number;
}
