// Signing keys: one set per algorithm (RS256: RSA 2048; ES256: ECDSA P-256). Each set has
// one active key, created on first start, rotated by `aliasid keys rotate`, stored
// encrypted, published in JWKS from creation until every token it signed expired.
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import type { Store } from '../store/store.js';
import type { SigningKeyRecord } from '../store/types.js';
import type { Secrets } from '../crypto/secrets.js';
import { SIGNING_ALGS, isSigningAlg, type SigningAlg } from '../oauth/signing_algs.js';

/**
 * By default a rotated key is published this long before any node signs with it (the
 * publish window). A verifier that fetched JWKS just before the rotation meets the new
 * kid only after this, later than the cool-down before it may refetch on an unknown kid
 * (jose 30 s, oauth4webapi 60 s), so it refetches and verifies instead of failing.
 */
export const DEFAULT_PUBLISH_WINDOW_MS = 120_000;
/** The shortest window: every node re-reads keys within KEY_CACHE_MS, so all publish first. */
export const MIN_PUBLISH_WINDOW_MS = 4_000;
/** How long a node trusts its cached key list (new keys live everywhere within 10 s). */
export const KEY_CACHE_MS = 2_000;
/** Longest lifetime of anything we sign (ID tokens). */
export const ID_TOKEN_TTL_S = 3600;
/** The settings row whose lock makes key creation run on one node at a time. */
const KEY_CREATION_LOCK = 'first_signing_key';

export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlg;
  readonly privateKey: KeyObject;
}

export interface RotateOptions {
  /** How long the new keys are published before they sign (DEFAULT_PUBLISH_WINDOW_MS). */
  publishWindowMs?: number;
  /**
   * A compromised key: the new keys sign at once and every other key is deleted, so it
   * leaves JWKS (within KEY_CACHE_MS on every node) and what it signed stops verifying.
   */
  compromised?: boolean;
}

export interface KeyService {
  /**
   * Creates a key for every algorithm that has no active key (all of them on an empty
   * database; ES256 alone on a database from before ES256). Returns the algorithms it
   * created a key for: empty when there was nothing to do. All or nothing.
   */
  ensureKey(): Promise<SigningAlg[]>;
  /**
   * Makes a new key for every algorithm (all or nothing), published at once and signing
   * after `publishWindowMs` (at least MIN_PUBLISH_WINDOW_MS); the previous ones sign until
   * then and stay published until their tokens expire.
   */
  rotate(opts?: RotateOptions): Promise<{ alg: SigningAlg; kid: string; activatesAt: number }[]>;
  /** The key that signs with `alg` now. */
  signingKey(alg: SigningAlg): Promise<SigningKey>;
  jwks(): Promise<{ keys: Record<string, unknown>[] }>;
  /** A key we signed with, by kid, and its algorithm (to verify our own tokens). */
  verificationKey(kid: string): Promise<{ alg: SigningAlg; key: KeyObject } | undefined>;
}

