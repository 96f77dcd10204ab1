// Typed configuration from flags and environment, validated once at boot.
import { isIP } from 'node:net';
import { isPostgresUrl } from '../store/db.js';
import { MIN_SECRET_LENGTH } from '../crypto/secrets.js';
import { dirname, join, resolve } from 'node:path';
import { DkimConfigError, loadDkim, type DkimConfig } from '../mail/dkim.js';

export interface Config {
  port: number;
  host: string;
  /** Issuer URL without a trailing slash. */
  issuer: string;
  /** SQLite file path or postgres:// URL. */
  db: string;
  /** ALIAS_SECRET; undefined means the generated file next to the SQLite database. */
  secret?: string;
  smtpUrl?: string;
  /** ALIAS_SMTP_FROM: the relay's From address (default alias@ the issuer's host). */
  smtpFrom?: string;
  /**
   * Where mail goes as .eml files when there is no SMTP URL: ALIAS_MAIL_DIR, or `mail/`
   * beside the SQLite database; undefined (no mail) on PostgreSQL without either.
   */
  mailDir?: string;
  /** ALIAS_DKIM_DOMAIN, ALIAS_DKIM_SELECTOR, ALIAS_DKIM_KEY: signs every mail. */
  dkim?: DkimConfig;
  /** ALIAS_REDIS_URL: failure counters shared in Redis; undefined means the database's. */
  redisUrl?: string;
  /** ALIAS_REDIS_PREFIX: put before every key Alias writes to Redis. */
  redisPrefix: string;
  demo: boolean;
  /** ALIAS_DEMO_APP_PORT / serve --demo-app-port: the demo apps listen on it and the next port (default 8080). */
  demoAppPort: number;
  logLevel: string;
  /** ALIAS_DRAIN_TIMEOUT: how long a stopping process may finish its work before it exits anyway. */
  drainTimeoutMs: number;
  /** ALIAS_AUDIT_RETENTION_DAYS: audit events older than this are purged by serve's janitor. */
  auditRetentionDays: number;
  /**
   * ALIAS_TRUST_PROXY: which proxies may set X-Forwarded-For. false: none (the socket's
   * address counts); a number: that many hops in front of Alias; a list: the proxies'
   * addresses or CIDRs. The client is the right-most address not trusted (RFC 7239 §8).
   */
  trustProxy: TrustProxy;
  /** ALIAS_SIGNUP / serve --signup: whether people may create accounts on /signup (default open). */
  signup: SignupMode;
  /**
   * ALIAS_REGISTRATION / serve --registration: dynamic client registration (RFC 7591).
   * token (default): with an initial access token; open: also anonymous public clients;
   * closed: none (clients that registered before still manage themselves, RFC 7592).
   */
  registration: RegistrationMode;
  /**
   * ALIAS_REFRESH_REUSE_GRACE / serve --refresh-reuse-grace: how long after a rotation the
   * same client may retry with the old refresh token when the answer was lost (ms; 0: never).
   * docs/security.md, "A retry after a lost answer".
   */
  refreshReuseGraceMs: number;
  /**
   * ALIAS_REQUIRE_PAR / serve --require-par: every client must push its authorization
   * requests first (RFC 9126 §6, require_pushed_authorization_requests in discovery).
   */
  requirePar: boolean;
}

export type SignupMode = 'open' | 'closed';
export type RegistrationMode = 'token' | 'open' | 'closed';

export type TrustProxy = false | number | string[];

/** Below the 30 s most process managers wait between SIGTERM and SIGKILL (Kubernetes, systemd: 90 s). */
export const DEFAULT_DRAIN_TIMEOUT_S = 20;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const DEFAULT_DB = './data/alias.db';
/** Put before every Redis key Alias writes, so deployments can share one Redis. */
export const DEFAULT_REDIS_PREFIX = 'alias:';
export const DEFAULT_AUDIT_RETENTION_DAYS = 90;
const MAX_AUDIT_RETENTION_DAYS = 36_500;

export interface ConfigInput {
  port?: string | number;
  host?: string;
  issuer?: string;
  db?: string;
  demo?: boolean;
  demoAppPort?: string | number;
  signup?: string;
  registration?: string;
  refreshReuseGrace?: string;
  requirePar?: boolean;
}

export const DEFAULT_DEMO_APP_PORT = 8080;

