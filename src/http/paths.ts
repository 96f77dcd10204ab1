// Where each endpoint lives: discovery advertises these, and the endpoints that name
// another endpoint (e.g. the relay's resource metadata) read them here.
export const PATHS = {
  authorization: '/oauth2/authorize',
  token: '/api/oauth2/token',
  userinfo: '/api/oauth2/userinfo',
  jwks: '/oauth2/jwks',
  introspection: '/api/oauth2/introspect',
  revocation: '/api/oauth2/revoke',
  deviceAuthorization: '/api/oauth2/device_authorization',
  endSession: '/oauth2/logout',
  messages: '/api/v1/messages',
} as const;
