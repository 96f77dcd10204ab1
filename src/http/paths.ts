// Where each endpoint lives: discovery advertises these, and the endpoints that name
// another endpoint (e.g. the relay's resource metadata) read them here.
import { REGISTRATION_PATH } from '../clients/registration.js';

export const PATHS = {
  authorization: '/oauth2/authorize',
  token: '/api/oauth2/token',
  userinfo: '/api/oauth2/userinfo',
  jwks: '/oauth2/jwks',
  introspection: '/api/oauth2/introspect',
  revocation: '/api/oauth2/revoke',
  deviceAuthorization: '/api/oauth2/device_authorization',
  /** RFC 9126 §2. */
  pushedAuthorization: '/api/oauth2/par',
  endSession: '/oauth2/logout',
  messages: '/api/v1/messages',
  /** RFC 7591 §3; RFC 7592 management at `${registration}/CLIENT_ID`. */
  registration: REGISTRATION_PATH,
} as const;
