// Typed configuration from flags and environment, validated once at boot.
import { isPostgresUrl } from '../store/db.js';
import { MIN_SECRET_LENGTH } from '../crypto/secrets.js';

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
  /** ALIAS_REDIS_URL: failure counters shared in Redis; undefined means the database's. */
  redisUrl?: string;
  /** ALIAS_REDIS_PREFIX: put before every key Alias writes to Redis. */
  redisPrefix: string;
  demo: boolean;
  logLevel: string;
  /** ALIAS_DRAIN_TIMEOUT: how long a stopping process may finish its work before it exits anyway. */
  drainTimeoutMs: number;
  /** ALIAS_AUDIT_RETENTION_DAYS: audit events older than this are purged by serve's janitor. */
  auditRetentionDays: number;
}

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
}

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
  // Environment only, like ALIAS_SMTP_URL: the URL may carry a password.
  const redisUrl = env.ALIAS_REDIS_URL || undefined;
  if (redisUrl && !/^rediss?:\/\/[^/]/.test(redisUrl)) throw new ConfigError('ALIAS_REDIS_URL must be redis://host:port or rediss://host:port');
  const redisPrefix = env.ALIAS_REDIS_PREFIX ?? DEFAULT_REDIS_PREFIX;
  if (!/^[\x21-\x7e]{1,64}$/.test(redisPrefix)) throw new ConfigError('ALIAS_REDIS_PREFIX must be 1 to 64 printable characters without spaces');
  const demo = flags.demo ?? /^(1|true|yes)$/i.test(env.ALIAS_DEMO ?? '');
  const auditRetentionDays = retentionDays(env.ALIAS_AUDIT_RETENTION_DAYS);
  const drainText = env.ALIAS_DRAIN_TIMEOUT || String(DEFAULT_DRAIN_TIMEOUT_S);
  if (!/^\d{1,4}(\.\d{1,3})?$/.test(drainText) || Number(drainText) > 3600) {
    throw new ConfigError(`ALIAS_DRAIN_TIMEOUT must be a number of seconds from 0 to 3600, not '${drainText}'`);
  }
  return { port, host, issuer, db, secret, smtpUrl, smtpFrom, redisUrl, redisPrefix, demo, logLevel: env.ALIAS_LOG_LEVEL ?? 'info',
    drainTimeoutMs: Math.round(Number(drainText) * 1000), auditRetentionDays };
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
