import { createHash, timingSafeEqual } from 'node:crypto';
import { OAuthError } from './errors.js';

// RFC 7636 §4.1: code_verifier = 43*128unreserved; §4.2: S256 challenge is
// BASE64URL(SHA256(verifier)), 43 characters.
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
const CHALLENGE = /^[A-Za-z0-9\-_]{43}$/;

export function checkChallenge(challenge: string | undefined, method: string | undefined): void {
  if (challenge === undefined) {
    if (method !== undefined) throw new OAuthError('invalid_request', 'code_challenge_method without code_challenge');
    return;
  }
  // RFC 7636 §4.3 defaults the method to "plain", which Alias does not support.
  if (method !== 'S256') throw new OAuthError('invalid_request', "code_challenge_method must be 'S256'");
  if (!CHALLENGE.test(challenge)) throw new OAuthError('invalid_request', 'code_challenge is malformed');
}

export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** RFC 7636 §4.6, compared in constant time. */
export function verifyS256(verifier: string, challenge: string): boolean {
  if (!VERIFIER.test(verifier)) return false;
  const a = Buffer.from(s256(verifier));
  const b = Buffer.from(challenge);
  return a.length === b.length && timingSafeEqual(a, b);
}

export const isValidVerifier = (v: string): boolean => VERIFIER.test(v);
