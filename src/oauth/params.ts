import { OAuthError } from './errors.js';

export type RawParams = Record<string, unknown>;

/** Longest value accepted for any single protocol parameter. */
export const MAX_PARAM_LENGTH = 4096;

/**
 * Reads one parameter. RFC 6749 §3.1/§3.2: parameters MUST NOT be included more than
 * once; an empty value is treated as omitted.
 */
export function single(params: RawParams, name: string): string | undefined {
  const v = params[name];
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) throw new OAuthError('invalid_request', `parameter '${name}' is repeated`);
  if (typeof v !== 'string') throw new OAuthError('invalid_request', `parameter '${name}' is malformed`);
  if (v.length > MAX_PARAM_LENGTH) throw new OAuthError('invalid_request', `parameter '${name}' is too long`);
  // No protocol value contains NUL (RFC 6749 Appendix A), and PostgreSQL cannot store it.
  if (v.includes('\u0000')) throw new OAuthError('invalid_request', `parameter '${name}' is malformed`);
  return v === '' ? undefined : v;
}

export function required(params: RawParams, name: string): string {
  const v = single(params, name);
  if (v === undefined) throw new OAuthError('invalid_request', `missing required parameter '${name}'`);
  return v;
}

/** Names of parameters that occur more than once. */
export function repeated(params: RawParams): string[] {
  return Object.keys(params).filter((k) => Array.isArray(params[k]));
}

/** `true`/`false` flags such as include_granted_scopes. */
export function flag(params: RawParams, name: string): boolean {
  const v = single(params, name);
  if (v === undefined || v === 'false') return false;
  if (v === 'true') return true;
  throw new OAuthError('invalid_request', `parameter '${name}' must be 'true' or 'false'`);
}