export function createKeyService(store: Store, secrets: Secrets, now: () => number): KeyService {
  let cache: { at: number; records: SigningKeyRecord[] } | undefined;
  /**
   * Each key's private half, decrypted once, by kid. Every ID token is signed with one:
   * opening the sealed PEM and parsing it again per token would cost more than the rest of
   * the lookup.
   */
  const decrypted = new Map<string, SigningKey>();

  async function records(): Promise<SigningKeyRecord[]> {
    const t = now();
    if (!cache || t - cache.at > KEY_CACHE_MS) cache = { at: t, records: await store.keys.list() };
    return cache.records;
  }

  function generate(alg: SigningAlg, createdAt: number, activatesAt: number): SigningKeyRecord {
    const { privateKey, publicKey } = alg === 'ES256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : generateKeyPairSync('rsa', { modulusLength: 2048 });
    const kid = randomBytes(12).toString('base64url');
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
    const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    return { kid, alg, publicJwk: JSON.stringify(jwk), privateKeyEnc: secrets.seal(pem), status: 'active',
      createdAt, retiredAt: null, activatesAt };
  }

  /** Retired keys stay published until everything they signed has expired. */
  const published = (r: SigningKeyRecord, t: number) =>
    r.status === 'active' || (r.retiredAt !== null && r.retiredAt + ID_TOKEN_TTL_S * 1000 + 60_000 > t);

  return {
    async ensureKey() {
      return store.transaction(async (tx) => {
        // Nodes started together would each see no key and each create one, usable at
        // once, and sign with it before the others publish it. Locking this row first
        // makes a second node wait for the first one's commit, and then see its keys
        // (each statement reads the latest commits). A lock, not a one-time claim: the
        // first start after an upgrade adds the ES256 key to a database that has long
        // had its RSA key, and nodes restarted together must not add two.
        await tx.settings.lock(KEY_CREATION_LOCK, 'claimed');
        const existing = await tx.keys.list();
        const missing = SIGNING_ALGS.filter((alg) => !existing.some((k) => k.alg === alg && k.status === 'active'));
        // A first key is usable at once: nothing could be signing with its algorithm yet.
        const usableNow = now();
        // Nodes of the previous version sign with the newest key, whatever its algorithm,
        // and would fail with an ES256 key. Dated before every existing key, an ES256 key
        // added to an older database is never theirs: a rolling upgrade keeps every node signing.
        const beforeExisting = Math.min(usableNow, ...existing.map((k) => k.createdAt - 1));
        // One transaction: a failed insert leaves no key of this call behind.
        for (const alg of missing) {
          const createdAt = alg === 'RS256' ? usableNow : beforeExisting;
          await tx.keys.insert(generate(alg, createdAt, createdAt));
        }
        if (missing.length) cache = undefined;
        return missing;
      });
    },
    async rotate({ publishWindowMs = DEFAULT_PUBLISH_WINDOW_MS, compromised = false } = {}) {
      const t = now();
      const activatesAt = compromised ? t : t + Math.max(MIN_PUBLISH_WINDOW_MS, publishWindowMs);
      const fresh = SIGNING_ALGS.map((alg) => generate(alg, t, activatesAt));
      await store.transaction(async (tx) => {
        for (const key of fresh) {
          await tx.keys.insert(key);
          // The old key of each algorithm keeps signing until the new one activates; it
          // stays published until the tokens it signed until then have expired.
          await tx.keys.retireAllBut(key.kid, activatesAt);
        }
        // Compromised: every other key goes, including one an earlier rotation retired
        // for the end of its publish window (retired_at in the future).
        await tx.keys.deleteRetiredBefore(compromised ? Number.MAX_SAFE_INTEGER : t - ID_TOKEN_TTL_S * 1000 - 60_000);
      });
      cache = undefined;
      return fresh.map((k, i) => ({ alg: SIGNING_ALGS[i]!, kid: k.kid, activatesAt }));
    },
    async signingKey(alg) {
      const t = now();
      const all = (await records()).filter((r) => r.alg === alg);
      // Newest key whose publish window has passed; else the newest one.
      const rec = all.find((r) => r.activatesAt <= t && published(r, t)) ?? all[0];
      if (!rec) throw new Error(`no ${alg} signing key: start \`aliasid serve\` once or run \`aliasid keys rotate\``);
      let key = decrypted.get(rec.kid);
      if (!key) {
        key = Object.freeze({ kid: rec.kid, alg, privateKey: createPrivateKey(secrets.open(rec.privateKeyEnc)) });
        decrypted.set(rec.kid, key);
      }
      return key;
    },
    async jwks() {
      const t = now();
      const all = await records();
      return { keys: all.filter((r) => published(r, t)).map((r) => JSON.parse(r.publicJwk) as Record<string, unknown>) };
    },
    async verificationKey(kid) {
      const rec = (await records()).find((r) => r.kid === kid);
      if (!rec || !isSigningAlg(rec.alg)) return undefined;
      return { alg: rec.alg, key: createPublicKey({ key: JSON.parse(rec.publicJwk), format: 'jwk' }) };
    },
  };
}
