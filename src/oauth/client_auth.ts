import { decodeJwt } from 'jose';
import { OAuthError } from './errors.js';

/** RFC 7591 §2 token_endpoint_auth_method values Alias knows (OIDC Core §9). */
export const TOKEN_ENDPOINT_AUTH_METHODS = ['none', 'client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt'] as const;
export type TokenEndpointAuthMethod = (typeof TOKEN_ENDPOINT_AUTH_METHODS)[number];

export interface ClientCredentials {
  /** `client_assertion`: RFC 7523 §2.2 (private_key_jwt, OIDC Core §9); checked by clients/assertion.ts. */
  method: 'client_secret_basic' | 'client_secret_post' | 'none' | 'client_assertion';
  clientId: string;
  clientSecret?: string;
  /** The JWT of `client_assertion` (signature not yet checked). */
  clientAssertion?: string;
}

/** RFC 7523 §2.2: the one client_assertion_type Alias knows. */
export const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** An assertion is a small JWT; anything larger is refused before it is parsed. */
const MAX_ASSERTION_LENGTH = 16384;
const badAssertion = (why: string) => new OAuthError('invalid_client', 'client authentication failed', { status: 401, detail: why });

/**
 * RFC 7521 §4.2 / RFC 7523 §3: the client named by a client assertion is its `sub` (equal
 * to its `iss`); a `client_id` sent beside it must name the same client.
 */
function readAssertion(body: Record<string, unknown>): ClientCredentials {
  const { client_assertion: assertion, client_assertion_type: type, client_id: postId } = body;
  if (Array.isArray(assertion) || Array.isArray(type)) throw new OAuthError('invalid_request', 'client_assertion or client_assertion_type is repeated');
  if (typeof assertion !== 'string' || assertion === '' || typeof type !== 'string' || type === '') {
    throw new OAuthError('invalid_request', 'client_assertion and client_assertion_type go together');
  }
  if (type !== JWT_BEARER_ASSERTION) throw badAssertion(`unsupported client_assertion_type`);
  if (body.client_secret !== undefined) throw new OAuthError('invalid_request', 'more than one client authentication method used');
  if (assertion.length > MAX_ASSERTION_LENGTH || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(assertion)) {
    throw badAssertion('client_assertion is not a signed JWT');
  }
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(assertion);
  } catch {
    throw badAssertion('client_assertion is not a JWT');
  }
  const { sub, iss } = claims;
  if (typeof sub !== 'string' || sub === '' || sub !== iss || sub.includes('\u0000')) throw badAssertion('client_assertion iss and sub must be the client_id');
  if (postId !== undefined && postId !== sub) {
    if (typeof postId !== 'string') throw new OAuthError('invalid_request', 'client_id is malformed');
    throw badAssertion('client_id does not match the client_assertion');
  }
  return { method: 'client_assertion', clientId: sub, clientAssertion: assertion };
}

/** Thrown for any Authorization: Basic header that cannot name a client. */
export const badBasic = (why: string) =>
  new OAuthError('invalid_client', `client authentication failed: ${why}`, { status: 401 });

function formDecode(s: string): string {
  // RFC 6749 §2.3.1: client_id and secret are form-url-encoded before Basic encoding.
  return decodeURIComponent(s.replace(/\+/g, '%20'));
}

/**
 * Extracts client credentials from the Authorization header and body. RFC 6749 §2.3:
 * a client MUST NOT use more than one authentication method per request.
 */
export function readClientCredentials(authorization: string | undefined, body: Record<string, unknown>): ClientCredentials | undefined {
  const postId = body.client_id;
  const postSecret = body.client_secret;
  if (Array.isArray(postId) || Array.isArray(postSecret)) {
    throw new OAuthError('invalid_request', 'client_id or client_secret is repeated');
  }
  if (body.client_assertion !== undefined || body.client_assertion_type !== undefined) {
    // RFC 6749 §2.3: one method per request.
    if (authorization !== undefined) throw new OAuthError('invalid_request', 'more than one client authentication method used');
    return readAssertion(body);
  }
  if (authorization !== undefined) {
    const m = /^Basic(?: +(.*))?$/i.exec(authorization.trim());
    if (!m) {
      if (/^Basic/i.test(authorization.trim())) throw badBasic('malformed Basic credentials');
      // RFC 6749 §5.2: an unsupported authentication method is invalid_client, and an
      // attempt through the Authorization header is answered 401 + WWW-Authenticate.
      throw badBasic('unsupported authentication scheme');
    }
    const b64 = (m[1] ?? '').trim();
    if (!b64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw badBasic('malformed Basic credentials');
    const decoded = Buffer.from(b64, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 1) throw badBasic('malformed Basic credentials');
    let clientId: string;
    let clientSecret: string;
    try {
      clientId = formDecode(decoded.slice(0, colon));
      clientSecret = formDecode(decoded.slice(colon + 1));
    } catch {
      throw badBasic('undecodable Basic credentials');
    }
    if (!clientId || !clientSecret) throw badBasic('empty client_id or client_secret');
    if (clientId.includes('\u0000')) throw badBasic('malformed Basic credentials');
    if (typeof postSecret === 'string' && postSecret !== '') {
      throw new OAuthError('invalid_request', 'more than one client authentication method used');
    }
    if (typeof postId === 'string' && postId !== '' && postId !== clientId) {
      throw new OAuthError('invalid_request', 'client_id in the body does not match the Authorization header');
    }
    return { method: 'client_secret_basic', clientId, clientSecret };
  }
  if (typeof postId !== 'string' || postId === '') return undefined;
  // No client_id contains NUL (RFC 6749 Appendix A.1: VSCHAR), and PostgreSQL cannot look it up.
  if (postId.includes('\u0000')) throw new OAuthError('invalid_client', 'client authentication failed', { status: 401 });
  if (typeof postSecret === 'string' && postSecret !== '') {
    return { method: 'client_secret_post', clientId: postId, clientSecret: postSecret };
  }
  if (postSecret !== undefined && typeof postSecret !== 'string') throw new OAuthError('invalid_request', 'client_secret is malformed');
  return { method: 'none', clientId: postId };
}
