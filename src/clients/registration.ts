// Dynamic client registration (RFC 7591) and its management protocol (RFC 7592): the
// policy (token | open | closed), initial access tokens, registration access tokens, and
// reading, replacing and deleting a registration. Metadata is judged by the same
// validateClient as `aliasid client create` (registry.ts); tokens are stored as digests.
import type { Store } from '../store/store.js';
import type { Client } from '../store/types.js';
import type { Audit } from '../audit/audit.js';
import type { RegistrationMode } from '../config/config.js';
import { OAuthError } from '../oauth/errors.js';
import { POLICIES, type Throttler } from '../throttle/throttle.js';
import { digest, matchesDigest, mintOpaque } from '../tokens/opaque.js';
import { clientInformation, clientInput, ClientInputError, validateClient, type ClientRegistry, type NewClient } from './registry.js';
import { metadataToInput } from './metadata.js';

/** The registration endpoint (RFC 7591 §3), under the issuer; discovery names it. */
export const REGISTRATION_PATH = '/api/oauth2/register';

/** `aliasid registration-token create` bounds. */
export const REGISTRATION_TOKEN_LIMITS = { maxUses: 1_000_000, maxExpiresInMs: 366 * 86_400_000 } as const;
export const DEFAULT_REGISTRATION_TOKEN = { uses: 1, expiresInMs: 86_400_000 } as const;

export interface RegistrationDeps {
  store: Store;
  clients: ClientRegistry;
  throttle: Throttler;
  audit: Audit;
  now: () => number;
  mode: RegistrationMode;
  /** The issuer: registration_client_uri is the registration endpoint's URL + / + client_id. */
  issuer: string;
}

export interface Caller {
  /** The Bearer token of the request, if any. */
  bearer?: string;
  /** The source address (rate limits; only its keyed digest reaches the audit log). */
  source: string;
}

export interface Registration {
  /** An initial access token (RFC 7591 §3): returned once; only its digest is stored. */
  createToken(opts?: { uses?: number; expiresInMs?: number }): Promise<{ token: string; expiresAt: number; uses: number }>;
  /** RFC 7591 §3.1 → §3.2.1 (201) or throws an OAuthError (§3.2.2). */
  register(metadata: unknown, caller: Caller): Promise<Record<string, unknown>>;
  /** RFC 7592 §2.1. */
  read(clientId: string, caller: Caller): Promise<Record<string, unknown>>;
  /**
   * RFC 7592 §2.2: full replacement of the metadata. The secret is changed only when the
   * client becomes client_secret_jwt without one Alias can read (the new one is returned).
   * `metadata` is read only once the registration access token is accepted.
   */
  replace(clientId: string, metadata: () => unknown, caller: Caller): Promise<Record<string, unknown>>;
  /** RFC 7592 §2.3: the client, its grants and every token issued to it are gone at once. */
  remove(clientId: string, caller: Caller): Promise<void>;
}

/** RFC 6750 §3.1 invalid_token (401), as RFC 7591 §3 and RFC 7592 §2 ask for a bad token. */
const invalidToken = (description: string) => new OAuthError('invalid_token', description, { status: 401 });
const tooMany = (retryAfter: number) => new OAuthError('too_many_requests', 'too many registration requests from this address; try again later',
  { status: 429, retryAfter });

/** A ClientInputError becomes its RFC 7591 §3.2.2 error. */
function metadataError(err: unknown): never {
  if (err instanceof ClientInputError) throw new OAuthError(err.code, err.message);
  throw err;
}

/** RFC 7591 §2.3: software statements are not accepted here (no trusted issuers are configured). */
function refuseSoftwareStatement(metadata: unknown): void {
  if (!metadata || typeof metadata !== 'object' || !('software_statement' in metadata)) return;
  const st = (metadata as { software_statement: unknown }).software_statement;
  if (typeof st !== 'string' || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(st)) {
    throw new OAuthError('invalid_software_statement', 'software_statement must be a signed JWT (RFC 7591 §2.3)');
  }
  throw new OAuthError('unapproved_software_statement', 'this server accepts no software statements; register without one');
}