export function loadConfig(flags: ConfigInput, env: NodeJS.ProcessEnv = process.env): Config {
  const portText = String(flags.port ?? env.PORT ?? '3000');
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) throw new ConfigError(`--port must be a number from 0 to 65535, not '${portText}'`);
  const port = Number(portText);
  const host = flags.host ?? env.ALIAS_HOST ?? '127.0.0.1';
  const issuer = normaliseIssuer(flags.issuer ?? env.ALIAS_ISSUER ?? `http://localhost:${port}`);
  const db = flags.db ?? env.ALIAS_DB ?? DEFAULT_DB;
  const secret = env.ALIAS_SECRET || undefined;
  if (secret !== undefined && secret.length < MIN_SECRET_LENGTH) {
    throw new ConfigError(`ALIAS_SECRET must be at least ${MIN_SECRET_LENGTH} characters`);
  }
  if (isPostgresUrl(db) && !secret) {
    throw new ConfigError('ALIAS_SECRET is required with PostgreSQL (the same value on every node)');
  }
  const smtpUrl = env.ALIAS_SMTP_URL || undefined;
  if (smtpUrl && !/^smtps?:\/\//.test(smtpUrl)) throw new ConfigError('ALIAS_SMTP_URL must be smtp://host:port or smtps://host:port');
  const smtpFrom = env.ALIAS_SMTP_FROM || undefined;
  if (smtpFrom && !/^[^\s@<>"]+@[^\s@<>"]+$/.test(smtpFrom)) throw new ConfigError('ALIAS_SMTP_FROM must be a bare e-mail address (alias@example.com)');
  const mailDir = smtpUrl ? undefined
    : env.ALIAS_MAIL_DIR ? resolve(env.ALIAS_MAIL_DIR)
    : isPostgresUrl(db) ? undefined : join(dirname(resolve(db)), 'mail');
  let dkim: DkimConfig | undefined;
  try {
    dkim = loadDkim(env);
  } catch (err) {
    if (err instanceof DkimConfigError) throw new ConfigError(err.message);
    throw err;
  }
  // Environment only, like ALIAS_SMTP_URL: the URL may carry a password.
  const redisUrl = env.ALIAS_REDIS_URL || undefined;
  if (redisUrl && !/^rediss?:\/\/[^/]/.test(redisUrl)) throw new ConfigError('ALIAS_REDIS_URL must be redis://host:port or rediss://host:port');
  const redisPrefix = env.ALIAS_REDIS_PREFIX ?? DEFAULT_REDIS_PREFIX;
  if (!/^[\x21-\x7e]{1,64}$/.test(redisPrefix)) throw new ConfigError('ALIAS_REDIS_PREFIX must be 1 to 64 printable characters without spaces');
  const demo = flags.demo ?? /^(1|true|yes)$/i.test(env.ALIAS_DEMO ?? '');
  // Two demo apps, on this port and the next; a fixed port each, since it is in their redirect URIs.
  const demoPortText = String(flags.demoAppPort ?? env.ALIAS_DEMO_APP_PORT ?? DEFAULT_DEMO_APP_PORT);
  if (!/^\d{1,5}$/.test(demoPortText) || Number(demoPortText) < 1 || Number(demoPortText) > 65534) {
    throw new ConfigError(`--demo-app-port must be a number from 1 to 65534 (the second demo app takes the next port), not '${demoPortText}'`);
  }
  const demoAppPort = Number(demoPortText);
  const auditRetentionDays = retentionDays(env.ALIAS_AUDIT_RETENTION_DAYS);
  const drainText = env.ALIAS_DRAIN_TIMEOUT || String(DEFAULT_DRAIN_TIMEOUT_S);
  if (!/^\d{1,4}(\.\d{1,3})?$/.test(drainText) || Number(drainText) > 3600) {
    throw new ConfigError(`ALIAS_DRAIN_TIMEOUT must be a number of seconds from 0 to 3600, not '${drainText}'`);
  }
  const trustProxy = parseTrustProxy(env.ALIAS_TRUST_PROXY);
  const signup = flags.signup ?? env.ALIAS_SIGNUP ?? 'open';
  if (signup !== 'open' && signup !== 'closed') throw new ConfigError(`--signup (ALIAS_SIGNUP) must be open or closed, not '${signup}'`);
  const registration = flags.registration ?? env.ALIAS_REGISTRATION ?? 'token';
  if (registration !== 'token' && registration !== 'open' && registration !== 'closed') {
    throw new ConfigError(`--registration (ALIAS_REGISTRATION) must be token, open or closed, not '${registration}'`);
  }
  const refreshReuseGraceMs = parseRefreshReuseGrace(flags.refreshReuseGrace ?? env.ALIAS_REFRESH_REUSE_GRACE);
  const requirePar = flags.requirePar ?? parseSwitch(env.ALIAS_REQUIRE_PAR, 'ALIAS_REQUIRE_PAR');
  return { requirePar, port, host, issuer, db, secret, smtpUrl, smtpFrom, mailDir, dkim, redisUrl, redisPrefix, demo, demoAppPort, logLevel: env.ALIAS_LOG_LEVEL ?? 'info',
    drainTimeoutMs: Math.round(Number(drainText) * 1000), auditRetentionDays, trustProxy, signup, registration, refreshReuseGraceMs };
}

