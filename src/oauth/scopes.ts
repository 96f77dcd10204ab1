import { OAuthError } from './errors.js';

/** Scopes every client may ask the user for. */
export const USER_SCOPES = ['openid', 'offline_access', 'contact', 'nickname'] as const;
export type UserScope = (typeof USER_SCOPES)[number];

/** The reserved channel: always granted with `contact`, never requested, never in tokens. */
export const META_CHANNEL = '_meta';

// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** Splits a space-delimited list (scope, channels), dropping duplicates. */
export function parseList(value: string | undefined, what = 'scope'): string[] {
  if (value === undefined) return [];
  const out: string[] = [];
  for (const token of value.split(' ')) {
    if (token === '') continue;
    if (!SCOPE_TOKEN.test(token)) throw new OAuthError(what === 'scope' ? 'invalid_scope' : 'invalid_request',
      `${what} contains an invalid character`);
    if (!out.includes(token)) out.push(token);
  }
  return out;
}

export const formatList = (items: readonly string[]): string => items.join(' ');

export function isUserScope(s: string): s is UserScope {
  return (USER_SCOPES as readonly string[]).includes(s);
}

export const union = (a: readonly string[], b: readonly string[]): string[] => [...new Set([...a, ...b])];
export const intersect = (a: readonly string[], b: readonly string[]): string[] => a.filter((x) => b.includes(x));
export const subset = (a: readonly string[], b: readonly string[]): boolean => a.every((x) => b.includes(x));

/** Orders scopes as USER_SCOPES does, for stable output. */
export function sortScopes(scopes: readonly string[]): string[] {
  const rank = (s: string) => {
    const i = (USER_SCOPES as readonly string[]).indexOf(s);
    return i === -1 ? USER_SCOPES.length : i;
  };
  return [...scopes].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}
