// Client registration and authentication, shared by the CLI, the admin API and the
// token endpoint.
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/store.js';
import type { Channel, Client } from '../store/types.js';
import { OAuthError } from '../oauth/errors.js';
import { registrationProblem } from '../oauth/redirect_uri.js';
import { isUserScope, META_CHANNEL } from '../oauth/scopes.js';
import type { ClientCredentials } from '../oauth/client_auth.js';
import { isRegistrableAuthMethod, REGISTRABLE_AUTH_METHODS, usesClientSecret } from '../oauth/auth_methods.js';
import { httpsUrlProblem, jwksProblem } from '../oauth/client_metadata.js';
import { matchesDigest, nameDigest } from '../tokens/opaque.js';
import { POLICIES, type Throttler } from '../throttle/throttle.js';
import { unsafeText } from '../oauth/text.js';
import { DEFAULT_SIGNING_ALG, SIGNING_ALGS, isSigningAlg } from '../oauth/signing_algs.js';
import { CLIENT_GRANT_TYPES, clientGrantType } from '../grants/index.js';
import type { AssertionVerifier } from './assertion.js';
import { freshSecret, keepsSealedSecret, secretForMethod, type SecretFields, type SecretSealer } from './sealed_secret.js';

/** The grant types a client can be given (src/grants/index.ts is the one list). */
export const GRANT_TYPES: readonly string[] = CLIENT_GRANT_TYPES.map((g) => g.grantType);
/** Those that come back through a redirect URI. */
const REDIRECTED = CLIENT_GRANT_TYPES.filter((g) => g.needsRedirectUri).map((g) => g.grantType);
const NAME_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,64}$/;

/** RFC 7591 §2 metadata a client has unless it registers otherwise (for records built by hand, e.g. tests). */
export const CLIENT_METADATA_DEFAULTS = {
  secretSealed: null, previousSecretSealed: null,
  jwks: null, jwksUri: null, requirePushedAuthorizationRequests: false, dpopBoundAccessTokens: false, requireMfa: false,
  logoUri: null, policyUri: null, tosUri: null, clientUri: null,
} as const satisfies Partial<Client>;

/** The records' fields a client registers (everything but its id, secrets and times). */
export type ClientFields = Omit<Client, 'id' | keyof SecretFields | 'createdAt' | 'updatedAt'>;

export interface NewClient {
  /** Fixed id (demo mode); normally generated. */
  id?: string;
  name: string;
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  isPublic?: boolean;
  grantTypes?: string[];
  scopes?: string[];
  /** `name` or `name:description`, or objects. */
  channels?: (string | Channel)[];
  backchannelLogoutUri?: string | null;
  /** id_token_signed_response_alg (OIDC Dynamic Client Registration §2): RS256 (default) or ES256. */
  idTokenSignedResponseAlg?: string;
  /**
   * RFC 7591 §2: how it authenticates at the token endpoint. Default: `none` for public
   * clients, `client_secret_basic` otherwise. `none` exactly when the client is public.
   */
  tokenEndpointAuthMethod?: string;
  jwks?: unknown;
  jwksUri?: string | null;
  requirePushedAuthorizationRequests?: boolean;
  dpopBoundAccessTokens?: boolean;
  requireMfa?: boolean;
  /** Shown on the consent page: https URLs (RFC 7591 §2). */
  logoUri?: string | null;
  policyUri?: string | null;
  tosUri?: string | null;
  clientUri?: string | null;
}

/** Which RFC 7591 §3.2.2 error a refused registration is. */
export type ClientInputCode = 'invalid_redirect_uri' | 'invalid_client_metadata';

export class ClientInputError extends Error {
  readonly code: ClientInputCode;
  constructor(message: string, code: ClientInputCode = 'invalid_client_metadata') {
    super(message);
    this.name = 'ClientInputError';
    this.code = code;
  }
}

/**
 * How a field is named in error messages: the CLI's flags, or the RFC 7591 metadata
 * names (dynamic registration). The rules are the same for both.
 */
