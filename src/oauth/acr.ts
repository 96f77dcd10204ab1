// How strongly a person signed in: the `amr` values of RFC 8176 §2 that a sign-in method
// produces, and the two `acr` levels Alias defines (OIDC Core §2, §3.1.2.1 acr_values).
// A session records the methods it used; ID tokens carry both claims.

/** A password alone. */
export const ACR_PASSWORD = 'urn:alias:acr:password';
/** Two factors: a passkey with user verification, or a password plus a second factor. */
export const ACR_MFA = 'urn:alias:acr:mfa';
/** Weakest first (discovery's acr_values_supported lists them in this order). */
export const ACR_VALUES_SUPPORTED = [ACR_PASSWORD, ACR_MFA] as const;
export type Acr = (typeof ACR_VALUES_SUPPORTED)[number];

/** RFC 8176 §2 values Alias can produce. */
export type AmrValue = 'pwd' | 'hwk' | 'swk' | 'user' | 'otp' | 'mfa';

/** What a session made before migration 010 (every sign-in then used a password) carries. */
export const PASSWORD_AMR: readonly AmrValue[] = ['pwd'];

const POSSESSION = new Set(['hwk', 'swk', 'otp']);
const KNOWLEDGE_OR_INHERENCE = new Set(['pwd', 'user', 'pin', 'fpt', 'face']);

/**
 * The level a set of methods reaches: multi-factor when the methods say so (`mfa`) or
 * combine something held (a key, an authenticator app) with something known or proven by
 * the device's user verification (RFC 8176 §2 `user`).
 */
export function acrOf(amr: readonly string[]): Acr {
  if (amr.includes('mfa')) return ACR_MFA;
  const held = amr.some((m) => POSSESSION.has(m));
  const known = amr.some((m) => KNOWLEDGE_OR_INHERENCE.has(m));
  return held && known ? ACR_MFA : ACR_PASSWORD;
}

/** True when methods reaching `amr` satisfy a request for `wanted` (a stronger level satisfies a weaker one). */
export function satisfiesAcr(amr: readonly string[], wanted: Acr): boolean {
  return ACR_VALUES_SUPPORTED.indexOf(acrOf(amr)) >= ACR_VALUES_SUPPORTED.indexOf(wanted);
}

export const isAcr = (v: string): v is Acr => (ACR_VALUES_SUPPORTED as readonly string[]).includes(v);
