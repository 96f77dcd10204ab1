// DKIM (RFC 6376) for every mail Alias sends: account mails and relayed messages. The
// private key stays in a PEM file the operator names; only the public half goes to DNS.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface DkimConfig {
  domainName: string;
  keySelector: string;
  /** PEM private key (RSA, or Ed25519 for RFC 8463). */
  privateKey: string;
}

export class DkimConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DkimConfigError';
  }
}

// RFC 6376 §3.1: a selector is one or more dot-separated labels; domains likewise.
const LABELS = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

export function checkDomain(value: string, what: string): string {
  const v = value.trim().replace(/\.$/, '');
  if (!LABELS.test(v)) throw new DkimConfigError(`${what} must be a DNS name (letters, digits, hyphens and dots), not '${value}'`);
  return v.toLowerCase();
}

/**
 * ALIAS_DKIM_DOMAIN, ALIAS_DKIM_SELECTOR, ALIAS_DKIM_KEY (a PEM file): all three or none.
 * Read and checked once at boot, so a wrong path fails at start, not at the first mail.
 */
export function loadDkim(env: NodeJS.ProcessEnv): DkimConfig | undefined {
  const domain = env.ALIAS_DKIM_DOMAIN || undefined;
  const selector = env.ALIAS_DKIM_SELECTOR || undefined;
  const keyFile = env.ALIAS_DKIM_KEY || undefined;
  if (!domain && !selector && !keyFile) return undefined;
  if (!domain || !selector || !keyFile) {
    throw new DkimConfigError('DKIM needs all of ALIAS_DKIM_DOMAIN, ALIAS_DKIM_SELECTOR and ALIAS_DKIM_KEY (or none of them)');
  }
  let pem: string;
  try {
    pem = readFileSync(keyFile, 'utf8');
  } catch (err) {
    throw new DkimConfigError(`cannot read ALIAS_DKIM_KEY ${keyFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const key = createPrivateKey(pem);
    if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'ed25519') throw new Error('not an RSA or Ed25519 key');
  } catch (err) {
    throw new DkimConfigError(`ALIAS_DKIM_KEY ${keyFile} is not a PEM private key: ${(err as Error).message}`);
  }
  return { domainName: checkDomain(domain, 'ALIAS_DKIM_DOMAIN'), keySelector: checkDomain(selector, 'ALIAS_DKIM_SELECTOR'), privateKey: pem };
}

export interface GeneratedDkim {
  privateKeyPem: string;
  /** The owner name of the TXT record: SELECTOR._domainkey.DOMAIN. */
  recordName: string;
  /** The TXT record's value, `v=DKIM1; k=rsa; p=…`. */
  recordValue: string;
}

/** An RSA 2048 key pair (RFC 8301: at least 1024, 2048 recommended) and its DNS record. */
export function generateDkim(domain: string, selector: string): GeneratedDkim {
  const d = checkDomain(domain, '--domain');
  const s = checkDomain(selector, '--selector');
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' }).toString('base64');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    recordName: `${s}._domainkey.${d}`,
    recordValue: `v=DKIM1; k=rsa; p=${spki}`,
  };
}

/** RFC 7208 §3.3 / RFC 1035: one TXT string holds at most 255 octets; longer values are split. */
export function txtStrings(value: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < value.length; i += 255) out.push(value.slice(i, i + 255));
  return out;
}
