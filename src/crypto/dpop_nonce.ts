// RFC 9449 §8: server-provided DPoP nonces. Stateless, so every node issues and accepts
// the same ones: a nonce is its time window and an HMAC of it under a key derived from
// ALIAS_SECRET (the same on every node). A nonce is good in its own window and the next
// one, so one issued just before a window ends still lives a full window.
import { timingSafeEqual } from 'node:crypto';
import type { Secrets } from './secrets.js';

/** How long one nonce is issued for; it is accepted for up to twice as long. */
export const DPOP_NONCE_WINDOW_MS = 5 * 60_000;
const PURPOSE = 'dpop-nonce';

export interface DpopNonces {
  /** The nonce to hand out now (the DPoP-Nonce header). */
  current(): string;
  /** True for a nonce this deployment issued in the current or the previous window. */
  valid(nonce: string): boolean;
}

export function createDpopNonces(secrets: Pick<Secrets, 'mac'>, now: () => number): DpopNonces {
  const windowOf = (t: number) => Math.floor(t / DPOP_NONCE_WINDOW_MS);
  const make = (w: number) => `${w.toString(36)}.${secrets.mac(PURPOSE, String(w)).slice(0, 22)}`;
  let cached: { w: number; nonce: string } | undefined;
  return {
    current() {
      const w = windowOf(now());
      if (cached?.w !== w) cached = { w, nonce: make(w) };
      return cached.nonce;
    },
    valid(nonce) {
      const m = /^([0-9a-z]{1,12})\.[A-Za-z0-9_-]{22}$/.exec(nonce);
      if (!m) return false;
      const w = parseInt(m[1]!, 36);
      const cur = windowOf(now());
      if (w !== cur && w !== cur - 1) return false;
      const expected = Buffer.from(make(w));
      const given = Buffer.from(nonce);
      return expected.length === given.length && timingSafeEqual(expected, given);
    },
  };
}
