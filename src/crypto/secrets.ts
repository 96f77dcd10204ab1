// ALIAS_SECRET and the keys derived from it. The secret never touches the database;
// each purpose gets its own HKDF-derived key.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const MIN_SECRET_LENGTH = 32;

export interface Secrets {
  /**
   * AES-256-GCM encryption at rest, one key per purpose (signing keys by default; the
   * mail outbox has its own).
   */
  seal(plain: string, purpose?: string): string;
  open(sealed: string, purpose?: string): string;
  /** HMAC for anti-CSRF tokens and other keyed digests, separated by purpose. */
  mac(purpose: string, value: string): string;
}

export function createSecrets(secret: string): Secrets {
  if (secret.length < MIN_SECRET_LENGTH) throw new Error(`ALIAS_SECRET must be at least ${MIN_SECRET_LENGTH} characters`);
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', secret, 'alias', info, 32));
  const SIGNING_KEYS = 'signing-keys-at-rest';
  const sealKeys = new Map<string, Buffer>();
  const sealKey = (purpose: string) => {
    let key = sealKeys.get(purpose);
    if (!key) sealKeys.set(purpose, key = derive(purpose));
    return key;
  };
  const macKeys = new Map<string, Buffer>();
  return {
    seal(plain, purpose = SIGNING_KEYS) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', sealKey(purpose), iv);
      const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
    },
    open(sealed, purpose = SIGNING_KEYS) {
      const [v, iv, tag, body] = sealed.split('.');
      if (v !== 'v1' || !iv || !tag || !body) throw new Error('sealed value has an unknown format');
      const decipher = createDecipheriv('aes-256-gcm', sealKey(purpose), Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      try {
        return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
      } catch {
        throw new Error(purpose === SIGNING_KEYS ? 'cannot decrypt signing keys: ALIAS_SECRET differs from the one they were stored with'
          : `cannot decrypt (${purpose}): ALIAS_SECRET differs from the one it was stored with`);
      }
    },
    mac(purpose, value) {
      let key = macKeys.get(purpose);
      if (!key) {
        key = derive(`mac:${purpose}`);
        macKeys.set(purpose, key);
      }
      return createHmac('sha256', key).update(value).digest('base64url');
    },
  };
}

/**
 * The embedded default keeps a generated secret next to the database file (mode 0600),
 * so a fresh clone needs no configuration.
 */
export function loadOrCreateSecretFile(dbFile: string): string {
  const file = join(dirname(dbFile), 'secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dirname(file), { recursive: true });
  const secret = randomBytes(32).toString('base64url');
  // Written whole under a name of its own, then linked into place: of commands starting
  // at once on a new data directory (serve and an admin command), one links its secret
  // and the others read that one, never a half-written file.
  const draft = `${file}.${process.pid}.${randomBytes(6).toString('hex')}`;
  writeFileSync(draft, secret + '\n', { mode: 0o600, flag: 'wx' });
  try {
    chmodSync(draft, 0o600);
    linkSync(draft, file);
    return secret;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim();
    throw err;
  } finally {
    rmSync(draft, { force: true });
  }
}

export const secretFilePath = (dbFile: string): string => join(dirname(dbFile), 'secret');
