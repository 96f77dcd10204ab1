// `serve --demo`: a sample user and two sample apps, so a fresh clone can try the whole
// loop at once: sign in to an app, see its alias ID, have it message you through the
// relay, read the message in the inbox (docs/demo.md). Seeded and started by the
// composition root (main.ts), which the CLI's serve command calls.
//
// The apps are examples/demo-app, a relying party written with openid-client as any app
// would be: it talks to Alias over HTTP only. It runs in this process, so stopping Alias
// (a signal, `kill`) stops the apps too.
import type { Config } from './config/config.js';
import type { Services } from './services.js';
import { validateClient } from './clients/registry.js';
import { digest, mintOpaque } from './tokens/opaque.js';

export const DEMO = {
  email: 'demo@example.com',
  password: 'alias-demo-password',
  nickname: 'Demo',
  /** Two apps: one person gets a different alias ID at each. */
  apps: [
    { clientId: 'demo-client', name: 'Demo app', channel: 'news:Product news' },
    { clientId: 'demo-client-2', name: 'Second demo app', channel: 'offers:Special offers' },
  ],
};

export interface DemoApp {
  clientId: string;
  clientSecret: string;
  name: string;
  /** Where the app is reached, e.g. http://localhost:8080. */
  url: string;
  redirectUri: string;
  /** The relay channel it asks for. */
  channel: string;
}

export interface Demo {
  email: string;
  password: string;
  apps: DemoApp[];
}

/** The demo user, and both demo clients with a new secret and redirect URIs on the configured ports. */
export async function seedDemo(s: Services, config: Pick<Config, 'demoAppPort'>): Promise<Demo> {
  if (!(await s.store.users.getByEmail(DEMO.email))) {
    await s.accounts.create({ email: DEMO.email, password: DEMO.password, nickname: DEMO.nickname });
  }
  const apps: DemoApp[] = [];
  for (const [i, def] of DEMO.apps.entries()) {
    const url = `http://localhost:${config.demoAppPort + i}`;
    const input = { id: def.clientId, name: def.name, redirectUris: [`${url}/callback`],
      grantTypes: ['authorization_code', 'refresh_token'], channels: [def.channel] };
    const existing = await s.store.clients.get(def.clientId);
    let clientSecret: string;
    if (!existing) {
      clientSecret = (await s.clients.create(input)).secret!;
    } else {
      // Only the digest is stored, so a restart issues a new secret for the app; the
      // redirect URI follows the port the app listens on now.
      clientSecret = mintOpaque();
      await s.store.clients.update({ ...existing, ...validateClient(input), secretDigest: digest(clientSecret),
        secretSealed: null, previousSecretDigest: null, previousSecretSealed: null, previousSecretExpiresAt: null, updatedAt: s.now() });
    }
    apps.push({ clientId: def.clientId, clientSecret, name: def.name, url, redirectUri: `${url}/callback`,
      channel: def.channel.split(':')[0]! });
  }
  return { email: DEMO.email, password: DEMO.password, apps };
}

/** What examples/demo-app/server.js exports (it is plain JavaScript, loaded at run time). */
interface DemoAppModule {
  startDemoApp(opts: { issuer: URL; clientId: string; clientSecret: string; baseUrl: URL; name: string;
    channels: string[]; others: { name: string; url: string }[] }): Promise<{ url: string; close(): Promise<void> }>;
}

export class DemoAppsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DemoAppsError';
  }
}

/**
 * Starts the demo apps. Resolves with how to stop them, or with why they cannot run here
 * (openid-client is a development dependency: `npm ci --omit=dev` leaves it out). A port
 * already in use is an error: the apps' redirect URIs name their ports.
 */
export async function startDemoApps(issuer: string, demo: Demo):
  Promise<{ close(): Promise<void> } | { unavailable: string }> {
  let mod: DemoAppModule;
  try {
    // From src/ (tsx) and dist/ alike, examples/ is one level up.
    mod = await import(new URL('../examples/demo-app/server.js', import.meta.url).href) as DemoAppModule;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND') return { unavailable: `${(err as Error).message.split('\n')[0]} (npm ci installs it; --omit=dev leaves it out)` };
    throw err;
  }
  const started: { close(): Promise<void> }[] = [];
  const closeAll = () => Promise.all(started.map((a) => a.close())).then(() => undefined);
  for (const app of demo.apps) {
    try {
      started.push(await mod.startDemoApp({
        issuer: new URL(issuer), clientId: app.clientId, clientSecret: app.clientSecret, baseUrl: new URL(app.url),
        name: app.name, channels: [app.channel],
        others: demo.apps.filter((o) => o !== app).map((o) => ({ name: o.name, url: o.url })),
      }));
    } catch (err) {
      await closeAll();
      const why = (err as { code?: string }).code === 'EADDRINUSE' ? 'the port is in use' : (err as Error).message;
      throw new DemoAppsError(`the demo app '${app.name}' cannot listen on ${app.url} (${why}); ` +
        'choose other ports with --demo-app-port (ALIAS_DEMO_APP_PORT), e.g. npm run demo -- --demo-app-port 9080');
    }
  }
  return { close: closeAll };
}
