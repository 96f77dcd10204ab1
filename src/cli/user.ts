import type { Command } from 'commander';
import { fail, print, printJson, withServices } from './context.js';

export function userCommand(program: Command) {
  const user = program.command('user').description('manage users');
  user.command('create')
    .description('create a user who can sign in')
    .requiredOption('--email <email>', 'e-mail address (the login name)')
    .requiredOption('--password <password>', 'password (at least 8 characters)')
    .option('--nickname <nickname>', 'nickname apps see when granted the nickname scope')
    .option('--unverified', 'leave the address unconfirmed: the user must open the link of a verification mail first (default: the operator vouches for it)')
    .option('--json', 'print the user as JSON')
    .option('--db <location>', 'SQLite file or postgres:// URL (env ALIAS_DB)')
    .action(async (opts: { email: string; password: string; nickname?: string; unverified?: boolean; json?: boolean; db?: string }) => {
      try {
        const u = await withServices(opts, async (s) => {
          const created = await s.accounts.create({ email: opts.email, password: opts.password, nickname: opts.nickname, emailVerified: !opts.unverified });
          // A user without a client: the keyed user digest, never the id or e-mail address.
          await s.audit.record({ type: 'admin.user.created', userId: created.id, detail: 'via=cli' });
          return created;
        });
        if (opts.json) printJson({ id: u.id, email: u.email, nickname: u.nickname, email_verified: u.emailVerified, created_at: Math.floor(u.createdAt / 1000) });
        else print(`created user ${u.id} <${u.email}>${u.emailVerified ? '' : ' (address not confirmed)'}`);
      } catch (err) {
        fail(err);
      }
    });
}
