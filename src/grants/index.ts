import type { GrantHandler } from './types.js';
import { authorizationCode } from './authorization_code.js';
import { refreshToken } from './refresh_token.js';
import { clientCredentials } from './client_credentials.js';
import { password } from './password.js';
import { deviceCode } from './device_code.js';

/** grant_type → handler. Adding a grant is one file and one line here. */
export const grants: ReadonlyMap<string, GrantHandler> = new Map(
  [authorizationCode, refreshToken, clientCredentials, password, deviceCode].map((g) => [g.grantType, g]),
);
