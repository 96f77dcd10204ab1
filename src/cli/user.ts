import type { Command } from 'commander';
import { fail, print, printJson, withServices, UsageError } from './context.js';
import type { Services } from '../services.js';
import type { User } from '../store/types.js';
import { exportAccount } from '../accounts/export.js';
import { deleteAccount } from '../accounts/deletion.js';
import { passwordFor } from './password.js';

/** EMAIL_OR_ID: an e-mail address first, then an id; unknown is a usage error (exit 1). */
async function findUser(s: Services, who: string): Promise<User> {
  const user = (who.length <= 320 && !who.includes('\u0000') ? await s.store.users.getByEmail(who.trim()) : undefined)
    ?? (/^[0-9a-f]{32}$/.test(who) ? await s.store.users.get(who) : undefined);
  if (!user) throw new UsageError(`no user with e-mail address or id '${who}'`);
  return user;
}

// has_password: false for an account that signs in with passkeys only (sign-up with a passkey).
const userJson = (u: User) => ({ id: u.id, email: u.email, email_verified: u.emailVerified, nickname: u.nickname,
  has_password: u.passwordHash !== null, created_at: Math.floor(u.createdAt / 1000) });

export function userCommand(program: Command) {
  const user = program.command('user').description('manage users');
  user.command('create')
    .description('create a user who can sign in. The password comes from --password-stdin, or is asked for on the terminal ' +
      '(not shown as you type) when neither password option is given')
    .requiredOption('--email <email>', 'e-mail address (the login name)')
    .option('--password-stdin', 'read the password from the first line of standard input (a pipe, or a file: --password-stdin < FILE)')
    .option('--password <password>', 'the password, at least 8 characters (kept for compatibility: it stays in the shell history ' +
      'and shows in the process list; prefer --password-stdin or the prompt)')
    .option('--nickname <nickname>', 'nickname apps see when granted the nickname scope')
    .option('--unverified', 'leave the address unconfirmed: the user must open the link of a verification mail first (default: the operator vouches for it)')
    .option('--json', 'print the user as JSON')
    .option('--db <location>', 'SQLite file or postgres:// URL (env ALIAS_DB)')
    .action(async (opts: { email: string; password?: string; passwordStdin?: boolean; nickname?: string; unverified?: boolean;
      json?: boolean; db?: string }) => {
      try {
        const password = await passwordFor(opts, opts.email);
        const u = await withServices(opts, async (s) => {
          const created = await s.accounts.create({ email: opts.email, password, nickname: opts.nickname, emailVerified: !opts.unverified });
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

  user.command('list')
    .description('list users, oldest first (--json: one JSON array)')
    .option('--json', 'print a JSON array of users')
    .option('--db <location>', 'SQLite file or postgres:// URL (env ALIAS_DB)')
    .action(async (opts: { json?: boolean; db?: string }) => {
      try {
        const users = await withServices(opts, (s) => s.store.users.list());
        if (opts.json) printJson(users.map(userJson));
        else for (const u of users) print(`${u.id}  ${u.email}${u.emailVerified ? '' : '  (unverified)'}${u.nickname ? `  "${u.nickname}"` : ''}`);
      } catch (err) {
        fail(err);
      }
    });

  user.command('show')
    .description('show one user and the apps they use (by e-mail address or id)')
    .argument('<email-or-id>', 'the e-mail address or the user id')
    .option('--json', 'print the user as JSON')
    .option('--db <location>', 'SQLite file or postgres:// URL (env ALIAS_DB)')
    .action(async (who: string, opts: { json?: boolean; db?: string }) => {
      try {
        const { u, apps } = await withServices(opts, async (s) => {
          const u = await findUser(s, who);
          const apps = [];
          for (const g of await s.store.grants.listByUser(u.id)) {
            apps.push({ client_id: g.clientId, name: (await s.store.clients.get(g.clientId))?.name ?? null, alias_id: g.sub,
              scopes: g.scopes, channels: g.channels, granted_at: Math.floor(g.createdAt / 1000) });
          }
          return { u, apps };
        });
        if (opts.json) return printJson({ ...userJson(u), apps });
        print(`id:             ${u.id}`);
        print(`email:          ${u.email}${u.emailVerified ? '' : ' (unverified)'}`);
        print(`nickname:       ${u.nickname ?? '-'}`);
        print(`password:       ${u.passwordHash === null ? 'none (signs in with passkeys only)' : 'set'}`);
        print(`created:        ${new Date(u.createdAt).toISOString()}`);
        print(`apps:           ${apps.length ? '' : '-'}`);
        for (const a of apps) print(`  ${a.name ?? a.client_id}  alias ID ${a.alias_id}  scopes ${a.scopes.join(' ')}`);
      } catch (err) {
        fail(err);
      }
    });

  user.command('delete')
    .description('delete a user and everything tied to them (apps with a back-channel logout URI are told)')
    .argument('<email-or-id>', 'the e-mail address or the user id')
    .option('--db <location>', 'SQLite file or postgres:// URL (env ALIAS_DB)')
    .action(async (who: string, opts: { db?: string }) => {
      try {
        const u = await withServices(opts, async (s) => {
          const u = await findUser(s, who);
          if (!(await deleteAccount({ store: s.store, audit: s.audit, backchannel: s.backchannel, accountMail: s.accountMail,
            issuer: s.config.issuer }, u.id, { via: 'cli' }))) throw new UsageError(`no user with e-mail address or id '${who}'`);
          return u;
        });
        // The logout tokens and the notice mail are queued; the server's workers send them.
        print(`deleted user ${u.id} <${u.email}>`);
      } catch (err) {
        fail(err);
      }
    });

  user.command('export')
    .description("print everything Alias stores about a user as JSON (the account page's download)")
    .argument('<email-or-id>', 'the e-mail address or the user id')
    .option('--db <location>', 'SQLite file or postgres:// URL (env ALIAS_DB)')
    .action(async (who: string, opts: { db?: string }) => {
      try {
        const doc = await withServices(opts, async (s) => {
          const u = await findUser(s, who);
          const doc = await exportAccount({ store: s.store, audit: s.audit, issuer: s.config.issuer, now: s.now }, u.id);
          await s.audit.record({ type: 'account.exported', userId: u.id, detail: 'via=cli' });
          return doc;
        });
        printJson(doc);
      } catch (err) {
        fail(err);
      }
    });
}
