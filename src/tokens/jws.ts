// JWS Compact Serialization (RFC 7515 §7.1) of a JWT we issue, signed with node:crypto on
// the cached private KeyObject (keys.ts). Signing only: everything we verify goes through
// jose (DESIGN.md, relaxed for signing by issue 17 because jose signs through WebCrypto,
// which converts the KeyObject and queues a job per signature: bench/README.md). Tests
// check every algorithm's tokens with jose and oauth4webapi (test/unit/jws.test.ts).
import { sign, type KeyObject, type SignKeyObjectInput } from 'node:crypto';
import type { SigningAlg } from '../oauth/signing_algs.js';
import type { SigningKey } from './keys.js';

/**
 * The node:crypto parameters of each algorithm (RFC 7518 §3.1). A Record over SigningAlg,
 * so an algorithm added to signing_algs.ts does not compile until it is given its own.
 */
const PARAMETERS: Record<SigningAlg, { digest: string; key: (k: KeyObject) => KeyObject | SignKeyObjectInput }> = {
  // RFC 7518 §3.3: RSASSA-PKCS1-v1_5 with SHA-256 (node's default padding for an RSA key).
  RS256: { digest: 'sha256', key: (k) => k },
  // RFC 7518 §3.4: the signature is R || S, each 32 octets, not the DER of ECDSA-Sig-Value.
  ES256: { digest: 'sha256', key: (k) => ({ key: k, dsaEncoding: 'ieee-p1363' }) },
};

const segment = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * `header` is serialised as given after `alg` and `kid` (the key's), so its members keep
 * their order (the same bytes jose's SignJWT would sign).
 */
export function signJwt(key: SigningKey, header: { typ: string }, payload: Record<string, unknown>): string {
  const { digest, key: keyInput } = PARAMETERS[key.alg];
  // RFC 7515 §5.1: the signing input is ASCII(BASE64URL(header) || '.' || BASE64URL(payload)).
  const input = `${segment({ alg: key.alg, kid: key.kid, ...header })}.${segment(payload)}`;
  const signature = sign(digest, Buffer.from(input, 'ascii'), keyInput(key.privateKey));
  return `${input}.${signature.toString('base64url')}`;
}
