// Signing keys: created on first start, rotated by `aliasid keys rotate`, stored
// encrypted, published in JWKS from creation until every token they signed expired.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import type { Store, SigningKeyRecord } from '../store/store.js';
import type { Secrets } from '../security/secrets.js';

/** A new key is published this long before any node signs with it. */
export const ACTIVATION_DELAY_MS = 4_000;
/** How long a node trusts its cached key list (new keys live everywhere within 10 s). */
export const KEY_CACHE_MS = 2_000;
/** Longest lifetime of anything we sign (ID tokens). */
export const ID_TOKEN_TTL_S = 3600;

export interface SigningKey {
  kid: string;
  alg: 'RS256';
  privateKey: KeyObject;
  publicJwk: Record<string, unknown>;
}

export interface KeyService {
  /** Creates the first key when there is none. Returns true if it did. */
  ensureKey(): Promise<boolean>;
  rotate(): Promise<string>;
  signingKey(): Promise<SigningKey>;
  jwks(): Promise<{ keys: Record<string, unknown>[] }>;
  publicKey(kid: string): Promise<KeyObject | undefined>;
}

export function createKeyService(store: Store, secrets: Secrets, now: () => number): KeyService {
  let cache: { at: number; records: SigningKeyRecord[] } | undefined;
  const decrypted = new Map<string, KeyObject>();

  async function records(): Promise<SigningKeyRecord[]> {
    const t = now();
    if (!cache || t - cache.at > KEY_CACHE_MS) cache = { at: t, records: await store.keys.list() };
    return cache.records;
  }

  function generate(): SigningKeyRecord {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const kid = randomBytes(12).toString('base64url');
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    return { kid, alg: 'RS256', publicJwk: JSON.stringify(jwk), privateKeyEnc: secrets.seal(pem), status: 'active',
      createdAt: now(), retiredAt: null };
  }

  /** Retired keys stay published until everything they signed has expired. */
  const published = (r: SigningKeyRecord, t: number) =>
    r.status === 'active' || (r.retiredAt !== null && r.retiredAt + ID_TOKEN_TTL_S * 1000 + 60_000 > t);

  return {
    async ensureKey() {
      return store.transaction(async (tx) => {
        // Nodes started together on an empty PostgreSQL database would each see no key
        // and each create one, usable at once, and sign with it before the others
        // publish it. Claiming this row first makes a second node wait for the first
        // one's commit, and then see its key (each statement reads the latest commits).
        await tx.settings.putIfAbsent('first_signing_key', 'claimed');
        const existing = await tx.keys.list();
        if (existing.some((k) => k.status === 'active')) return false;
        // The first key is usable at once: nothing else could be signing yet.
        const key = { ...generate(), createdAt: now() - ACTIVATION_DELAY_MS };
        await tx.keys.insert(key);
        cache = undefined;
        return true;
      });
    },
    async rotate() {
      const key = generate();
      const t = now();
      await store.transaction(async (tx) => {
        await tx.keys.insert(key);
        // The old key keeps signing until the new one activates on every node.
        await tx.keys.retireAllBut(key.kid, t + ACTIVATION_DELAY_MS);
        await tx.keys.deleteRetiredBefore(t - ID_TOKEN_TTL_S * 1000 - 60_000);
      });
      cache = undefined;
      return key.kid;
    },
    async signingKey() {
      const t = now();
      const all = await records();
      // Newest key that every node has had time to publish; else the newest one.
      const rec = all.find((r) => r.createdAt + ACTIVATION_DELAY_MS <= t && published(r, t)) ?? all[0];
      if (!rec) throw new Error('no signing key: run `aliasid keys rotate` or start `aliasid serve` once');
      let privateKey = decrypted.get(rec.kid);
      if (!privateKey) {
        privateKey = createPrivateKey(secrets.open(rec.privateKeyEnc));
        decrypted.set(rec.kid, privateKey);
      }
      return { kid: rec.kid, alg: 'RS256', privateKey, publicJwk: JSON.parse(rec.publicJwk) as Record<string, unknown> };
    },
    async jwks() {
      const t = now();
      const all = await records();
      return { keys: all.filter((r) => published(r, t)).map((r) => JSON.parse(r.publicJwk) as Record<string, unknown>) };
    },
    async publicKey(kid) {
      const rec = (await records()).find((r) => r.kid === kid);
      return rec ? createPublicKey({ key: JSON.parse(rec.publicJwk), format: 'jwk' }) : undefined;
    },
  };
}
