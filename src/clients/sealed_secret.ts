// Which copies of a client secret are kept, and how they follow the client's
// token_endpoint_auth_method (RFC 7591 §2).
//
// Every secret is kept as a SHA-256 digest (DESIGN: digests, not secrets, at rest). A
// client_secret_jwt client (RFC 7523 §2.2, OIDC Core §9) signs its assertions with an HMAC
// keyed with the secret itself, which no digest can check, so for those clients only the
// secret is also kept sealed: AES-256-GCM under a key derived from ALIAS_SECRET for this
// purpose alone (crypto/secrets.ts), the way signing keys and TOTP secrets are.
import type { Secrets } from '../crypto/secrets.js';
import type { TokenEndpointAuthMethod } from '../oauth/client_auth.js';
import type { Client } from '../store/types.js';
import { digest, mintOpaque } from '../tokens/opaque.js';

/** The seal purpose (its own HKDF-derived key) of client secrets at rest. */
export const CLIENT_SECRET_SEAL = 'client-secrets-at-rest';

export type SecretSealer = Pick<Secrets, 'seal'>;
export type SecretOpener = Pick<Secrets, 'open'>;

/** The stored fields that hold a client's secrets. */
export type SecretFields = Pick<Client, 'secretDigest' | 'secretSealed' | 'previousSecretDigest' | 'previousSecretSealed' | 'previousSecretExpiresAt'>;

/** Only a client_secret_jwt client's secret is kept recoverable. */
export const keepsSealedSecret = (method: TokenEndpointAuthMethod): boolean => method === 'client_secret_jwt';

/** The fields of a fresh secret (256 bits from the CSPRNG), with no previous one. */
export function freshSecret(method: TokenEndpointAuthMethod, sealer: SecretSealer): { secret: string; fields: SecretFields } {
  const secret = mintOpaque(32);
  return {
    secret,
    fields: {
      secretDigest: digest(secret),
      secretSealed: keepsSealedSecret(method) ? sealer.seal(secret, CLIENT_SECRET_SEAL) : null,
      previousSecretDigest: null, previousSecretSealed: null, previousSecretExpiresAt: null,
    },
  };
}

/**
 * The secret fields once `current` authenticates with `method` (CLI `client update`, RFC
 * 7592 PUT). Leaving client_secret_jwt drops the sealed copies (the digests keep the
 * secret working for client_secret_basic/post). Becoming client_secret_jwt needs a secret
 * Alias can read, which a digest-only client lacks: it gets a new one, returned once (RFC
 * 7592 §2.2 lets the server change client credentials in its response).
 */
export function secretForMethod(current: Client, method: TokenEndpointAuthMethod, sealer: SecretSealer): { fields: SecretFields; secret?: string } {
  const kept: SecretFields = {
    secretDigest: current.secretDigest, secretSealed: current.secretSealed, previousSecretDigest: current.previousSecretDigest,
    previousSecretSealed: current.previousSecretSealed, previousSecretExpiresAt: current.previousSecretExpiresAt,
  };
  if (!keepsSealedSecret(method)) return { fields: { ...kept, secretSealed: null, previousSecretSealed: null } };
  if (current.secretSealed !== null && current.tokenEndpointAuthMethod === method) return { fields: kept };
  return freshSecret(method, sealer);
}