export type FieldNames = 'cli' | 'metadata';
const NAMES = {
  name: ['--name', 'client_name'],
  redirectUri: ['--redirect-uri', 'redirect_uris'],
  postLogout: ['--post-logout-redirect-uri', 'post_logout_redirect_uris'],
  grantType: ['--grant-type', 'grant_types'],
  scope: ['--scope', 'scope'],
  channel: ['--channel', 'alias_channels'],
  backchannel: ['--backchannel-logout-uri', 'backchannel_logout_uri'],
  alg: ['--id-token-alg', 'id_token_signed_response_alg'],
  method: ['--token-endpoint-auth-method', 'token_endpoint_auth_method'],
  public: ['--public', "token_endpoint_auth_method 'none'"],
  jwks: ['--jwks', 'jwks'],
  jwksUri: ['--jwks-uri', 'jwks_uri'],
  logoUri: ['--logo-uri', 'logo_uri'],
  policyUri: ['--policy-uri', 'policy_uri'],
  tosUri: ['--tos-uri', 'tos_uri'],
  clientUri: ['--client-uri', 'client_uri'],
} as const;

/** Bounds on lists, so one registration cannot store megabytes. */
export const CLIENT_LIMITS = { uris: 100, scopes: 100, channels: 50 } as const;

function parseChannel(c: string | Channel): Channel {
  if (typeof c !== 'string') return c;
  const i = c.indexOf(':');
  const name = i === -1 ? c : c.slice(0, i);
  const description = i === -1 ? '' : c.slice(i + 1).trim();
  return { name, description: description || name };
}

/**
 * The one validation of a client's registration, for the CLI (`client create/update`) and
 * dynamic registration (RFC 7591) alike: returns the fields to store, or throws a
 * ClientInputError naming the field (with the RFC 7591 §3.2.2 code).
 */
