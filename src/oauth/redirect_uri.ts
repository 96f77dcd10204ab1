// Redirect URI registration and matching. RFC 6749 §3.1.2, RFC 9700 §4.1.3 (exact
// string matching), RFC 8252 §7.3 (any port on loopback for native clients).

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'file:', 'vbscript:', 'blob:', 'about:']);

export function isLoopback(url: URL): boolean {
  return LOOPBACK_HOSTS.has(url.hostname);
}

/** Returns a reason when `uri` cannot be registered, else undefined. */
export function registrationProblem(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'is not an absolute URI';
  }
  if (url.hash || uri.includes('#')) return 'must not contain a fragment';
  if (url.username || url.password) return 'must not contain credentials';
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return `must not use the ${url.protocol} scheme`;
  if (url.protocol === 'http:' && !isLoopback(url)) return 'may use http only on a loopback host (127.0.0.1, [::1], localhost)';
  if (url.protocol !== 'https:' && url.protocol !== 'http:' && !url.protocol.slice(0, -1).includes('.')) {
    // RFC 8252 §7.1: private-use schemes are reverse domain names.
    return 'must be https, loopback http, or a reverse-domain private-use scheme';
  }
  return undefined;
}

// `http://` + loopback host + optional port, followed by the path, the query or the end.
const LOOPBACK_PREFIX = /^(http:\/\/(?:127\.0\.0\.1|\[::1\]|localhost))(?::([1-9][0-9]{0,4}))?(?=[/?]|$)/;

/** The URI as a string with its loopback port removed; undefined when it is not loopback http. */
function withoutLoopbackPort(uri: string): string | undefined {
  const m = LOOPBACK_PREFIX.exec(uri);
  if (!m || (m[2] !== undefined && Number(m[2]) > 65535)) return undefined;
  return m[1] + uri.slice(m[0].length);
}

/**
 * Exact string match, or loopback http with a different port for public (native)
 * clients. Apart from the port the strings must be equal: no URL normalisation
 * (RFC 9700 §4.1.3, RFC 8252 §7.3).
 */
export function matchRedirectUri(registered: readonly string[], requested: string, allowLoopbackPort: boolean): boolean {
  if (registered.includes(requested)) return true;
  if (!allowLoopbackPort) return false;
  const req = withoutLoopbackPort(requested);
  if (req === undefined || req.includes('#')) return false;
  return registered.some((r) => withoutLoopbackPort(r) === req);
}