export function createRegistration(d: RegistrationDeps): Registration {
  const tokenFailures = (source: string) => `registration-token:${digest(source)}`;
  const openKey = (source: string) => `registration-open:${digest(source)}`;
  const uri = (clientId: string) => `${d.issuer}${REGISTRATION_PATH}/${encodeURIComponent(clientId)}`;

  /**
   * Checks a Bearer token with an attempt reserved first (a burst of guesses gets no more
   * checks than the allowance); a good token takes the attempt back.
   */
  async function guarded<T>(source: string, check: () => Promise<T | undefined>, refusal: string): Promise<T> {
    const reserved = await d.throttle.reserve(tokenFailures(source), POLICIES.registrationToken);
    if (!reserved.ok) throw tooMany(reserved.retryAfter);
    const found = await check();
    if (found === undefined) throw invalidToken(refusal);
    await reserved.release();
    return found;
  }

  const response = (client: Client, accessToken: string, secret?: string) => ({
    ...clientInformation(client, secret),
    registration_client_uri: uri(client.id),
    registration_access_token: accessToken,
  });

  /** RFC 7592 §2: the registration access token names the client; anything else is invalid_token. */
  async function authorised(clientId: string, caller: Caller): Promise<Client> {
    const bearer = caller.bearer;
    if (bearer === undefined) throw invalidToken('the registration access token is required (Authorization: Bearer)');
    return guarded(caller.source, async () => {
      const reg = await d.store.clientRegistrations.get(clientId);
      if (!reg || !matchesDigest(bearer, reg.accessTokenDigest)) return undefined;
      return d.store.clients.get(clientId);
    }, 'the registration access token is invalid, or the client is gone');
  }

  return {
    async createToken(opts = {}) {
      const uses = opts.uses ?? DEFAULT_REGISTRATION_TOKEN.uses;
      const expiresInMs = opts.expiresInMs ?? DEFAULT_REGISTRATION_TOKEN.expiresInMs;
      if (!Number.isSafeInteger(uses) || uses < 1 || uses > REGISTRATION_TOKEN_LIMITS.maxUses) {
        throw new ClientInputError(`--uses must be a whole number from 1 to ${REGISTRATION_TOKEN_LIMITS.maxUses}`);
      }
      if (!Number.isSafeInteger(expiresInMs) || expiresInMs < 1000 || expiresInMs > REGISTRATION_TOKEN_LIMITS.maxExpiresInMs) {
        throw new ClientInputError('--expires-in must be from 1s to 366d');
      }
      const token = mintOpaque(32);
      const t = d.now();
      const expiresAt = t + expiresInMs;
      await d.store.transaction(async (tx) => {
        await tx.registrationTokens.insert({ digest: digest(token), usesLeft: uses, createdAt: t, expiresAt });
        await d.audit.record({ type: 'admin.registration_token.created', detail: `uses=${uses} via=cli` }, tx);
      });
      return { token, expiresAt, uses };
    },

    async register(metadata, caller) {
      if (d.mode === 'closed') {
        throw new OAuthError('access_denied', 'dynamic client registration is closed on this server; ask its operator for a client', { status: 403 });
      }
      const bearer = caller.bearer;
      let viaToken = false;
      if (bearer !== undefined) {
        // An initial access token, checked before any work: in open mode too (a bad one is
        // never quietly taken for an anonymous request).
        await guarded(caller.source, async () => {
          const rec = await d.store.registrationTokens.get(digest(bearer));
          return rec && rec.usesLeft > 0 && rec.expiresAt > d.now() ? rec : undefined;
        }, 'the initial access token is invalid, expired or used up');
        viaToken = true;
      } else if (d.mode === 'token') {
        throw invalidToken('registration needs an initial access token (Authorization: Bearer); ask the operator of this server');
      } else {
        // Open: anonymous registrations are counted per address before any work.
        const reserved = await d.throttle.reserve(openKey(caller.source), POLICIES.openRegistration);
        if (!reserved.ok) throw tooMany(reserved.retryAfter);
      }
      refuseSoftwareStatement(metadata);
      let input: NewClient;
      try {
        input = metadataToInput(metadata);
        if (!viaToken && !input.isPublic) {
          throw new ClientInputError('anonymous registration is for public clients only: token_endpoint_auth_method must be none ' +
            '(a confidential client needs an initial access token)');
        }
        validateClient(input, 'metadata');
      } catch (err) {
        metadataError(err);
      }
      const accessToken = mintOpaque(32);
      const made = await d.store.transaction(async (tx) => {
        if (viaToken && !(await tx.registrationTokens.spend(digest(bearer!), d.now()))) {
          // Used up by a concurrent registration since the check above.
          throw invalidToken('the initial access token is invalid, expired or used up');
        }
        const created = await d.clients.create(input, { tx, names: 'metadata' });
        await tx.clientRegistrations.insert({ clientId: created.client.id, accessTokenDigest: digest(accessToken), createdAt: d.now() });
        await d.audit.record({ type: 'client.registered', clientId: created.client.id, ip: caller.source,
          detail: `via=registration policy=${viaToken ? 'token' : 'open'}` }, tx);
        return created;
      });
      return response(made.client, accessToken, made.secret);
    },

    async read(clientId, caller) {
      const client = await authorised(clientId, caller);
      return response(client, caller.bearer!);
    },

    async replace(clientId, readMetadata, caller) {
      await authorised(clientId, caller);
      const metadata = readMetadata();
      refuseSoftwareStatement(metadata);
      const body = (metadata && typeof metadata === 'object' && !Array.isArray(metadata) ? metadata : {}) as Record<string, unknown>;
      // RFC 7592 §2.2: the request names the client it replaces.
      if (body.client_id !== clientId) throw new OAuthError('invalid_client_metadata', 'client_id must be the client_id of this registration');
      const updated = await d.store.transaction(async (tx) => {
        // Locked: a concurrent change (another PUT, `aliasid client update`) waits.
        const current = await tx.clients.getForUpdate(clientId);
        if (!current) throw invalidToken('the registration access token is invalid, or the client is gone');
        // RFC 7592 §2.2: a client_secret sent must be the current one; it is never replaced here.
        if (body.client_secret !== undefined && body.client_secret !== null &&
          (typeof body.client_secret !== 'string' || !matchesDigest(body.client_secret, current.secretDigest))) {
          throw new OAuthError('invalid_client_metadata', 'client_secret does not match the current secret (it cannot be changed here)');
        }
        let fields;
        try {
          const input = metadataToInput(metadata);
          if (input.isPublic !== current.isPublic) {
            throw new ClientInputError(`token_endpoint_auth_method cannot change between none and a secret method (this client is ${
              current.isPublic ? 'public' : 'confidential'}); register a new client instead`);
          }
          // What the metadata cannot say stays as the operator set it; so does DPoP binding
          // when the document leaves it out (a PUT must not silently drop a tightening).
          const kept = clientInput(current);
          fields = validateClient({ ...input, requireMfa: kept.requireMfa,
            dpopBoundAccessTokens: input.dpopBoundAccessTokens ?? kept.dpopBoundAccessTokens }, 'metadata');
        } catch (err) {
          metadataError(err);
        }
        // Sealed copies only for client_secret_jwt (RFC 7523 §2.2). Becoming one without a
        // secret Alias can read mints a new secret, returned in this response (RFC 7592 §2.2
        // lets the server change the client's credentials).
        const secrets = d.clients.secretForMethod(current, fields.tokenEndpointAuthMethod);
        const next: Client = { ...current, ...fields, ...secrets.fields, updatedAt: d.now() };
        await tx.clients.update(next);
        await d.audit.record({ type: 'client.registration_updated', clientId, ip: caller.source,
          detail: secrets.secret ? 'via=registration secret=new' : 'via=registration' }, tx);
        return { client: next, secret: secrets.secret };
      });
      return response(updated.client, caller.bearer!, updated.secret);
    },

    async remove(clientId, caller) {
      await authorised(clientId, caller);
      await d.store.transaction(async (tx) => {
        // As `aliasid client delete`: the cascade takes grants, codes and tokens with it.
        await tx.clients.delete(clientId);
        await d.audit.record({ type: 'client.registration_deleted', clientId, ip: caller.source, detail: 'via=registration' }, tx);
      });
    },
  };
}