export function validateClient(input: NewClient, names: FieldNames = 'cli'): ClientFields {
  const n = (field: keyof typeof NAMES) => NAMES[field][names === 'cli' ? 0 : 1];
  const bad = (message: string) => new ClientInputError(message);
  const badUri = (message: string) => new ClientInputError(message, 'invalid_redirect_uri');
  // No controls, bidi overrides or invisible characters in any field (issue 16 items 8, 9):
  // names and descriptions reach consent pages and mail footers.
  const fieldText = (label: string, value: string | null | undefined, err = bad) => {
    const problem = value ? unsafeText(value) : undefined;
    if (problem) throw err(`${label} contains ${problem}`);
  };
  fieldText(n('name'), input.name);
  if (input.id !== undefined) fieldText('the client id', input.id);
  for (const uri of [...input.redirectUris ?? [], ...input.postLogoutRedirectUris ?? []]) {
    fieldText(`the URI '${JSON.stringify(uri).slice(1, -1)}'`, uri, (input.redirectUris ?? []).includes(uri) ? badUri : bad);
  }
  fieldText(n('backchannel'), input.backchannelLogoutUri);
  for (const sc of input.scopes ?? []) fieldText(n('scope'), sc);
  for (const raw of input.channels ?? []) {
    if (typeof raw === 'string') fieldText(n('channel'), raw);
    else { fieldText(n('channel'), raw.name); fieldText(n('channel'), raw.description); }
  }
  for (const field of ['logoUri', 'policyUri', 'tosUri', 'clientUri', 'jwksUri'] as const) fieldText(n(field), input[field]);
  const name = input.name?.trim();
  if (!name) throw bad(`a client needs a ${n('name')}`);
  if (name.length > 200) throw bad(`${n('name')} is longer than 200 characters`);
  const isPublic = input.isPublic ?? false;

  // RFC 7591 §2: token_endpoint_auth_method; `none` is what makes a client public.
  const tokenEndpointAuthMethod = input.tokenEndpointAuthMethod ?? (isPublic ? 'none' : 'client_secret_basic');
  if (!isRegistrableAuthMethod(tokenEndpointAuthMethod)) {
    throw bad(`unknown ${n('method')} '${tokenEndpointAuthMethod}' (known: ${REGISTRABLE_AUTH_METHODS.join(', ')})`);
  }
  if (isPublic && tokenEndpointAuthMethod !== 'none') {
    throw bad(`a public client authenticates with 'none', not '${tokenEndpointAuthMethod}'`);
  }
  if (!isPublic && tokenEndpointAuthMethod === 'none') {
    throw bad(`${n('method')} 'none' is for public clients: use ${n('public')}`);
  }

  const grantTypes = [...new Set(input.grantTypes?.length ? input.grantTypes : ['authorization_code'])];
  for (const g of grantTypes) {
    const known = clientGrantType(g);
    if (!known) throw bad(`unknown grant type '${g}' (known: ${GRANT_TYPES.join(', ')})`);
    if (isPublic && known.confidentialOnly) throw bad(`a public client cannot use the '${g}' grant type`);
  }
  const redirectUris = [...new Set(input.redirectUris ?? [])];
  if (redirectUris.length > CLIENT_LIMITS.uris) throw badUri(`at most ${CLIENT_LIMITS.uris} redirect URIs`);
  for (const uri of redirectUris) {
    const problem = registrationProblem(uri);
    if (problem) throw badUri(`redirect URI '${uri}' ${problem}`);
  }
  if (redirectUris.length === 0 && grantTypes.some((g) => REDIRECTED.includes(g))) {
    throw badUri(`the ${REDIRECTED.join(' and ')} grant types need at least one ${n('redirectUri')}`);
  }
  const postLogoutRedirectUris = [...new Set(input.postLogoutRedirectUris ?? [])];
  if (postLogoutRedirectUris.length > CLIENT_LIMITS.uris) throw bad(`at most ${CLIENT_LIMITS.uris} post-logout redirect URIs`);
  for (const uri of postLogoutRedirectUris) {
    const problem = registrationProblem(uri);
    if (problem) throw bad(`post-logout redirect URI '${uri}' ${problem}`);
  }
  const scopes = [...new Set(input.scopes ?? [])];
  if (scopes.length > CLIENT_LIMITS.scopes) throw bad(`at most ${CLIENT_LIMITS.scopes} scopes`);
  for (const s of scopes) {
    if (!NAME_TOKEN.test(s)) throw bad(`scope '${s}' is not a valid scope token`);
    if (isUserScope(s)) throw bad(`'${s}' is a user scope, open to every client; ${n('scope')} registers client-level scopes`);
  }
  if ((input.channels ?? []).length > CLIENT_LIMITS.channels) throw bad(`at most ${CLIENT_LIMITS.channels} channels`);
  const channels: Channel[] = [];
  for (const raw of input.channels ?? []) {
    const c = parseChannel(raw);
    if (!NAME_TOKEN.test(c.name)) throw bad(`channel '${c.name}' is not a valid name (no spaces or quotes, at most 64 characters)`);
    if (c.name === META_CHANNEL) throw bad(`'${META_CHANNEL}' is reserved and always granted with contact`);
    if (channels.some((x) => x.name === c.name)) throw bad(`channel '${c.name}' is given twice`);
    if (c.description.length > 500) throw bad(`the description of channel '${c.name}' is longer than 500 characters`);
    channels.push(c);
  }
  const backchannelLogoutUri = input.backchannelLogoutUri ?? null;
  if (backchannelLogoutUri !== null) {
    const problem = registrationProblem(backchannelLogoutUri);
    // Back-Channel Logout §2.2: an absolute http(s) URI; Alias POSTs to it server to server.
    if (problem || !/^https?:/.test(backchannelLogoutUri)) {
      throw bad(`back-channel logout URI '${backchannelLogoutUri}' ${problem ?? 'must be https (or http on loopback)'}`);
    }
  }
  const idTokenSignedResponseAlg = input.idTokenSignedResponseAlg ?? DEFAULT_SIGNING_ALG;
  // Only what Alias signs with: a client registered for an algorithm it cannot verify
  // would reject every ID token (DCR §2: the OP signs with the registered algorithm).
  if (!isSigningAlg(idTokenSignedResponseAlg)) {
    throw bad(`unsupported ID token signing algorithm '${idTokenSignedResponseAlg}' (supported: ${SIGNING_ALGS.join(', ')})`);
  }

  // RFC 7591 §2: jwks and jwks_uri MUST NOT both be present; public keys only.
  const jwks = input.jwks ?? null;
  const jwksUri = input.jwksUri ?? null;
  if (jwks !== null && jwksUri !== null) throw bad(`give ${n('jwks')} or ${n('jwksUri')}, not both (RFC 7591 §2)`);
  if (jwks !== null) {
    const problem = jwksProblem(jwks);
    if (problem) throw bad(`${n('jwks')} ${problem}`);
  }
  if (jwksUri !== null) {
    const problem = httpsUrlProblem(jwksUri);
    if (problem) throw bad(`${n('jwksUri')} '${jwksUri}' ${problem}`);
  }
  if (tokenEndpointAuthMethod === 'private_key_jwt' && jwks === null && jwksUri === null) {
    throw bad(`private_key_jwt needs the client's public keys: ${n('jwks')} or ${n('jwksUri')}`);
  }
  const display: Pick<Client, 'logoUri' | 'policyUri' | 'tosUri' | 'clientUri'> = { logoUri: null, policyUri: null, tosUri: null, clientUri: null };
  for (const field of ['logoUri', 'policyUri', 'tosUri', 'clientUri'] as const) {
    const value = input[field] ?? null;
    if (value === null) continue;
    const problem = httpsUrlProblem(value);
    if (problem) throw bad(`${n(field)} '${value}' ${problem}`);
    // Normalised, so the consent page's CSP names exactly the logo's origin.
    display[field] = new URL(value).href;
  }
  return {
    name, isPublic, grantTypes, redirectUris, postLogoutRedirectUris, scopes, channels, backchannelLogoutUri,
    idTokenSignedResponseAlg, tokenEndpointAuthMethod,
    jwks: jwks as Client['jwks'], jwksUri,
    requirePushedAuthorizationRequests: input.requirePushedAuthorizationRequests ?? false,
    dpopBoundAccessTokens: input.dpopBoundAccessTokens ?? false,
    requireMfa: input.requireMfa ?? false,
    ...display,
  };
}

