// What Alias checks of a WebAuthn credential response before @simplewebauthn/server sees
// it (shape and size, so garbage costs nothing and never reaches the library), and how a
// refusal is told without echoing what the response carried (no per-request data in errors).
import type { AmrValue } from '../oauth/acr.js';

/** Credential ids are at most 1023 bytes (WebAuthn §5.8.3 … §6.5.1): 1364 base64url characters. */
const MAX_CREDENTIAL_ID = 1364;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export type Shape = { id: string; clientDataJSON: string; challenge: string };

/** The parts of a credential response checked before the library sees it, or undefined. */
export function shapeOf(response: unknown): Shape | undefined {
  if (!response || typeof response !== 'object' || Array.isArray(response)) return undefined;
  const r = response as Record<string, unknown>;
  const inner = r.response as Record<string, unknown> | undefined;
  if (typeof r.id !== 'string' || r.id.length > MAX_CREDENTIAL_ID || !BASE64URL.test(r.id) || r.rawId !== r.id || r.type !== 'public-key') return undefined;
  if (!inner || typeof inner !== 'object' || Array.isArray(inner) || typeof inner.clientDataJSON !== 'string') return undefined;
  if (inner.clientDataJSON.length > 16_384 || !BASE64URL.test(inner.clientDataJSON)) return undefined;
  let client: unknown;
  try {
    client = JSON.parse(Buffer.from(inner.clientDataJSON, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const challenge = (client as Record<string, unknown> | null)?.challenge;
  if (typeof challenge !== 'string' || challenge.length > 256) return undefined;
  return { id: r.id, clientDataJSON: inner.clientDataJSON, challenge };
}

/** Why the library refused a response, in words that name no value from it. */
export function why(err: unknown): string {
  const m = err instanceof Error ? err.message : '';
  if (/origin/i.test(m)) return 'it was made for another origin';
  if (/RP ?ID/i.test(m)) return 'it was made for another relying party ID';
  if (/User verification/i.test(m)) return 'user verification is required';
  if (/User not present/i.test(m)) return 'user presence is required';
  if (/response type/i.test(m)) return 'it answers another kind of ceremony';
  return 'it is malformed or its signature is wrong';
}

export const transportsOf = (v: unknown): string[] =>
  Array.isArray(v) ? v.filter((t): t is string => typeof t === 'string' && t.length <= 32).slice(0, 8) : [];

/** The user handle Alias gives an account's credentials: its id's bytes (no address, nothing personal). */
export const userHandle = (userId: string) => Buffer.from(userId, 'utf8');

/** RFC 8176 §2: a synced (multi-device, backed-up) credential is a software key, else a hardware key. */
export function amrOf(info: { credentialDeviceType: string; credentialBackedUp: boolean }): AmrValue[] {
  return [info.credentialDeviceType === 'multiDevice' || info.credentialBackedUp ? 'swk' : 'hwk', 'user'];
}
