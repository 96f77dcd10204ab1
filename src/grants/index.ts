// The one list of grant types. The token endpoint, the client registry and discovery
// all read it: adding a grant type is one file in this folder and one entry below.
import type { ClientGrantType, GrantHandler } from './types.js';
import { authorizationCode } from './authorization_code.js';
import { refreshToken } from './refresh_token.js';
import { clientCredentials } from './client_credentials.js';
import { password } from './password.js';
import { deviceCode } from './device_code.js';

/**
 * `implicit` is not a token-endpoint grant: it is `response_type=id_token` at the
 * authorization endpoint (OIDC Core §3.2; src/authorize/request.ts checks the client was
 * given it). Clients are still registered for it, so it is listed with the grants, without
 * a handler.
 */
const implicit: ClientGrantType = { grantType: 'implicit', confidentialOnly: false, needsRedirectUri: true };

/** Every grant type a client can be given, in the order discovery advertises them. */
export const CLIENT_GRANT_TYPES: readonly (ClientGrantType | GrantHandler)[] = [
  authorizationCode, refreshToken, clientCredentials, password, implicit, deviceCode,
];

const isTokenGrant = (g: ClientGrantType | GrantHandler): g is GrantHandler => 'handle' in g;

/** grant_type → handler at the token endpoint. */
export const grants: ReadonlyMap<string, GrantHandler> = new Map(
  CLIENT_GRANT_TYPES.filter(isTokenGrant).map((g) => [g.grantType, g]),
);

/** The grant types a client can be given, by name. */
export const clientGrantType = (name: string): ClientGrantType | undefined =>
  CLIENT_GRANT_TYPES.find((g) => g.grantType === name);
