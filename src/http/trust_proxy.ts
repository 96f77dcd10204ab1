// ALIAS_TRUST_PROXY (config.ts) as fastify's trustProxy. fastify walks X-Forwarded-For
// from the right (the socket's peer is hop 0) while the trust function says yes; the
// client's address, request.ip, is the first address it does not trust: the right-most
// untrusted entry (RFC 7239 §8). `true` would trust every hop and take the left-most
// entry, which the client writes itself: never used.
import type { TrustProxy } from '../config/config.js';

export type FastifyTrust = false | string[] | ((address: string, hop: number) => boolean);

export function fastifyTrustProxy(setting: TrustProxy): FastifyTrust {
  if (setting === false) return false;
  // fastify 5 refuses a bare number (it cannot check the peer, so it trusts nothing):
  // the hop count is the operator's statement that every request comes through that
  // many proxies, so Alias must not be reachable around them (README, "Behind a proxy").
  if (typeof setting === 'number') return (_address, hop) => hop < setting;
  return setting;
}
