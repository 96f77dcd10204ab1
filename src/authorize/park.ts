// Parking: while the user is on the interaction pages (/interaction/:id) the validated
// request waits in the store, bound to the browser that started it. It is stored in its
// canonical OAuth parameter form (already validated, so it is read back as is) and
// resumed against the client's current registration: only the [client] steps of
// validate.ts run again, nothing is parsed twice.
import { randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { Store } from '../store/store.js';
import type { Client, Interaction } from '../store/types.js';
import { countEvent, type ThrottlePolicy, type Throttler } from '../throttle/throttle.js';
import { formatList, parseList } from '../oauth/scopes.js';
import { digest } from '../tokens/opaque.js';
import type { AuthorizationRequest, Prompt, ResponseType } from './request.js';
import { findClient, recheckClient, type ClientLookup } from './validate.js';
import { isAcr } from '../oauth/acr.js';

export const INTERACTION_TTL_MS = 15 * 60_000;
/** The parked form of AuthorizationRequest.idTokenHintSub. */
const HINT_SUB = 'id_token_hint.sub';
/** The parked form of AuthorizationRequest.acrEssential (from the `claims` parameter). */
const ACR_ESSENTIAL = 'claims.id_token.acr.essential';

/**
 * A stranger can make Alias store a parked request (up to about 13 KB: only the validated
 * parameters, each at most 4096 characters, oauth/params.ts) without signing in. So parked
 * requests are counted per source address: 300 in 10 minutes, then 429 for 1 minute,
 * doubling with each further request up to 10 minutes. A NAT with 100 people each opening
 * three sign-in tabs at once stays under it; a flood stores at most ~4 MB per address and
 * window, and the rows expire after 15 minutes. Requests that need no page (a session
 * and a remembered grant) park nothing and are never counted. IPv6 sources count per /64,
 * the block a single host is usually given.
 */
export const PARK_POLICY: ThrottlePolicy = { allowed: 300, windowMs: 10 * 60_000, baseBlockMs: 60_000, maxBlockMs: 10 * 60_000 };

/** The counter key of a source address: IPv4 as is, IPv6 by its /64. */
export function parkKey(source: string): string {
  return `interaction-source:${digest(addressBlock(source))}`;
}

export function addressBlock(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  const [head = '', tail] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':') + '::/64';
}

/**
 * Counts one parked request against its source; returns the seconds to wait when the
 * source is over PARK_POLICY (nothing may be parked then), or 0.
 */
export async function reserveParking(throttle: Throttler, source: string): Promise<number> {
  // Counted atomically before parking (a burst cannot park more than the policy allows);
  // a refused request is not counted, so the block does not grow while it lasts.
  const counted = await countEvent(throttle, [{ key: parkKey(source), policy: PARK_POLICY }]);
  return counted.ok ? 0 : counted.retryAfter;
}

/** Stores the request for the interaction pages; returns the interaction id. */
export async function park(store: Store, now: number, req: AuthorizationRequest, browserId: string): Promise<string> {
  const id = randomBytes(24).toString('base64url');
  await store.interactions.insert({
    id, browserDigest: digest(browserId), clientId: req.client.id, params: toParams(req),
    authenticatedSession: null, createdAt: now, expiresAt: now + INTERACTION_TTL_MS,
  });
  return id;
}

/**
 * The parked request, with its client as registered now. Throws UntrustedRequestError
 * or RedirectableError when the client changed so that the request is no longer allowed.
 */
export async function resume(interaction: Interaction, lookup: ClientLookup): Promise<AuthorizationRequest> {
  return restore(await findClient(interaction.clientId, lookup), interaction.params);
}

/**
 * A request kept in toParams' form (parked, or pushed: authorize/pushed.ts), read back for
 * its client as registered now; the [client] steps of validate.ts run again.
 */
export function restore(client: Client, params: Record<string, string>): AuthorizationRequest {
  const req = fromParams(params, client);
  recheckClient(client, req);
  return req;
}

/** The validated request as OAuth parameters (the wire names, single-valued). */
export function toParams(req: AuthorizationRequest): Record<string, string> {
  const p: Record<string, string> = {
    client_id: req.client.id, redirect_uri: req.redirectUri, response_type: req.responseType,
    response_mode: req.responseMode, scope: formatList(req.scopes),
  };
  if (req.channels.length) p.channels = formatList(req.channels);
  // URIs have no spaces (oauth/resource.ts), so the list is kept space-separated.
  if (req.resources.length) p.resource = req.resources.join(' ');
  if (req.state !== undefined) p.state = req.state;
  if (req.nonce !== undefined) p.nonce = req.nonce;
  if (req.includeGrantedScopes) p.include_granted_scopes = 'true';
  if (req.includeGrantedChannels) p.include_granted_channels = 'true';
  if (req.prompt.length) p.prompt = formatList(req.prompt);
  if (req.maxAge !== undefined) p.max_age = String(req.maxAge);
  if (req.codeChallenge !== undefined) {
    p.code_challenge = req.codeChallenge;
    p.code_challenge_method = 'S256';
  }
  if (req.dpopJkt !== undefined) p.dpop_jkt = req.dpopJkt;
  // Not a wire name: the verified hint's subject, never the token (validate.ts).
  if (req.idTokenHintSub !== undefined) p[HINT_SUB] = req.idTokenHintSub;
  if (req.acrValues.length) p.acr_values = formatList(req.acrValues);
  if (req.acrEssential?.length) p[ACR_ESSENTIAL] = formatList(req.acrEssential);
  return p;
}

/**
 * Reads toParams' form back. It also reads requests parked as received (every string
 * parameter, empty ones included), as earlier versions stored them: an empty value is
 * an omitted one (oauth/params.ts), channels count only with contact.
 */
function fromParams(p: Record<string, string>, client: Client): AuthorizationRequest {
  const get = (name: string): string | undefined => p[name] || undefined;
  const scopes = parseList(get('scope'));
  const maxAge = get('max_age');
  return {
    client,
    redirectUri: get('redirect_uri') ?? '',
    responseType: p.response_type as ResponseType,
    responseMode: get('response_mode') === 'form_post' ? 'form_post' : 'query',
    state: get('state'),
    nonce: get('nonce'),
    scopes,
    resources: (get('resource') ?? '').split(' ').filter(Boolean),
    channels: scopes.includes('contact') ? parseList(get('channels'), 'channels') : [],
    includeGrantedScopes: get('include_granted_scopes') === 'true',
    includeGrantedChannels: get('include_granted_channels') === 'true',
    prompt: parseList(get('prompt'), 'prompt') as Prompt[],
    maxAge: maxAge === undefined ? undefined : Number(maxAge),
    codeChallenge: get('code_challenge'),
    ...(get('dpop_jkt') ? { dpopJkt: get('dpop_jkt') } : {}),
    idTokenHintSub: get(HINT_SUB),
    acrValues: parseList(get('acr_values'), 'acr_values').filter(isAcr),
    acrEssential: get(ACR_ESSENTIAL) === undefined ? undefined : parseList(get(ACR_ESSENTIAL), 'acr_values').filter(isAcr),
  };
}
