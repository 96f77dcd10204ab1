import type { Store } from '../store/store.js';
import type { Client } from '../store/types.js';
import type { RawParams } from '../oauth/params.js';
import type { TokenIssuer } from '../tokens/issuer.js';
import type { Audit } from '../audit/audit.js';
import type { Accounts } from '../accounts/users.js';
import type { Consent } from '../consent/grants.js';
import type { KeyService } from '../tokens/keys.js';

/**
 * What grant handlers may use, and nothing more. Built once when the token endpoint is
 * registered, so a request costs no more than before: one context literal.
 */
export interface GrantServices {
  store: Store;
  tokens: TokenIssuer;
  audit: Pick<Audit, 'event' | 'record'>;
  now: () => number;
  /** The password grant: the sign-in page's password check and lockout. */
  accounts: Pick<Accounts, 'login'>;
  /** The password grant: typing the password into the client is the user's consent. */
  consent: Pick<Consent, 'record'>;
  /** RFC 9068: client-credentials JWT access tokens are signed with the ID token keys, by this issuer. */
  keys: KeyService;
  issuer: string;
  /** The refresh grant: how long a retry after a lost answer may use the old token (ms; 0: never). */
  refreshReuseGraceMs: number;
}

export interface GrantContext {
  s: GrantServices;
  /** Authenticated (RFC 6749 §2.3), and given this grant type at registration. */
  client: Client;
  /** The form, without repeated parameters (RFC 6749 §3.2). */
  params: RawParams;
  /** The caller's address, for counting failures (password grant). */
  source: string;
  /** RFC 9449: the thumbprint of the key of the request's valid DPoP proof, if it sent one. */
  dpopJkt?: string;
}

/**
 * A grant type a client can be registered for: what the client registry checks
 * (`aliasid client create --grant-type`, the admin API) and discovery advertises.
 */
export interface ClientGrantType {
  grantType: string;
  /** Only for confidential clients: a public client cannot be registered with it. */
  confidentialOnly: boolean;
  /** Goes through the authorization endpoint, so the client needs a redirect URI. */
  needsRedirectUri: boolean;
}

/** One token-endpoint grant type: RFC 6749 §4 / §6 and extensions, one file each. */
export interface GrantHandler extends ClientGrantType {
  /** The request parameters it reads, besides grant_type and client authentication. */
  params: readonly string[];
  handle(ctx: GrantContext): Promise<Record<string, unknown>>;
}
