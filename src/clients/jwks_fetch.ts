// Fetches and caches the key sets clients publish at their jwks_uri (RFC 7591 §2,
// OIDC Core §10.1.1) for private_key_jwt. A fetch has a timeout, a size cap and follows
// no redirects; a set is reused for JWKS_TTL_MS, and fetched again before that only when
// an assertion names a key it lacks (a client rotated its keys), at most once per
// JWKS_COOLDOWN_MS, so unknown `kid`s cannot make Alias fetch in a loop.
import type { JSONWebKeySet } from 'jose';

export const JWKS_TTL_MS = 5 * 60_000;
export const JWKS_COOLDOWN_MS = 30_000;
export const JWKS_TIMEOUT_MS = 3_000;
export const JWKS_MAX_BYTES = 64 * 1024;
/** Distinct URIs kept; the oldest entry goes first beyond this. */
const MAX_ENTRIES = 1000;

export class JwksFetchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JwksFetchError';
  }
}

export interface JwksFetcher {
  /** The set at `uri`: cached unless stale, or `refresh` and the cooldown has passed. */
  get(uri: string, opts?: { refresh?: boolean }): Promise<JSONWebKeySet>;
}

/** A parsed `{"keys": [...]}` of objects, or an error naming what is wrong. */
export function parseJwks(value: unknown): JSONWebKeySet {
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new JwksFetchError('the JWK set is not a JSON object');
  const keys = (value as { keys?: unknown }).keys;
  if (!Array.isArray(keys) || keys.some((k) => !k || typeof k !== 'object' || Array.isArray(k))) {
    throw new JwksFetchError('the JWK set has no "keys" array of objects');
  }
  return { keys } as JSONWebKeySet;
}

async function fetchJwks(uri: string): Promise<JSONWebKeySet> {
  let res: Response;
  try {
    res = await fetch(uri, { redirect: 'error', signal: AbortSignal.timeout(JWKS_TIMEOUT_MS),
      headers: { accept: 'application/jwk-set+json, application/json' } });
  } catch (err) {
    throw new JwksFetchError(`fetching ${uri} failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new JwksFetchError(`fetching ${uri} answered ${res.status}`);
  }
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > JWKS_MAX_BYTES) {
    await res.body?.cancel();
    throw new JwksFetchError(`the JWK set at ${uri} is larger than ${JWKS_MAX_BYTES} bytes`);
  }
  // Read at most the cap, whatever the headers said (chunked answers have no length).
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body) {
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > JWKS_MAX_BYTES) {
          await reader.cancel();
          throw new JwksFetchError(`the JWK set at ${uri} is larger than ${JWKS_MAX_BYTES} bytes`);
        }
        chunks.push(value);
      }
    } catch (err) {
      if (err instanceof JwksFetchError) throw err;
      throw new JwksFetchError(`reading ${uri} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new JwksFetchError(`the JWK set at ${uri} is not JSON`);
  }
  return parseJwks(json);
}

export function createJwksFetcher(now: () => number, fetcher: (uri: string) => Promise<JSONWebKeySet> = fetchJwks): JwksFetcher {
  const cache = new Map<string, { jwks: JSONWebKeySet; fetchedAt: number }>();
  // One fetch per URI at a time: a burst of assertions waits for the same answer.
  const inFlight = new Map<string, Promise<JSONWebKeySet>>();
  return {
    async get(uri, opts = {}) {
      const t = now();
      const hit = cache.get(uri);
      const fresh = hit && t - hit.fetchedAt < JWKS_TTL_MS;
      const mayRefresh = !hit || t - hit.fetchedAt >= JWKS_COOLDOWN_MS;
      if (hit && fresh && !(opts.refresh && mayRefresh)) return hit.jwks;
      let pending = inFlight.get(uri);
      if (!pending) {
        pending = fetcher(uri).then((jwks) => {
          cache.delete(uri);
          cache.set(uri, { jwks, fetchedAt: now() });
          if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value!);
          return jwks;
        }).finally(() => inFlight.delete(uri));
        inFlight.set(uri, pending);
      }
      return pending;
    },
  };
}
