// Client registration and authentication, shared by the CLI, the admin API and the
// token endpoint.
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/store.js';
import type { Channel, Client } from '../store/types.js';
import { OAuthError } from '../oauth/errors.js';
import { registrationProblem } from '../oauth/redirect_uri.js';
import { isUserScope, META_CHANNEL } from '../oauth/scopes.js';
import type { ClientCredentials } from '../oauth/client_auth.js';
import { digest, matchesDigest, mintOpaque } from '../tokens/opaque.js';
import { POLICIES, reserveAll, type Throttler } from '../throttle/throttle.js';
import { unsafeText } from '../oauth/text.js';
import { DEFAULT_SIGNING_ALG, SIGNING_ALGS, isSigningAlg } from '../oauth/signing_algs.js';
import { CLIENT_GRANT_TYPES, clientGrantType } from '../grants/index.js';
import type { AssertionVerifier } from './assertion.js';

/** The grant types a client can be given (src/grants/index.ts is the one list). */
export const GRANT_TYPES: readonly string[] = CLIENT_GRANT_TYPES.map((g) => g.grantType);
/** Those that come back through a redirect URI. */
const REDIRECTED = CLIENT_GRANT_TYPES.filter((g) => g.needsRedirectUri).map((g) => g.grantType);
const NAME_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]{1,64}$/;

/** RFC 7591 §2 metadata a client has unless it registers otherwise. */
export const CLIENT_METADATA_DEFAULTS = {
  jwks: null, jwksUri: null, requirePushedAuthorizationRequests: false, dpopBoundAccessTokens: false, requireMfa: false,
  logoUri: null, policyUri: null, tosUri: null, clientUri: null,
} as const satisfies Partial<Client>;

export interface NewClient {
  /** Issue 15 §3: every sign-in to the client must reach urn:alias:acr:mfa (default false). */
  requireMfa?: boolean;
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
  /** RFC 9449 §5.2: every token request needs a DPoP proof (default false). */
  dpopBoundAccessTokens?: boolean;
}

export class ClientInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClientInputError';
  }
}

function parseChannel(c: string | Channel): Channel {
  if (typeof c !== 'string') return c;
  const i = c.indexOf(':');
  const name = i === -1 ? c : c.slice(0, i);
  const description = i === -1 ? '' : c.slice(i + 1).trim();
  return { name, description: description || name };
}

export function validateClient(input: NewClient): Omit<Client, 'id' | 'secretDigest' | 'previousSecretDigest' |
  'previousSecretExpiresAt' | 'createdAt' | 'updatedAt'> {
  // No controls, bidi overrides or invisible characters in any field (issue 16 items 8, 9):
  // names and descriptions reach consent pages and mail footers.
  const fieldText = (label: string, value: string | null | undefined) => {
    const problem = value ? unsafeText(value) : undefined;
    if (problem) throw new ClientInputError(`${label} contains ${problem}`);
  };
  fieldText('--name', input.name);
  if (input.id !== undefined) fieldText('the client id', input.id);
  for (const uri of [...input.redirectUris ?? [], ...input.postLogoutRedirectUris ?? []]) fieldText(`the URI '${JSON.stringify(uri).slice(1, -1)}'`, uri);
  fieldText('--backchannel-logout-uri', input.backchannelLogoutUri);
  for (const sc of input.scopes ?? []) fieldText('--scope', sc);
  for (const raw of input.channels ?? []) {
    if (typeof raw === 'string') fieldText('--channel', raw);
    else { fieldText('--channel', raw.name); fieldText('--channel', raw.description); }
  }
  const name = input.name?.trim();
  if (!name) throw new ClientInputError('a client needs a --name');
  if (name.length > 200) throw new ClientInputError('--name is longer than 200 characters');
  const isPublic = input.isPublic ?? false;
  const grantTypes = [...new Set(input.grantTypes?.length ? input.grantTypes : ['authorization_code'])];
  for (const g of grantTypes) {
    const known = clientGrantType(g);
    if (!known) throw new ClientInputError(`unknown grant type '${g}' (known: ${GRANT_TYPES.join(', ')})`);
    if (isPublic && known.confidentialOnly) throw new ClientInputError(`a public client cannot use the '${g}' grant type`);
  }
  const redirectUris = [...new Set(input.redirectUris ?? [])];
  for (const uri of redirectUris) {
    const problem = registrationProblem(uri);
    if (problem) throw new ClientInputError(`redirect URI '${uri}' ${problem}`);
  }
  if (redirectUris.length === 0 && grantTypes.some((g) => REDIRECTED.includes(g))) {
    throw new ClientInputError(`the ${REDIRECTED.join(' and ')} grant types need at least one --redirect-uri`);
  }
  const postLogoutRedirectUris = [...new Set(input.postLogoutRedirectUris ?? [])];
  for (const uri of postLogoutRedirectUris) {
    const problem = registrationProblem(uri);
    if (problem) throw new ClientInputError(`post-logout redirect URI '${uri}' ${problem}`);
  }
  const scopes = [...new Set(input.scopes ?? [])];
  for (const s of scopes) {
    if (!NAME_TOKEN.test(s)) throw new ClientInputError(`scope '${s}' is not a valid scope token`);
    if (isUserScope(s)) throw new ClientInputError(`'${s}' is a user scope, open to every client; --scope registers client-level scopes`);
  }
  const channels: Channel[] = [];
  for (const raw of input.channels ?? []) {
    const c = parseChannel(raw);
    if (!NAME_TOKEN.test(c.name)) throw new ClientInputError(`channel '${c.name}' is not a valid name (no spaces or quotes, at most 64 characters)`);
    if (c.name === META_CHANNEL) throw new ClientInputError(`'${META_CHANNEL}' is reserved and always granted with contact`);
    if (channels.some((x) => x.name === c.name)) throw new ClientInputError(`channel '${c.name}' is given twice`);
    if (c.description.length > 500) throw new ClientInputError(`the description of channel '${c.name}' is longer than 500 characters`);
    channels.push(c);
  }
  const backchannelLogoutUri = input.backchannelLogoutUri ?? null;
  if (backchannelLogoutUri !== null) {
    const problem = registrationProblem(backchannelLogoutUri);
    // Back-Channel Logout §2.2: an absolute http(s) URI; Alias POSTs to it server to server.
    if (problem || !/^https?:/.test(backchannelLogoutUri)) {
      throw new ClientInputError(`back-channel logout URI '${backchannelLogoutUri}' ${problem ?? 'must be https (or http on loopback)'}`);
    }
  }
  const idTokenSignedResponseAlg = input.idTokenSignedResponseAlg ?? DEFAULT_SIGNING_ALG;
  // Only what Alias signs with: a client registered for an algorithm it cannot verify
  // would reject every ID token (DCR §2: the OP signs with the registered algorithm).
  if (!isSigningAlg(idTokenSignedResponseAlg)) {
    throw new ClientInputError(`unsupported ID token signing algorithm '${idTokenSignedResponseAlg}' (supported: ${SIGNING_ALGS.join(', ')})`);
  }
  return { name, isPublic, grantTypes, redirectUris, postLogoutRedirectUris, scopes, channels, backchannelLogoutUri,
    idTokenSignedResponseAlg, ...CLIENT_METADATA_DEFAULTS, dpopBoundAccessTokens: input.dpopBoundAccessTokens ?? false,
    tokenEndpointAuthMethod: isPublic ? 'none' : 'client_secret_basic' };
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
    token_endpoint_auth_method: client.isPublic ? 'none' : 'client_secret_basic',
    dpop_bound_access_tokens: client.dpopBoundAccessTokens,
    id_token_signed_response_alg: client.idTokenSignedResponseAlg,
    scope: client.scopes.join(' '),
    channels: client.channels,
    // Alias's own member (issue 15 §3): ID tokens for this client always say urn:alias:acr:mfa.
    require_mfa: client.requireMfa,
  };
}