/** The registration input that reproduces a stored client (a change starts from it). */
export function clientInput(c: Client): NewClient {
  return {
    name: c.name, redirectUris: c.redirectUris, postLogoutRedirectUris: c.postLogoutRedirectUris, isPublic: c.isPublic,
    grantTypes: c.grantTypes, scopes: c.scopes, channels: c.channels, backchannelLogoutUri: c.backchannelLogoutUri,
    idTokenSignedResponseAlg: c.idTokenSignedResponseAlg, tokenEndpointAuthMethod: c.tokenEndpointAuthMethod,
    jwks: c.jwks, jwksUri: c.jwksUri, requirePushedAuthorizationRequests: c.requirePushedAuthorizationRequests,
    dpopBoundAccessTokens: c.dpopBoundAccessTokens, requireMfa: c.requireMfa,
    logoUri: c.logoUri, policyUri: c.policyUri, tosUri: c.tosUri, clientUri: c.clientUri,
  };
}

/** RFC 7591 §3.2.1 client information response. */
export function clientInformation(client: Client, secret?: string): Record<string, unknown> {
  return {
    client_id: client.id,
    ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}),
    client_id_issued_at: Math.floor(client.createdAt / 1000),
    client_name: client.name,
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    ...(client.backchannelLogoutUri ? { backchannel_logout_uri: client.backchannelLogoutUri, backchannel_logout_session_required: false } : {}),
    grant_types: client.grantTypes,
    response_types: [
      ...(client.grantTypes.includes('authorization_code') ? ['code'] : []),
      ...(client.grantTypes.includes('implicit') ? ['id_token'] : []),
    ],
    token_endpoint_auth_method: client.tokenEndpointAuthMethod,
    dpop_bound_access_tokens: client.dpopBoundAccessTokens,
    // RFC 9126 §6.
    require_pushed_authorization_requests: client.requirePushedAuthorizationRequests,
    id_token_signed_response_alg: client.idTokenSignedResponseAlg,
    scope: client.scopes.join(' '),
    ...(client.jwks ? { jwks: client.jwks } : {}),
    ...(client.jwksUri ? { jwks_uri: client.jwksUri } : {}),
    ...(client.logoUri ? { logo_uri: client.logoUri } : {}),
    ...(client.policyUri ? { policy_uri: client.policyUri } : {}),
    ...(client.tosUri ? { tos_uri: client.tosUri } : {}),
    ...(client.clientUri ? { client_uri: client.clientUri } : {}),
    // Alias's extension (RFC 7591 §2 allows more members): the message channels users may grant.
    alias_channels: client.channels,
    // Alias's own member (issue 15 §3): ID tokens for this client always say urn:alias:acr:mfa.
    require_mfa: client.requireMfa,
  };
}

