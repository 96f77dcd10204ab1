// @ts-check
// Starts the demo app on its own port. `aliasid serve --demo` starts two of them (see
// docs/demo.md); run it alone against any Alias with a client of your own:
//
//   ALIAS_ISSUER=http://localhost:3000 DEMO_CLIENT_ID=… DEMO_CLIENT_SECRET=… \
//   DEMO_APP_URL=http://localhost:8080 DEMO_CHANNELS=news node examples/demo-app/server.js
//
// (register the client with --redirect-uri http://localhost:8080/callback, the grant types
// authorization_code and refresh_token, and the channel.)
import { createServer } from 'node:http';
import { pathToFileURL } from 'node:url';
import { createDemoApp } from './app.js';

/**
 * Listens on the base URL's port (on 127.0.0.1 for `localhost`, like the redirect URI).
 * @param {import('./app.js').DemoAppOptions & { host?: string }} opts
 * @returns {Promise<{ url: string, close(): Promise<void> }>}
 */
export async function startDemoApp(opts) {
  const server = createServer(createDemoApp(opts));
  // Slow or stalled clients cannot hold the app's sockets open for long.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  const host = opts.host ?? (opts.baseUrl.hostname === 'localhost' ? '127.0.0.1' : opts.baseUrl.hostname.replace(/^\[|\]$/g, ''));
  const port = Number(opts.baseUrl.port || (opts.baseUrl.protocol === 'https:' ? 443 : 80));
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(undefined);
    });
  });
  return {
    url: opts.baseUrl.href.replace(/\/$/, ''),
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    }),
  };
}

/** @param {NodeJS.ProcessEnv} env */
async function main(env) {
  const required = (/** @type {string} */ name) => {
    const v = env[name];
    if (!v) throw new Error(`${name} is required (see the comment at the top of examples/demo-app/server.js)`);
    return v;
  };
  const baseUrl = new URL(env.DEMO_APP_URL ?? 'http://localhost:8080');
  const app = await startDemoApp({
    issuer: new URL(env.ALIAS_ISSUER ?? 'http://localhost:3000'),
    clientId: required('DEMO_CLIENT_ID'),
    clientSecret: required('DEMO_CLIENT_SECRET'),
    baseUrl,
    name: env.DEMO_APP_NAME ?? 'Demo app',
    channels: (env.DEMO_CHANNELS ?? '').split(/[\s,]+/).filter(Boolean),
  });
  console.log(`${env.DEMO_APP_NAME ?? 'Demo app'} is running at ${app.url} (redirect URI ${new URL('/callback', baseUrl).href})`);
  const stop = () => { void app.close().then(() => process.exit(0)); };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.env).catch((err) => {
    console.error(`demo app: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
