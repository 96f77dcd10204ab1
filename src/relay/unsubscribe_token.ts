// One-click unsubscribe links (RFC 8058): an HMAC-signed reference to one channel of one
// app for one user. The link is its own authorisation, so it carries no expiry and
// cannot be forged or altered without ALIAS_SECRET.
import type { Secrets } from '../crypto/secrets.js';
import { safeEqual } from '../tokens/opaque.js';

const PURPOSE = 'relay-unsubscribe';
const VERSION = 'u1';

export interface UnsubscribeRef {
  userId: string;
  clientId: string;
  channel: string;
}

export function unsubscribeToken(secrets: Secrets, ref: UnsubscribeRef): string {
  const payload = Buffer.from(JSON.stringify([ref.userId, ref.clientId, ref.channel]), 'utf8').toString('base64url');
  return `${VERSION}.${payload}.${secrets.mac(PURPOSE, `${VERSION}.${payload}`)}`;
}

/** The reference a token names, or undefined for anything Alias did not sign. */
export function readUnsubscribeToken(secrets: Secrets, token: string): UnsubscribeRef | undefined {
  if (token.length > 1024) return undefined;
  const [version, payload, mac, extra] = token.split('.');
  if (version !== VERSION || !payload || !mac || extra !== undefined) return undefined;
  if (!safeEqual(mac, secrets.mac(PURPOSE, `${VERSION}.${payload}`))) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 3 || !value.every((x) => typeof x === 'string')) return undefined;
    const [userId, clientId, channel] = value as [string, string, string];
    return { userId, clientId, channel };
  } catch {
    return undefined;
  }
}

export const unsubscribeUrl = (issuer: string, token: string): string => `${issuer}/unsubscribe/${token}`;
