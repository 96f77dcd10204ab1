// The respond step: the authorization response's parameters, each with `iss`
// (RFC 9207); response_modes/ then says how they travel.
import type { OAuthError } from '../oauth/errors.js';
import type { Credential } from './issue.js';
import type { AuthorizationRequest, ReplyTarget } from './request.js';
import type { AuthorizationResponse } from './response_modes/index.js';

/** RFC 6749 §4.1.2.1 error response. */
export function errorResponse(issuer: string, target: ReplyTarget, err: OAuthError): AuthorizationResponse {
  return {
    mode: target.responseMode,
    redirectUri: target.redirectUri,
    params: { error: err.error, error_description: err.description, state: target.state, iss: issuer },
  };
}

/** RFC 6749 §4.1.2 / OIDC Core §3.2.2.5 success response: the code or ID token, state, iss. */
export function successResponse(issuer: string, req: AuthorizationRequest, credential: Credential): AuthorizationResponse {
  return { mode: req.responseMode, redirectUri: req.redirectUri, params: { ...credential, state: req.state, iss: issuer } };
}
