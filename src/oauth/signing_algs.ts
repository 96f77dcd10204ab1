// JWS algorithms (RFC 7518 §3.1) Alias signs ID tokens and logout tokens with. The list
// is what discovery advertises (id_token_signing_alg_values_supported) and what a client
// may register as id_token_signed_response_alg (OIDC Dynamic Client Registration §2).

export const SIGNING_ALGS = ['RS256', 'ES256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];

/** OIDC Dynamic Client Registration §2: "The default, if omitted, is RS256." */
export const DEFAULT_SIGNING_ALG: SigningAlg = 'RS256';

/** JWA names are case-sensitive (RFC 7515 §4.1.1): `es256` is not `ES256`. */
export function isSigningAlg(value: unknown): value is SigningAlg {
  return typeof value === 'string' && (SIGNING_ALGS as readonly string[]).includes(value);
}
