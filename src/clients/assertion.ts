// RFC 7523 §2.2 / §3 client authentication with a JWT signed by the client's own key
// (private_key_jwt, OIDC Core §9). The client's keys are its registered `jwks`, or the
// set at its `jwks_uri` (jwks_fetch.ts).
//
// client_secret_jwt (an HS256 JWT keyed with the client secret) is not supported: Alias
// keeps only a SHA-256 digest of each client secret (DESIGN: digests, not secrets, at
// rest), and an HMAC can only be checked with the secret itself.
import { createLocalJWKSet, errors, jwtVerify, type JSONWebKeySet } from 'jose';
import type { Store } from '../store/store.js';
import type { Client } from '../store/types.js';
import { digest } from '../tokens/opaque.js';
import type { JwksFetcher } from './jwks_fetch.js';

/** Advertised as token_endpoint_auth_signing_alg_values_supported. */
export const ASSERTION_SIGNING_ALGS = ['RS256', 'PS256', 'ES256', 'EdDSA'] as const;
/** RFC 7523 §3 item 4: `exp` at most this far ahead (a short-lived assertion). */
export const ASSERTION_MAX_LIFETIME_S = 300;
/** Clock skew tolerated on `exp`, `nbf` and `iat`. */
const SKEW_S = 30;

export interface AssertionDeps {
  store: Pick<Store, 'jwtReplays'>;
  jwks: JwksFetcher;
  /** RFC 7523bis: the audience is the issuer; the token endpoint URL is accepted too. */
  audiences: string[];
  now: () => number;
}

/** Why an assertion failed (logged, never sent: the client gets invalid_client). */
export type AssertionResult = { ok: true } | { ok: false; why: string };

export interface AssertionVerifier {
  verify(client: Client, assertion: string): Promise<AssertionResult>;
}

export function createAssertionVerifier(deps: AssertionDeps): AssertionVerifier {
  const fail = (why: string): AssertionResult => ({ ok: false, why });

  async function check(client: Client, assertion: string, keys: JSONWebKeySet) {
    return jwtVerify(assertion, createLocalJWKSet(keys), {
      algorithms: [...ASSERTION_SIGNING_ALGS], issuer: client.id, subject: client.id, audience: deps.audiences,
      requiredClaims: ['exp', 'jti'], clockTolerance: SKEW_S, currentDate: new Date(deps.now()),
    });
  }

  return {
    async verify(client, assertion) {
      if (client.tokenEndpointAuthMethod !== 'private_key_jwt') return fail(`the client authenticates with ${client.tokenEndpointAuthMethod}`);
      let payload: Record<string, unknown>;
      try {
        if (client.jwks) {
          ({ payload } = await check(client, assertion, client.jwks as JSONWebKeySet));
        } else if (client.jwksUri) {
          try {
            ({ payload } = await check(client, assertion, await deps.jwks.get(client.jwksUri)));
          } catch (err) {
            // A key the cached set lacks: the client may have rotated; fetch once more.
            if (!(err instanceof errors.JWKSNoMatchingKey)) throw err;
            ({ payload } = await check(client, assertion, await deps.jwks.get(client.jwksUri, { refresh: true })));
          }
        } else {
          return fail('the client has no registered keys');
        }
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
