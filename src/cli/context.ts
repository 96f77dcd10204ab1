// Shared plumbing for admin commands: open the services for --db, print, fail clearly.
import { loadConfig, ConfigError } from '../config/config.js';
import { createServices, type Services } from '../services.js';
import { ClientInputError } from '../clients/registry.js';
import { UserInputError } from '../accounts/users.js';
import { UniqueViolation } from '../store/store.js';
import { DatabaseUnreachable, isDatabaseUnavailable } from '../store/unavailable.js';

export interface DbOption {
  db?: string;
}

export class UsageError extends Error {}

export async function withServices<T>(opts: DbOption, fn: (s: Services) => Promise<T>): Promise<T> {
  const config = loadConfig({ db: opts.db });
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

/** commander collector for repeatable options. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];
