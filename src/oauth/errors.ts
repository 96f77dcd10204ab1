// OAuth 2.0 / OpenID Connect error codes (RFC 6749 §4.1.2.1, §5.2; RFC 6750 §3.1;
// OIDC Core §3.1.2.6; RFC 8628 §3.5). The public description goes on the wire;
// `detail` is only logged.
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'unsupported_response_type'
  | 'invalid_scope'
  | 'access_denied'
  | 'server_error'
  | 'temporarily_unavailable'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'login_required'
  | 'consent_required'
  | 'interaction_required'
  | 'account_selection_required'
  /** OpenID Connect Unmet Authentication Requirements 1.0 §2. */
  | 'unmet_authentication_requirements'
  | 'request_not_supported'
  | 'request_uri_not_supported'
  /** OIDC Core §3.1.2.6: the request_uri is unknown, expired or used (RFC 9126 §4). */
  | 'invalid_request_uri'
  | 'registration_not_supported'
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata'
  | 'invalid_software_statement'
  | 'unapproved_software_statement'
  | 'slow_down'
  | 'authorization_pending'
  | 'expired_token'
  | 'too_many_requests'
  // RFC 9449 §5, §7.1, §8.
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  // RFC 8707 §2: a resource that is unknown, malformed or not granted.
  | 'invalid_target';

const defaultStatus: Partial<Record<OAuthErrorCode, number>> = {
  invalid_client: 401,
  invalid_token: 401,
  insufficient_scope: 403,
  server_error: 500,
  temporarily_unavailable: 503,
  too_many_requests: 429,
};

/**
 * RFC 6749 §4.1.2.1 / §5.2: error_description uses only %x20-21 / %x23-5B / %x5D-7E.
 * Descriptions may quote request values, so anything else is replaced, and the length
 * is capped (a parameter name can be as long as the body).
 */
function describable(text: string): string {
  const clean = text.replace(/[^\x20-\x21\x23-\x5B\x5D-\x7E]/g, '?');
  return clean.length > 200 ? clean.slice(0, 197) + '...' : clean;
}

export class OAuthError extends Error {
  readonly error: OAuthErrorCode;
  readonly description: string;
  readonly status: number;
  readonly detail?: string;
  /** Seconds, for 429 and 503 answers. */
  retryAfter?: number;
  /** Response headers the error needs (RFC 9449 §8: DPoP-Nonce with use_dpop_nonce). */
  readonly headers?: Record<string, string>;

  constructor(error: OAuthErrorCode, description: string,
    opts: { status?: number; detail?: string; retryAfter?: number; headers?: Record<string, string> } = {}) {
    super(`${error}: ${description}`);
    this.name = 'OAuthError';
    this.error = error;
    this.description = describable(description);
    this.status = opts.status ?? defaultStatus[error] ?? 400;
    this.detail = opts.detail;
    this.retryAfter = opts.retryAfter;
    this.headers = opts.headers;
  }

  toJSON(): { error: string; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

/**
 * RFC 6749 §5.2 invalid_grant: the code, refresh token, device code or resource owner
 * credentials are invalid, expired, revoked, already used or issued to another client.
 */
export const invalidGrant = (why: string): OAuthError => new OAuthError('invalid_grant', why);
