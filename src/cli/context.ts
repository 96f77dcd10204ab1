// Shared plumbing for admin commands: open the services for --db, print, fail clearly.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { loadConfig, ConfigError } from '../config/config.js';
import { isPostgresUrl } from '../store/db.js';
import { createServices, type Services } from '../services.js';
import { ClientInputError } from '../clients/registry.js';
import { UserInputError } from '../accounts/users.js';
import { UniqueViolation } from '../store/store.js';
import { DatabaseUnreachable, isDatabaseUnavailable } from '../store/unavailable.js';

export interface DbOption {
  db?: string;
}

export class UsageError extends Error {}

/** The commands that may make a new database: everything else reads or changes an existing one. */
const CREATING = new Set(['serve', 'migrate', 'create']);
let creatingCommand = false;

/** Called before every command runs (program.ts): may it make a new database? */
export function allowDatabaseCreation(command: Command): void {
  creatingCommand = CREATING.has(command.name());
}

/**
 * A command that only reads or changes existing data, given a SQLite file that is not
 * there (a mistyped --db or ALIAS_DB), stops before opening it: it would have made an
 * empty database (its directory, the file, a generated secret) and answered from it, as
 * if there were simply no clients (issue 18 item 5). A PostgreSQL database must exist
 * anyway: connecting to a missing one fails, naming it.
 */
export function checkDatabaseExists(location: string): void {
  if (creatingCommand || isPostgresUrl(location)) return;
  const file = resolve(location);
  if (!existsSync(file)) {
    throw new UsageError(`no database at ${file} (check --db or ALIAS_DB); ` +
      '`aliasid migrate`, `aliasid serve` and the create commands make a new one');
  }
}

export async function withServices<T>(opts: DbOption, fn: (s: Services) => Promise<T>): Promise<T> {
  const config = loadConfig({ db: opts.db });
  checkDatabaseExists(config.db);
  const s = await createServices(config, { migrate: true });
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

/** Known failures print one line to stderr and exit 1; anything else is a bug. */
export function fail(err: unknown): never {
  if (err instanceof ConfigError || err instanceof ClientInputError || err instanceof UserInputError ||
    err instanceof UniqueViolation || err instanceof UsageError || err instanceof DatabaseUnreachable) {
    process.stderr.write(`aliasid: ${err.message}\n`);
    process.exit(1);
  }
  const e = err as { code?: string; message?: string };
  if (isDatabaseUnavailable(err) || e?.code === '3D000' || e?.code === '28P01') {
    process.stderr.write(`aliasid: cannot reach the database: ${e.message ?? e.code}\n`);
    process.exit(1);
  }
  process.stderr.write(`aliasid: ${e?.message ?? String(err)}\n`);
  process.exit(1);
}

export const print = (line: string): void => void process.stdout.write(line + '\n');
export const printJson = (value: unknown): void => void process.stdout.write(JSON.stringify(value, null, 2) + '\n');

/** commander collector for repeatable options (their `[]` default is not shown in help: command.ts). */
export const collect = (value: string, previous: string[] = []) => [...previous, value];
