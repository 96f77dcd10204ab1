// Cookie names and attributes: `__Host-` and Secure under an https issuer, neither under
// http (local development); always HttpOnly and SameSite=Lax (the authorization request
// arrives as a cross-site top-level navigation, which Lax allows).
import type { CookieSerializeOptions } from '@fastify/cookie';

export interface CookieNames {
  session: string;
  browser: string;
}

export function cookieNames(issuer: string): CookieNames {
  const prefix = issuer.startsWith('https:') ? '__Host-' : '';
  return { session: `${prefix}alias_session`, browser: `${prefix}alias_browser` };
}

export function cookieOptions(issuer: string, maxAgeSeconds?: number): CookieSerializeOptions {
  return {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: issuer.startsWith('https:'),
    ...(maxAgeSeconds !== undefined ? { maxAge: maxAgeSeconds } : {}),
  };
}