export interface ClientRegistry {
  create(input: NewClient): Promise<{ client: Client; secret?: string }>;
  get(id: string): Promise<Client | undefined>;
  list(): Promise<Client[]>;
  delete(id: string): Promise<boolean>;
  /** Authenticates a client at the token endpoint (RFC 6749 §2.3). Throws invalid_client. */
  authenticate(creds: ClientCredentials | undefined, source?: string): Promise<Client>;
  /**
   * Gives a confidential client a new secret (returned once; only its digest is stored).
   * The secret it replaces keeps working for `overlapMs` (0: stops at once). There is one
   * previous secret at most: rotating during an overlap ends the older one at once.
   */
  rotateSecret(id: string, overlapMs: number): Promise<{ client: Client; secret: string }>;
}

/** The throttle key under which authenticate() counts a client_id's failed secrets. */
const secretFailuresKey = (clientId: string) => `client:${digest(clientId)}`;
/**
 * The per-(client_id, source) counter. It names the client's current secret digest, so a
 * rotation (a new secret) starts every source's count afresh, as it clears the ceiling.
 */
const secretSourceKey = (clientId: string, source: string, client: Client | undefined) =>
  `client-source:${digest(`${clientId}\n${source}\n${client?.secretDigest ?? ''}`)}`;

export function createClientRegistry(store: Store, throttle: Throttler, now: () => number,
  /** private_key_jwt (RFC 7523); without it, client assertions are refused. */
  assertions?: AssertionVerifier): ClientRegistry {
  return {
    async create(input) {
      const fields = validateClient(input);
      const t = now();
      const secret = fields.isPublic ? undefined : mintOpaque(32);
      const client: Client = {
        ...fields,
        requireMfa: input.requireMfa ?? fields.requireMfa,
        id: input.id ?? randomBytes(16).toString('hex'),
        secretDigest: secret ? digest(secret) : null,
        previousSecretDigest: null,
        previousSecretExpiresAt: null,
        createdAt: t,
        updatedAt: t,
      };
      await store.clients.insert(client);
      return { client, secret };
    },
    get: (id) => store.clients.get(id),
    list: () => store.clients.list(),
    delete: (id) => store.clients.delete(id),
    async authenticate(creds, source = '') {
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
      const reserved = await reserveAll(throttle, counters);
      if (!reserved.ok) throw tooMany(reserved.retryAfter);
      return refuse(client ? why ?? 'wrong secret' : 'unknown client');
    },
    async rotateSecret(id, overlapMs) {
      if (!Number.isSafeInteger(overlapMs) || overlapMs < 0) {
        throw new ClientInputError('the overlap must be a whole, non-negative number of milliseconds');
      }
      // 256 bits from the CSPRNG, as at registration.
      const secret = mintOpaque(32);
      const client = await store.transaction(async (tx) => {
        // Locked: a rotation running at the same time (another terminal, another node)
        // waits, then keeps this one's secret as its previous one instead of losing it.
        const c = await tx.clients.getForUpdate(id);
        if (!c) throw new ClientInputError(`no client with id '${id}'`);
        if (c.isPublic || c.secretDigest === null) {
          throw new ClientInputError(`client '${id}' is public: it has no secret to rotate`);
        }
        const t = now();
        const next: Client = {
          ...c,
          secretDigest: digest(secret),
          previousSecretDigest: overlapMs > 0 ? c.secretDigest : null,
          previousSecretExpiresAt: overlapMs > 0 ? t + overlapMs : null,
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
  };
}
