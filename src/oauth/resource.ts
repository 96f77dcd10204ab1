// RFC 8707 resource indicators: what a `resource` value may be, how the scopes of a
// resource are told apart from user scopes inside a grant, and how the parameter is read
// at the authorization and token endpoints. Pure rules, no state.
import { OAuthError } from './errors.js';
import { MAX_PARAM_LENGTH, type RawParams } from './params.js';
import { isUserScope } from './scopes.js';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
// RFC 6749 §3.3 scope-token, without '#' (it separates a resource from its scope below).
const RESOURCE_SCOPE = /^[\x21\x24-\x5B\x5D-\x7E]+$/;

/**
 * RFC 8707 §2: "absolute URI … MUST NOT include a fragment component". Alias also wants
 * https (http only on a loopback host, as for redirect URIs) and no credentials, since the
 * URI is what the API's tokens name as their audience. Returns a reason, or undefined.
 */
export function resourceUriProblem(uri: string): string | undefined {
  if (uri.length > 2048) return 'is too long';
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URI';
  }
  if (uri.includes('#')) return 'must not contain a fragment (RFC 8707 §2)';
  if (/[\s\u0000-\u001f\u007f]/.test(uri)) return 'must not contain spaces or control characters';
  if (url.username || url.password) return 'must not contain credentials';
  if (url.protocol === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) return 'may use http only on a loopback host (127.0.0.1, [::1], localhost)';
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an https URI';
  return undefined;
}

/** A scope name a resource may register: a scope-token, not a user scope, no '#'. */
export function resourceScopeProblem(name: string): string | undefined {
  if (!RESOURCE_SCOPE.test(name) || name.length > 200) return 'must be printable ASCII without spaces, quotes, backslashes or #';
  if (isUserScope(name)) return 'is a user scope of Alias (openid, offline_access, contact, nickname)';
  return undefined;
}

/**
 * Inside a grant, code or refresh token a resource's scope is kept as `URI#scope`: a
 * resource URI has no fragment, so the first '#' splits it, and two APIs may both use
 * `read` without one grant meaning the other.
 */
export const qualify = (resource: string, scope: string): string => `${resource}#${scope}`;

export function unqualify(scope: string): { resource: string; scope: string } | undefined {
  const i = scope.indexOf('#');
  return i <= 0 ? undefined : { resource: scope.slice(0, i), scope: scope.slice(i + 1) };
}

/** The names of `resource`'s scopes among `scopes` (a grant's, a code's). */
export const scopesOf = (scopes: readonly string[], resource: string): string[] =>
  scopes.flatMap((x) => {
    const q = unqualify(x);
    return q && q.resource === resource ? [q.scope] : [];
  });

/** The scopes that are no resource's (the user scopes). */
export const withoutResourceScopes = (scopes: readonly string[]): string[] => scopes.filter((x) => !unqualify(x));

function checked(value: unknown): string {
  if (typeof value !== 'string' || value === '' || value.length > MAX_PARAM_LENGTH) {
    throw new OAuthError('invalid_target', 'the resource parameter is malformed');
  }
  const problem = resourceUriProblem(value);
  // RFC 8707 §2: a malformed value is invalid_target.
  if (problem) throw new OAuthError('invalid_target', `the resource ${problem}`);
  return value;
}

/** RFC 8707 §2: at the authorization endpoint `resource` may be repeated; duplicates collapse. */
export function readResources(params: RawParams): string[] {
  const v = params.resource;
  if (v === undefined || v === null) return [];
  const values = Array.isArray(v) ? v : [v];
  if (values.length > 10) throw new OAuthError('invalid_target', 'too many resource values');
  return [...new Set(values.map(checked))];
}

/**
 * At the token endpoint: Alias issues one access token for one resource (its audience),
 * so more than one value is invalid_target (RFC 8707 §2.2 lets the server refuse).
 */
export function readTokenResource(params: RawParams): string | undefined {
  const v = params.resource;
  if (v === undefined || v === null || v === '') return undefined;
  if (Array.isArray(v)) throw new OAuthError('invalid_target', 'Alias issues an access token for one resource per request');
  return checked(v);
}

/**
 * RFC 8707 §2.2: the resource a token request's access token is for, among those granted:
 * the one named; without one, the only one granted; none when nothing was granted.
 */
export function pickResource(requested: string | undefined, granted: readonly string[]): string | undefined {
  if (requested !== undefined) {
    if (!granted.includes(requested)) throw new OAuthError('invalid_target', 'the resource was not granted for this authorization');
    return requested;
  }
  if (granted.length > 1) throw new OAuthError('invalid_target', 'several resources were granted: name one with the resource parameter');
  return granted[0];
}
