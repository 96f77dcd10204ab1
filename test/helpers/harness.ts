// Starts Alias on a real port over a test database, with helpers to seed it.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import * as oauth from 'oauth4webapi';
import { loadConfig } from '../../src/config/config.js';
import { createServices, type Services } from '../../src/services.js';
import { buildApp } from '../../src/http/app.js';
import type { NewClient } from '../../src/clients/registry.js';
import type { Client, User } from '../../src/store/types.js';
import { TEST_SECRET, type DatabaseKind, type TestDatabase } from './databases.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/**
 * A free port whose next port is free too (`serve --demo`'s two demo apps), taken from
 * below the kernel's ephemeral range. A port from that range can be handed to any
 * outgoing connection of a concurrent test (PostgreSQL, Chromium, fetch) in the seconds
 * between this check and the demo app's listen; ports below it are never assigned
 * implicitly, so only an explicit bind could collide.
 */
export async function freePortPair(): Promise<number> {
  const free = (port: number) => new Promise<boolean>((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
  const low = ephemeralLow();
  for (let i = 0; i < 50; i++) {
    const port = 10_000 + Math.floor(Math.random() * (low - 10_002));
    if (await free(port) && await free(port + 1)) return port;
  }
  throw new Error(`no two adjacent free ports between 10000 and ${low}`);
}

/** The first port of Linux's ephemeral range (32768 where it cannot be read). */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 12_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

export interface Alias {
  s: Services;
  app: FastifyInstance;
  db: TestDatabase;
  issuer: string;
  /** Advances the clock seen by Alias (ms). */
  advance(ms: number): void;
  client(input?: Partial<NewClient>): Promise<{ client: Client; secret?: string }>;
  user(input?: { email?: string; password?: string; nickname?: string | null }): Promise<User & { password: string }>;
  close(): Promise<void>;
}

let counter = 0;

export async function startAlias(kind: DatabaseKind, opts: {
  listen?: boolean;
  env?: Record<string, string>;
  /** Rewrites the database location Alias connects to (e.g. through a TCP proxy). */
  via?: (location: string) => string;
  /** The issuer's host name (still served on 127.0.0.1): `localhost` where an IP address will not do (a WebAuthn RP ID). */
  issuerHost?: string;
} = {}): Promise<Alias> {
  const db = await kind.create();
  const port = await freePort();
  const issuer = `http://${opts.issuerHost ?? '127.0.0.1'}:${port}`;
  let offset = 0;
  const now = () => Date.now() + offset;
  const config = loadConfig({ db: opts.via ? opts.via(db.location) : db.location, port, issuer }, { ALIAS_SECRET: TEST_SECRET, ALIAS_LOG_LEVEL: 'silent',
    // A test file may put Alias behind a proxy for all its servers (audit.test.ts).
    ...(process.env.ALIAS_TRUST_PROXY ? { ALIAS_TRUST_PROXY: process.env.ALIAS_TRUST_PROXY } : {}), ...opts.env });
  const s = await createServices(config, { now, schema: db.schema });
  await s.keys.ensureKey();
  const app = await buildApp(s, process.env.ALIAS_TEST_LOG ? { logger: { level: 'error' } } : {});
  if (opts.listen ?? true) await app.listen({ port, host: '127.0.0.1' });
  else await app.ready();
  return {
    s, app, db, issuer,
    advance: (ms) => { offset += ms; },
    async client(input = {}) {
      return s.clients.create({ name: 'Test app', redirectUris: ['https://app.example/cb'], ...input });
    },
    async user(input = {}) {
      const password = input.password ?? 'correct horse battery staple';
      const u = await s.accounts.create({
        email: input.email ?? `user${++counter}-${Date.now()}@example.com`, password,
        nickname: input.nickname === undefined ? 'Nick' : input.nickname,
      });
      return { ...u, password };
    },
    async close() {
      await app.close();
      await s.close();
      await db.cleanup();
    },
  };
}

/** The running Alias's metadata as oauth4webapi reads it (RFC 8414 discovery, over plain http in tests). */
export async function discoverAlias(alias: { issuer: string }): Promise<oauth.AuthorizationServer> {
  const issuer = new URL(alias.issuer);
  return oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { [oauth.allowInsecureRequests]: true }));
}
