// `aliasid worker`: runs the contact relay's delivery worker alone (no HTTP), until
// SIGTERM or SIGINT; it sends account mails too. Any number of workers, and `serve`, can share one database: each
// message is leased to one of them at a time.
import type { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { createServices } from '../services.js';
import { describeMail } from '../mail/transport.js';
import { checkDatabaseExists, fail, print } from './context.js';
import { exitOnSignals } from '../shutdown.js';

export function workerCommand(program: Command) {
  program.command('worker')
    .description('deliver relayed messages (the outbox) without serving HTTP; runs until SIGTERM')
    .option('--db <location>', 'SQLite file or postgres:// URL (env ALIAS_DB)')
    .option('--issuer <url>', 'public issuer URL, used in unsubscribe links (env ALIAS_ISSUER; the same as serve)')
    .action(async (opts: { db?: string; issuer?: string }) => {
      try {
        const config = loadConfig({ db: opts.db, issuer: opts.issuer });
        // A worker delivers what serve accepted: it never starts on a database of its own.
        checkDatabaseExists(config.db);
        const s = await createServices(config, { migrate: true });
        s.relayWorker.start();
        // The worker's own timer does not hold the process open (it is unref'd for serve).
        const keepAlive = setInterval(() => {}, 3_600_000);
        print(`Alias relay worker is running (database ${s.db.location}; mail ${describeMail(config)}).`);
        exitOnSignals(async () => {
          clearInterval(keepAlive);
          await s.relayWorker.stop();
          await s.close();
        }, { drainTimeoutMs: config.drainTimeoutMs, out: print, err: (line) => process.stderr.write(line + '\n') });
      } catch (err) {
        fail(err);
      }
    });
}
