import type { Command } from 'commander';
import { loadConfig } from '../config/config.js';
import { migrate, openDatabase } from '../store/db.js';
import { namedIfUnreachable } from '../store/unavailable.js';
import { fail, print } from './context.js';

export function migrateCommand(program: Command) {
  program.command('migrate')
    .description('apply database migrations (serve does this too)')
    .option('--db <location>', 'SQLite file or postgres:// URL (env ALIAS_DB)')
    .action(async (opts: { db?: string }) => {
      try {
        const config = loadConfig({ db: opts.db });
        const db = openDatabase(config.db);
        try {
          // Name the database, as every other command does when it cannot reach it.
          const applied = await migrate(db).catch((err: unknown) => {
            throw namedIfUnreachable(db.location, err);
          });
          print(applied.length ? `applied ${applied.join(', ')} to ${db.location}` : `${db.location} is up to date`);
        } finally {
          await db.close();
        }
      } catch (err) {
        fail(err);
      }
    });
}
