// Composition root for `aliasid serve`: config → store → services → http app; signals.
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/config.js';
import { createServices, type Services } from './services.js';
import { buildApp } from './http/app.js';
import { seedDemo, startDemoApps } from './demo.js';
import { secretFilePath } from './crypto/secrets.js';
import { isPostgresUrl } from './store/db.js';
import { redactRedisUrl } from './throttle/redis.js';
import { exitOnSignals } from './shutdown.js';
import { describeMail } from './mail/transport.js';

export interface Running {
  app: FastifyInstance;
  services: Services;
  url: string;
  stop(): Promise<void>;
}

export async function startServer(config: Config, out: (line: string) => void = console.log): Promise<Running> {
  const services = await createServices(config, { migrate: true });
  const createdKeys = await services.keys.ensureKey();
  const demo = config.demo ? await seedDemo(services, config) : undefined;
  const app = await buildApp(services, { logger: { level: config.logLevel } });
  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    await services.close();
    throw err;
  }
  let demoApps: Awaited<ReturnType<typeof startDemoApps>> | undefined;
  if (demo) {
    try {
      demoApps = await startDemoApps(config.issuer, demo);
    } catch (err) {
      await app.close();
      await services.close();
      throw err;
    }
  }
  services.backchannel.start();
  services.relayWorker.start();
  services.janitor.start();
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  const sqlite = !isPostgresUrl(config.db);
  out(`Alias is running.`);
  out(`  issuer     ${config.issuer}`);
  out(`  listening  ${url}`);
  out(`  discovery  ${config.issuer}/.well-known/openid-configuration`);
  out(`  database   ${services.db.location}${sqlite ? ' (SQLite, embedded)' : ''}`);
  if (sqlite && !config.secret) out(`  secret     ${secretFilePath(services.db.location)} (generated; set ALIAS_SECRET to use your own)`);
  out(`  mail       ${describeMail(config)}${config.dkim ? `, DKIM-signed (${config.dkim.keySelector}._domainkey.${config.dkim.domainName})` : ''}`);
  out(`  sign-up    ${config.signup === 'open' ? `open (${config.issuer}/signup; --signup closed to turn it off)` : 'closed (accounts only from aliasid user create)'}`);
  out(`  counters   ${config.redisUrl ? `Redis (${redactRedisUrl(config.redisUrl)}, keys ${config.redisPrefix}…; the database while it is unreachable)` : 'in the database (set ALIAS_REDIS_URL to keep them in Redis)'}`);
  if (createdKeys.length) out(`  keys       created the first ${createdKeys.join(' and ')} signing key${createdKeys.length > 1 ? 's' : ''}`);
  if (demo) {
    const [first, second] = demo.apps;
    out('');
    if (demoApps && 'close' in demoApps) {
      out('Demo: a sample user and two sample apps that sign in with Alias (docs/demo.md is the tour).');
      out(`  1. open         ${first!.url}  (${first!.name}) and choose "Sign in with Alias"`);
      out(`  2. sign in as   ${demo.email} / ${demo.password}, and allow what it asks`);
      out(`  3. try          "Send me a message" on the app's page; read it in your inbox at ${config.issuer}/account`);
      out(`  4. compare      ${second!.url}  (${second!.name}): the same person, a different alias ID`);
    } else {
      out(`Demo: a sample user and two sample clients; the demo apps did not start: ${demoApps && 'unavailable' in demoApps ? demoApps.unavailable : ''}`);
      out(`  user           ${demo.email} / ${demo.password}`);
    }
    out('');
    out('  The apps\' clients (the secrets are new at every start):');
    for (const a of demo.apps) {
      out(`  client_id      ${a.clientId}`);
      out(`  client_secret  ${a.clientSecret}`);
      out(`  redirect_uri   ${a.redirectUri}`);
    }
  } else {
    out('');
    out('Create a user and a client (in another terminal, same --db):');
    out(`  npx aliasid user create --email you@example.com --password 'a long password'`);
    out(`  npx aliasid client create --name "My app" --redirect-uri http://localhost:8080/callback`);
  }
  let stopping: Promise<void> | undefined;
  // All at once: the listener closes (new connections are refused) while requests in
  // flight finish, and the workers stop claiming and hand back what they claimed but
  // have not started, so another node takes it now. The database closes last.
  const stop = () => (stopping ??= (async () => {
    await Promise.all([app.close(), demoApps && 'close' in demoApps ? demoApps.close() : undefined, services.backchannel.stop(), services.relayWorker.stop(), services.janitor.stop()]);
    await services.close();
  })());
  return { app, services, url, stop };
}

/** Graceful shutdown on SIGTERM/SIGINT: stop accepting, finish in-flight work, exit 0 (bounded). */
export function handleSignals(running: Running): void {
  exitOnSignals(running.stop, {
    drainTimeoutMs: running.services.config.drainTimeoutMs,
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  });
}
