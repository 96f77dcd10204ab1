// RFC 7523 §2.2 / §3 client authentication with a JWT (OIDC Core §9):
// - private_key_jwt: signed by the client's own key, its registered `jwks` or the set at
//   its `jwks_uri` (jwks_fetch.ts);
// - client_secret_jwt: an HMAC keyed with the client secret (the octets of its UTF-8 form,
//   OIDC Core §10.1), which Alias keeps sealed for such clients only (sealed_secret.ts).
// Both follow the same rules: iss = sub = client_id, aud the issuer or the token endpoint,
// exp at most 5 minutes ahead, jti single use on every node. Any failure is invalid_client.
import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { Store } from '../store/store.js';
import type { Client } from '../store/types.js';
import { digest } from '../tokens/opaque.js';
import type { JwksFetcher } from './jwks_fetch.js';
import { CLIENT_SECRET_SEAL, type SecretOpener } from './sealed_secret.js';

/** private_key_jwt: the asymmetric algorithms Alias verifies. */
export const PRIVATE_KEY_JWT_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
/** client_secret_jwt: HMAC with SHA-2 (RFC 7518 §3.2); never `none`, never an asymmetric alg. */
export const CLIENT_SECRET_JWT_ALGS = ['HS256', 'HS384', 'HS512'] as const;
/** Advertised as token_endpoint_auth_signing_alg_values_supported. */
export const ASSERTION_SIGNING_ALGS = [...PRIVATE_KEY_JWT_ALGS, ...CLIENT_SECRET_JWT_ALGS] as const;
/** RFC 7523 §3 item 4: `exp` at most this far ahead (a short-lived assertion). */
export const ASSERTION_MAX_LIFETIME_S = 300;
/** Clock skew tolerated on `exp`, `nbf` and `iat`. */
const SKEW_S = 30;

export interface AssertionDeps {
  store: Pick<Store, 'jwtReplays'>;
  jwks: JwksFetcher;
  /** Opens the sealed secrets of client_secret_jwt clients. */
  secrets: SecretOpener;
  /** RFC 7523bis: the audience is the issuer; the token endpoint URL is accepted too. */
  audiences: string[];
  now: () => number;
}

/** Why an assertion failed (logged, never sent: the client gets invalid_client). */
export type AssertionResult = { ok: true } | { ok: false; why: string };

/** Imported client key sets kept (the oldest goes first). */
const IMPORTED_SETS_MAX = 1_000;

export interface AssertionVerifier {
  verify(client: Client, assertion: string): Promise<AssertionResult>;
}

export function createAssertionVerifier(deps: AssertionDeps): AssertionVerifier {
  const fail = (why: string): AssertionResult => ({ ok: false, why });
  const options = (client: Client, algorithms: readonly string[]) => ({
    algorithms: [...algorithms], issuer: client.id, subject: client.id, audience: deps.audiences,
    requiredClaims: ['exp', 'jti'], clockTolerance: SKEW_S, currentDate: new Date(deps.now()),
  });

  // Importing a JWK Set costs more than the signature check itself (about 250 µs against
  // 120 µs for an ES256 assertion, bench scenario private_key_jwt_client_credentials): keep
  // the imported set per client and key set, a bounded number of them.
  const imported = new Map<string, ReturnType<typeof createLocalJWKSet>>();
  const keySet = (client: Client, keys: JSONWebKeySet) => {
    const id = `${client.id}\n${JSON.stringify(keys)}`;
    let set = imported.get(id);
    if (!set) {
      if (imported.size >= IMPORTED_SETS_MAX) imported.delete(imported.keys().next().value!);
      set = createLocalJWKSet(keys);
      imported.set(id, set);
    }
    return set;
  };

  async function withKeys(client: Client, assertion: string): Promise<JWTPayload> {
    const check = async (keys: JSONWebKeySet) =>
      (await jwtVerify(assertion, keySet(client, keys), options(client, PRIVATE_KEY_JWT_ALGS))).payload;
    if (client.jwks) return check(client.jwks as JSONWebKeySet);
    if (!client.jwksUri) throw new Error('the client has no registered keys');
    try {
      return await check(await deps.jwks.get(client.jwksUri));
    } catch (err) {
      // A key the cached set lacks: the client may have rotated; fetch once more.
      if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
      return check(await deps.jwks.get(client.jwksUri, { refresh: true }));
    }
  }

  async function withSecret(client: Client, assertion: string): Promise<JWTPayload> {
    // The current secret, and the previous one while a rotation overlap lasts. The MAC is
    // checked by WebCrypto's HMAC verify (through jose), a constant-time comparison; Alias
    // compares nothing itself.
    const sealed = [client.secretSealed,
      client.previousSecretExpiresAt !== null && client.previousSecretExpiresAt > deps.now() ? client.previousSecretSealed : null];
    let last: unknown = new Error('the client has no readable secret');
    for (const s of sealed) {
      if (s === null) continue;
      const key = new TextEncoder().encode(deps.secrets.open(s, CLIENT_SECRET_SEAL));
      try {
        return (await jwtVerify(assertion, key, options(client, CLIENT_SECRET_JWT_ALGS))).payload;
      } catch (err) {
        last = err;
        // Only a signature made with another secret is worth trying the next one for.
        if (!(err instanceof errors.JWSSignatureVerificationFailed)) break;
      }
    }
    throw last;
  }

  return {
    async verify(client, assertion) {
      const method = client.tokenEndpointAuthMethod;
      if (method !== 'private_key_jwt' && method !== 'client_secret_jwt') return fail(`the client authenticates with ${method}`);
      let payload: JWTPayload;
      try {
        payload = method === 'private_key_jwt' ? await withKeys(client, assertion) : await withSecret(client, assertion);
      } catch (err) {
        return fail(err instanceof Error ? `client_assertion: ${err.message}` : 'client_assertion is invalid');
      }
      const now = deps.now();
      const exp = payload.exp as number;
      if (exp * 1000 > now + (ASSERTION_MAX_LIFETIME_S + SKEW_S) * 1000) return fail('client_assertion exp is more than 5 minutes ahead');
      const jti = payload.jti;
      if (typeof jti !== 'string' || jti === '' || jti.length > 256) return fail('client_assertion jti is malformed');
      // RFC 7523 §3 item 7: single use until it expires, on every node.
      const fresh = await deps.store.jwtReplays.claim(digest(`assertion\n${client.id}\n${jti}`), (exp + SKEW_S) * 1000, now);
      return fresh ? { ok: true } : fail('client_assertion was already used (jti replay)');
    },
  };
}