export interface ClientRegistry {
  /** `tx`: inside that transaction; `names`: how errors name fields (CLI flags or RFC 7591 metadata). */
  create(input: NewClient, opts?: { tx?: Store; names?: FieldNames }): Promise<{ client: Client; secret?: string }>;
  get(id: string): Promise<Client | undefined>;
  list(): Promise<Client[]>;
  delete(id: string): Promise<boolean>;
  /**
   * Authenticates a client (RFC 6749 §2.3) by the method it registered
   * (token_endpoint_auth_method). Throws invalid_client. `basicForAnySecret`: an endpoint
   * whose body is not a form (the relay's JSON API) takes any client secret over HTTP Basic,
   * since client_secret_post is defined for form bodies only (RFC 6749 §2.3.1).
   */
  authenticate(creds: ClientCredentials | undefined, source?: string, opts?: { basicForAnySecret?: boolean }): Promise<Client>;
  /**
   * Gives a confidential client a new secret (returned once; only its digest is stored).
   * The secret it replaces keeps working for `overlapMs` (0: stops at once). There is one
   * previous secret at most: rotating during an overlap ends the older one at once.
   */
  rotateSecret(id: string, overlapMs: number): Promise<{ client: Client; secret: string }>;
  /**
   * The secret fields `current` needs to authenticate with `method` from now on (sealed
   * copies kept only for client_secret_jwt; a new secret, returned once, when it becomes
   * client_secret_jwt without one Alias can read). For `client update` and RFC 7592 PUT.
   */
  secretForMethod(current: Client, method: Client['tokenEndpointAuthMethod']): { fields: SecretFields; secret?: string };
}

/**
 * Counter keys by what they name. Every authenticated request needs both of its keys, and
 * they repeat (a client calls from a few addresses): nameDigest's map lookup instead of
 * two SHA-256. Nothing secret is named: client ids, sources and secret digests.
 */
const counterKey = (prefix: string, named: string): string => prefix + nameDigest(named);

/** The throttle key under which authenticate() counts a client_id's failed secrets. */
const secretFailuresKey = (clientId: string) => counterKey('client:', clientId);
/**
 * The per-(client_id, source) counter. It names the client's current secret digest, so a
 * rotation (a new secret) starts every source's count afresh, as it clears the ceiling.
 */
const secretSourceKey = (clientId: string, source: string, client: Client | undefined) =>
  counterKey('client-source:', `${clientId}\n${source}\n${client?.secretDigest ?? ''}`);

