import type { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { fail } from './context.js';

export function serveCommand(program: Command) {
  program.command('serve')
    .description('run the OpenID provider (migrates the database and creates a signing key on first start)')
    .option('--port <port>', 'port to listen on (env PORT)', undefined)
    .option('--host <host>', 'address to bind (env ALIAS_HOST)', undefined)
    .option('--issuer <url>', 'public issuer URL (env ALIAS_ISSUER; default http://localhost:PORT)')
    .option('--db <location>', 'SQLite file or postgres:// URL (env ALIAS_DB; default ./data/alias.db)')
    .option('--demo', 'also create a sample user and two sample apps to sign in to (docs/demo.md) (env ALIAS_DEMO=1)')
    .option('--demo-app-port <port>', 'with --demo: the first demo app\'s port; the second takes the next one (env ALIAS_DEMO_APP_PORT; default 8080)')
    .option('--signup <mode>', 'open: anyone may create an account on /signup; closed: only `aliasid user create` (env ALIAS_SIGNUP; default open)')
    .option('--registration <mode>', 'dynamic client registration (RFC 7591): token (with an initial access token from ' +
      '`aliasid registration-token create`), open (also anonymous public clients, rate-limited per address) or closed ' +
      '(env ALIAS_REGISTRATION; default token)')
    .option('--refresh-reuse-grace <duration>', 'how long the same client may retry a refresh whose answer was lost with the ' +
      'old refresh token (docs/security.md); 0 turns it off (env ALIAS_REFRESH_REUSE_GRACE; default 10s, at most 60s)')
    .option('--require-par', 'every client must push its authorization requests first (RFC 9126 pushed authorization ' +
      'requests; without it only clients registered with --require-par must) (env ALIAS_REQUIRE_PAR=true)')
    .action(async (opts: { port?: string; host?: string; issuer?: string; db?: string; demo?: boolean; demoAppPort?: string; signup?: string;
      registration?: string; refreshReuseGrace?: string; requirePar?: boolean }) => {
      try {
        const config = loadConfig(opts);
        (await import('../v8_flags.js')).tuneV8ForServing();
        // The HTTP stack is loaded by the command that serves, not by every admin command.
        const { handleSignals, startServer } = await import('../main.js');
        const running = await startServer(config);
        handleSignals(running);
      } catch (err) {
        fail(err);
      }
    });
}
