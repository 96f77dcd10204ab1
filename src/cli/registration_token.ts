// `aliasid registration-token create`: an initial access token for dynamic client
// registration (RFC 7591 §3), printed once; Alias keeps only its digest.
import type { Command } from 'commander';
import { DEFAULT_REGISTRATION_TOKEN } from '../clients/registration.js';
import { fail, print, printJson, UsageError, withServices } from './context.js';

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `3600`, `90s`, `10m`, `12h`, `7d` → milliseconds; plain numbers are seconds. */
function expiresIn(text: string): number {
  const m = /^(\d{1,10})([smhd]?)$/.exec(text.trim());
  if (!m) throw new UsageError(`--expires-in must be a duration like 3600, 10m, 12h or 7d, not '${text}'`);
  return Number(m[1]) * UNITS[m[2] || 's']!;
}

export function registrationTokenCommand(program: Command) {
  const cmd = program.command('registration-token').description('initial access tokens for dynamic client registration (RFC 7591)');
  cmd.command('create')
    .description('make an initial access token: an app registers itself at /api/oauth2/register with it as Bearer (shown only once)')
    .option('--expires-in <duration>', 'how long it is valid: seconds, or 10m, 12h, 7d (default 1d; at most 366d)')
    .option('--uses <n>', `how many registrations it may make (default ${DEFAULT_REGISTRATION_TOKEN.uses})`)
    .option('--json', 'print {"token", "expires_at", "uses"} as JSON (expires_at in seconds since the epoch)')
    .option('--db <location>', 'SQLite file or postgres:// URL (env ALIAS_DB)')
    .action(async (opts: { expiresIn?: string; uses?: string; json?: boolean; db?: string }) => {
      try {
        const ms = opts.expiresIn === undefined ? undefined : expiresIn(opts.expiresIn);
        if (opts.uses !== undefined && !/^\d{1,7}$/.test(opts.uses)) throw new UsageError(`--uses must be a whole number, not '${opts.uses}'`);
        const made = await withServices(opts, (s) => s.registration.createToken({
          expiresInMs: ms, uses: opts.uses === undefined ? undefined : Number(opts.uses) }));
        const expiresAt = Math.floor(made.expiresAt / 1000);
        if (opts.json) return printJson({ token: made.token, expires_at: expiresAt, uses: made.uses });
        print(`token       ${made.token}`);
        print(`expires_at  ${new Date(made.expiresAt).toISOString()}`);
        print(`uses        ${made.uses}`);
        print('(store the token now: Alias keeps only its digest)');
      } catch (err) {
        fail(err);
      }
    });
}
