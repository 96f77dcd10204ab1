// OpenID Connect Discovery 1.0 §3 and RFC 8414: advertises exactly what works.
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import { USER_SCOPES } from '../oauth/scopes.js';
import { SIGNING_ALGS } from '../oauth/signing_algs.js';
import { CLIENT_GRANT_TYPES } from '../grants/index.js';
import { PATHS } from '../http/paths.js';
import { ACR_VALUES_SUPPORTED } from '../oauth/acr.js';
import { DPOP_SIGNING_ALGS } from '../oauth/dpop.js';
import { ASSERTION_SIGNING_ALGS } from '../clients/assertion.js';
import { REGISTRABLE_AUTH_METHODS } from '../oauth/auth_methods.js';


export function discoveryDocument(issuer: string, opts: { registration?: boolean; requirePar?: boolean } = {}): Record<string, unknown> {
  return {
    issuer,
    authorization_endpoint: issuer + PATHS.authorization,
    token_endpoint: issuer + PATHS.token,
    userinfo_endpoint: issuer + PATHS.userinfo,
    jwks_uri: issuer + PATHS.jwks,
    introspection_endpoint: issuer + PATHS.introspection,
    revocation_endpoint: issuer + PATHS.revocation,
    device_authorization_endpoint: issuer + PATHS.deviceAuthorization,
    end_session_endpoint: issuer + PATHS.endSession,
    // RFC 9126 §5; require_pushed_authorization_requests: true under serve --require-par
    // (clients registered with --require-par must push either way).
    pushed_authorization_request_endpoint: issuer + PATHS.pushedAuthorization,
    require_pushed_authorization_requests: opts.requirePar ?? false,
    // RFC 8414 §2: only while registration is possible (--registration token or open).
    ...(opts.registration ? { registration_endpoint: issuer + PATHS.registration } : {}),
    scopes_supported: [...USER_SCOPES],
    response_types_supported: ['code', 'id_token'],
    response_modes_supported: ['query', 'form_post'],
    grant_types_supported: CLIENT_GRANT_TYPES.map((g) => g.grantType),
    subject_types_supported: ['pairwise'],
    // Per client: id_token_signed_response_alg (RS256 unless registered otherwise).
    id_token_signing_alg_values_supported: [...SIGNING_ALGS],
    // Each client uses the one method it registered (RFC 7591 §2); these are the methods one may
    // register. RFC 7523 private_key_jwt and client_secret_jwt (OIDC Core §9), with the
    // algorithms of both (asymmetric for keys, HMAC for secrets).
    token_endpoint_auth_methods_supported: [...REGISTRABLE_AUTH_METHODS],
    token_endpoint_auth_signing_alg_values_supported: [...ASSERTION_SIGNING_ALGS],
    introspection_endpoint_auth_methods_supported: REGISTRABLE_AUTH_METHODS.filter((m) => m !== 'none'),
    introspection_endpoint_auth_signing_alg_values_supported: [...ASSERTION_SIGNING_ALGS],
    revocation_endpoint_auth_methods_supported: [...REGISTRABLE_AUTH_METHODS],
    revocation_endpoint_auth_signing_alg_values_supported: [...ASSERTION_SIGNING_ALGS],
    // RFC 9449 §5.1.
    dpop_signing_alg_values_supported: [...DPOP_SIGNING_ALGS],
    code_challenge_methods_supported: ['S256'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'amr', 'acr', 'nonce', 'at_hash', 'jti', 'nickname'],
    acr_values_supported: ACR_VALUES_SUPPORTED,
    prompt_values_supported: ['none', 'login', 'consent', 'select_account'],
    // OIDC Core §5.5: acted on for id_token.acr (essential), docs/mfa.md.
    claims_parameter_supported: true,
    request_parameter_supported: false,
    // OIDC Discovery: request_uri of request objects fetched by Alias (never); the request_uri
    // of a pushed request (RFC 9126 §4) works whatever this says.
    request_uri_parameter_supported: false,
    authorization_response_iss_parameter_supported: true,
    backchannel_logout_supported: true,
    backchannel_logout_session_supported: false,
    // The contact relay (POST, JSON {to, channel, subject, body}).
    alias_messages_endpoint: issuer + PATHS.messages,
  };
}

export function discoveryEndpoints(app: FastifyInstance, s: Services) {
  const doc = discoveryDocument(s.config.issuer, { registration: s.config.registration !== 'closed', requirePar: s.config.requirePar });
  for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
    app.get(path, async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return reply.send(doc);
    });
  }
  app.get(PATHS.jwks, async (_request, reply) => {
    // Revalidate always: a rotated key must reach every verifier within seconds.
    reply.header('cache-control', 'no-cache').type('application/jwk-set+json; charset=utf-8');
    return reply.send(await s.keys.jwks());
  });
}