/**
 * Long enough for a client to notice a dropped connection and send the same request again
 * (an immediate retry, or one after a short back-off), short enough that a refresh token
 * stolen together with the client's credentials has little time to be played as a "retry".
 */
export const DEFAULT_REFRESH_REUSE_GRACE_MS = 10_000;
/** A retry comes within seconds; a longer window only widens the attacker's (peers cap at 60 s to 5 min). */
export const MAX_REFRESH_REUSE_GRACE_MS = 60_000;

/** `10`, `10s`, `1500ms`, `1m`, `0` (off) → milliseconds. */
export function parseRefreshReuseGrace(text: string | undefined): number {
  if (text === undefined || text.trim() === '') return DEFAULT_REFRESH_REUSE_GRACE_MS;
  const m = /^(\d{1,6})(ms|s|m)?$/.exec(text.trim());
  const ms = m ? Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 'm' ? 60_000 : 1_000) : NaN;
  if (!(ms <= MAX_REFRESH_REUSE_GRACE_MS)) {
    throw new ConfigError(`--refresh-reuse-grace (ALIAS_REFRESH_REUSE_GRACE) must be a duration from 0 (off) to 60s, like 10s or 1500ms, not '${text}'`);
  }
  return ms;
}

/** An on/off environment variable: unset or empty is off. */
function parseSwitch(text: string | undefined, name: string): boolean {
  const value = (text ?? '').trim();
  if (value === '' || /^(0|false|no|off)$/i.test(value)) return false;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  throw new ConfigError(`${name} must be true or false (1/0, yes/no), not '${value}'`);
}

/** The names proxy-addr (fastify's trustProxy) knows for address ranges. */
const NAMED_RANGES = ['loopback', 'linklocal', 'uniquelocal'];

/**
 * ALIAS_TRUST_PROXY. X-Forwarded-For is a list each proxy appends to, so only its right
 * end is trustworthy: the client's address is the right-most entry not added by a trusted
 * proxy (RFC 7239 §8), never the left-most, which the client writes itself.
 *   unset, 0, false    no proxy: the socket's address
 *   1, true            one hop (one load balancer): the right-most X-Forwarded-For entry
 *   N (2-16)           N hops (a CDN in front of a load balancer: 2)
 *   10.0.0.0/8,::1     the proxies' addresses or CIDRs (or loopback, linklocal, uniquelocal):
 *                      entries from them are skipped, right to left
 */
export function parseTrustProxy(text: string | undefined): TrustProxy {
  const value = (text ?? '').trim();
  if (value === '' || /^(0|false|no)$/i.test(value)) return false;
  if (/^(true|yes)$/i.test(value)) return 1;
  if (/^\d{1,2}$/.test(value)) {
    const hops = Number(value);
    if (hops > 16) throw new ConfigError(`ALIAS_TRUST_PROXY must be a hop count from 0 to 16 or a list of addresses, not '${value}'`);
    return hops;
  }
  const entries = value.split(/[\s,]+/).filter(Boolean);
  for (const entry of entries) {
    if (!NAMED_RANGES.includes(entry) && !isAddressOrCidr(entry)) {
      throw new ConfigError(`ALIAS_TRUST_PROXY: '${entry}' is not an IP address or CIDR (e.g. 10.0.0.0/8, fd00::/8)`);
    }
  }
  return entries;
}

function isAddressOrCidr(entry: string): boolean {
  const [address, bits, ...rest] = entry.split('/');
  const family = isIP(address ?? '');
  if (!family || rest.length) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

function retentionDays(text: string | undefined): number {
  if (text === undefined || text === '') return DEFAULT_AUDIT_RETENTION_DAYS;
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1 || Number(text) > MAX_AUDIT_RETENTION_DAYS) {
    throw new ConfigError(`ALIAS_AUDIT_RETENTION_DAYS must be a whole number of days from 1 to ${MAX_AUDIT_RETENTION_DAYS}, not '${text}'`);
  }
  return Number(text);
}

/** OIDC Discovery §3: https (or http for local development), no query or fragment. */
export function normaliseIssuer(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError(`--issuer must be an absolute URL, not '${value}'`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ConfigError('--issuer must be an http or https URL');
  if (url.search || url.hash || value.includes('#') || value.includes('?')) throw new ConfigError('--issuer must not have a query or fragment');
  return url.href.replace(/\/+$/, '');
}