export function createClientRegistry(store: Store, throttle: Throttler, now: () => number,
  /** Seals the secrets of client_secret_jwt clients (sealed_secret.ts). */
  sealer: SecretSealer,
  /** private_key_jwt and client_secret_jwt (RFC 7523); without it, client assertions are refused. */
  assertions?: AssertionVerifier): ClientRegistry {
  return {
    async create(input, opts = {}) {
      const fields = validateClient(input, opts.names);
      const t = now();
      const minted = usesClientSecret(fields.tokenEndpointAuthMethod) ? freshSecret(fields.tokenEndpointAuthMethod, sealer) : undefined;
      const secret = minted?.secret;
      const client: Client = {
        ...fields,
        requireMfa: input.requireMfa ?? fields.requireMfa,
        id: input.id ?? randomBytes(16).toString('hex'),
        ...minted?.fields ?? { secretDigest: null, secretSealed: null, previousSecretDigest: null, previousSecretSealed: null, previousSecretExpiresAt: null },
        createdAt: t,
        updatedAt: t,
      };
      await (opts.tx ?? store).clients.insert(client);
      return { client, secret };
    },
    get: (id) => store.clients.get(id),
    list: () => store.clients.list(),
    delete: (id) => store.clients.delete(id),
    async authenticate(creds, source = '', opts = {}) {
      if (!creds) throw new OAuthError('invalid_client', 'client authentication is required', { status: 401 });
      const client = await store.clients.get(creds.clientId);
      const refuse = (why: string): never => {
        throw new OAuthError('invalid_client', 'client authentication failed', { status: 401, detail: why });
      };
      // Nothing guessed, nothing counted (issue 16 item 2): a public client has no secret,
      // and a request without a secret guesses none. A client_id is public (RFC 6749 §2.1).
      if (client?.isPublic) {
        if (creds.method !== 'none') refuse('public client presented a secret');
        return client;
      }
      const assertion = creds.method === 'client_assertion' ? creds.clientAssertion : undefined;
      if (assertion === undefined && (creds.method === 'none' || creds.clientSecret === undefined)) {
        refuse(client ? 'confidential client without a secret' : 'unknown client');
      }
      // Per client_id and source (nobody can lock a client out for every caller), under a
      // high per-client ceiling that still slows a guesser spread over many addresses.
      const counters = [
        { key: secretSourceKey(creds.clientId, source, client), policy: POLICIES.client },
        { key: secretFailuresKey(creds.clientId), policy: POLICIES.clientCeiling },
      ];
      const tooMany = (retryAfter: number) => new OAuthError('too_many_requests',
        'too many failed client authentications; try again later', { status: 429, retryAfter });
      // A blocked caller is refused before any comparison, whatever it sends.
      const [a, b] = await Promise.all(counters.map((c) => throttle.retryAfter(c.key)));
      const wait = Math.max(a!, b!);
      if (wait > 0) throw tooMany(wait);
      // RFC 7591 §2, OIDC Core §9: a client authenticates only the way it registered (a
      // secret sent in the body by a client_secret_basic client is refused, and vice versa).
      // Refused before any comparison: nothing was guessed, so nothing is counted.
      // An assertion (RFC 7523 §2.2) is private_key_jwt or client_secret_jwt: the one the
      // client registered, if it registered either; the verifier then checks the algorithm.
      const presented = creds.method !== 'client_assertion' ? creds.method
        : client?.tokenEndpointAuthMethod === 'client_secret_jwt' ? 'client_secret_jwt' : 'private_key_jwt';
      if (client && presented !== client.tokenEndpointAuthMethod &&
        !(opts.basicForAnySecret && creds.method === 'client_secret_basic' && usesClientSecret(client.tokenEndpointAuthMethod))) {
        throw new OAuthError('invalid_client', `client authentication failed: this client is registered for ${client.tokenEndpointAuthMethod}`,
          { status: 401, detail: `used ${presented}` });
      }
      const t = now();
      let why: string | undefined;
      let ok: boolean;
      if (assertion !== undefined) {
        // A failed assertion counts like a wrong secret (same counters, same answers).
        const result = client && assertions ? await assertions.verify(client, assertion) : { ok: false as const, why: 'client assertions are not enabled' };
        ok = result.ok;
        if (!result.ok) why = result.why;
      } else {
        ok = client !== undefined && (matchesDigest(creds.clientSecret!, client.secretDigest) ||
          (client.previousSecretExpiresAt !== null && client.previousSecretExpiresAt > t &&
            matchesDigest(creds.clientSecret!, client.previousSecretDigest)));
      }
      // The right secret costs no write: the token endpoint's every request comes here.
      if (ok && client) return client;
      // A wrong one is answered only once it is counted, atomically (issue 16 item 1): of a
      // burst of parallel wrong guesses, at most the allowance get 401, the rest 429. (A right
      // guess racing inside such a burst is not held back by it; client secrets are 256
      // random bits Alias mints, so the bound that matters is on the answers to wrong ones.)
      const reserved = await throttle.reserveAll(counters);
      if (!reserved.ok) throw tooMany(reserved.retryAfter);
      return refuse(client ? why ?? 'wrong secret' : 'unknown client');
    },
    async rotateSecret(id, overlapMs) {
      if (!Number.isSafeInteger(overlapMs) || overlapMs < 0) {
        throw new ClientInputError('the overlap must be a whole, non-negative number of milliseconds');
      }
      let secret = '';
      const client = await store.transaction(async (tx) => {
        // Locked: a rotation running at the same time (another terminal, another node)
        // waits, then keeps this one's secret as its previous one instead of losing it.
        const c = await tx.clients.getForUpdate(id);
        if (!c) throw new ClientInputError(`no client with id '${id}'`);
        if (c.isPublic || c.secretDigest === null) {
          throw new ClientInputError(`client '${id}' is public: it has no secret to rotate`);
        }
        const t = now();
        // 256 bits from the CSPRNG, as at registration; sealed too for client_secret_jwt.
        const fresh = freshSecret(c.tokenEndpointAuthMethod, sealer);
        secret = fresh.secret;
        const overlap = overlapMs > 0;
        const next: Client = {
          ...c,
          ...fresh.fields,
          previousSecretDigest: overlap ? c.secretDigest : null,
          // The overlap serves a client_secret_jwt client too: its old secret stays readable.
          previousSecretSealed: overlap && keepsSealedSecret(c.tokenEndpointAuthMethod) ? c.secretSealed : null,
          previousSecretExpiresAt: overlap ? t + overlapMs : null,
          updatedAt: t,
        };
        await tx.clients.update(next);
        return next;
      });
      // A rotation is the operator's fresh start: a lockout earned by a leaked or stale
      // secret must not hold back the new one.
      await throttle.clear(secretFailuresKey(id));
      return { client, secret };
    },
    secretForMethod: (current, method) => secretForMethod(current, method, sealer),
  };
}
