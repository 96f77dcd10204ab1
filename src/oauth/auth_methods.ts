// Which token_endpoint_auth_method values a client may register (RFC 7591 §2, OIDC Core
// §9), for the CLI and dynamic registration alike, and what discovery advertises.
import type { TokenEndpointAuthMethod } from './client_auth.js';

/**
 * The methods a client may be registered with; `none` is the public clients' method.
 * RFC 7523 private_key_jwt and client_secret_jwt are verified by clients/assertion.ts
 * (client_secret_jwt with the secret kept sealed for it: clients/sealed_secret.ts).
 */
export const REGISTRABLE_AUTH_METHODS: readonly TokenEndpointAuthMethod[] = [
  'client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none',
];

export function isRegistrableAuthMethod(value: string): value is TokenEndpointAuthMethod {
  return (REGISTRABLE_AUTH_METHODS as readonly string[]).includes(value);
}

/** Methods in which the client holds a secret Alias minted (RFC 7591 §3.2.1 client_secret). */
export function usesClientSecret(method: TokenEndpointAuthMethod): boolean {
  return method === 'client_secret_basic' || method === 'client_secret_post' || method === 'client_secret_jwt';
}
