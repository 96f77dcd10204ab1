import type { Command } from 'commander';
import { clientInformation, GRANT_TYPES } from '../clients/registry.js';
import type { Client } from '../store/store.js';
import { collect, fail, print, printJson, UsageError, withServices } from './context.js';

function describe(c: Client): string[] {
  return [
    `client_id      ${c.id}`,
    `name           ${c.name}`,
    `type           ${c.isPublic ? 'public (PKCE, no secret)' : 'confidential'}`,
    `redirect_uris  ${c.redirectUris.join(' ') || '-'}`,
    `grant_types    ${c.grantTypes.join(' ')}`,
    `scopes         ${c.scopes.join(' ') || '-'}`,
    `channels       ${c.channels.map((ch) => `${ch.name} (${ch.description})`).join(', ') || '-'}`,
    `post_logout    ${c.postLogoutRedirectUris.join(' ') || '-'}`,
    `backchannel    ${c.backchannelLogoutUri ?? '-'}`,
  ];
}

export function clientCommand(program: Command) {
  const client = program.command('client').description('manage clients (applications)');
  const dbOpt = ['--db <location>', 'SQLite file or postgres:// URL (env ALIAS_DB)'] as const;

  client.command('create')
    .description('register a client; prints its client_id (and client_secret, shown only once)')
    .requiredOption('--name <name>', 'name shown to users on the consent page')
    .option('--redirect-uri <uri>', 'redirect URI (repeatable); https, or http on loopback', collect, [])
    .option('--public', 'public client (single-page or native app): no secret, PKCE required')
    .option('--grant-type <type>', `grant type (repeatable; default authorization_code): ${GRANT_TYPES.join(', ')}`, collect, [])
    .option('--channel <name[:description]>', 'message channel users can grant (repeatable)', collect, [])
    .option('--scope <scope>', 'client-level scope for client_credentials (repeatable)', collect, [])
    .option('--post-logout-redirect-uri <uri>', 'where logout may return (repeatable)', collect, [])
    .option('--backchannel-logout-uri <uri>', 'where Alias POSTs a logout_token when a user signs out (OIDC Back-Channel Logout)')
    .option('--json', 'print the RFC 7591 client information response as JSON')
    .option(...dbOpt)
    .action(async (opts: { name: string; redirectUri: string[]; public?: boolean; grantType: string[]; channel: string[];
      scope: string[]; postLogoutRedirectUri: string[]; backchannelLogoutUri?: string; json?: boolean; db?: string }) => {
      try {
        const { client: c, secret } = await withServices(opts, (s) => s.clients.create({
          name: opts.name, redirectUris: opts.redirectUri, isPublic: !!opts.public, grantTypes: opts.grantType,
          channels: opts.channel, scopes: opts.scope, postLogoutRedirectUris: opts.postLogoutRedirectUri,
          backchannelLogoutUri: opts.backchannelLogoutUri,
        }));
        if (opts.json) return printJson(clientInformation(c, secret));
        for (const line of describe(c)) print(line);
        if (secret) print(`client_secret  ${secret}\n(store the secret now: Alias keeps only its digest)`);
      } catch (err) {
        fail(err);
      }
    });

  client.command('list')
    .description('list clients')
    .option('--json', 'print a JSON array')
    .option(...dbOpt)
    .action(async (opts: { json?: boolean; db?: string }) => {
      try {
        const all = await withServices(opts, (s) => s.clients.list());
        if (opts.json) return printJson(all.map((c) => clientInformation(c)));
        if (!all.length) return print('no clients');
        for (const c of all) print(`${c.id}  ${c.isPublic ? 'public      ' : 'confidential'}  ${c.name}`);
      } catch (err) {
        fail(err);
      }
    });

  client.command('show')
    .description('show one client')
    .argument('<id>', 'client_id')
    .option('--json', 'print JSON')
    .option(...dbOpt)
    .action(async (id: string, opts: { json?: boolean; db?: string }) => {
      try {
        const c = await withServices(opts, (s) => s.clients.get(id));
        if (!c) throw new UsageError(`no client with id '${id}'`);
        if (opts.json) return printJson(clientInformation(c));
        for (const line of describe(c)) print(line);
      } catch (err) {
        fail(err);
      }
    });

  client.command('delete')
    .description('delete a client and everything issued to it (grants, codes, tokens)')
    .argument('<id>', 'client_id')
    .option(...dbOpt)
    .action(async (id: string, opts: { db?: string }) => {
      try {
        const deleted = await withServices(opts, (s) => s.clients.delete(id));
        if (!deleted) throw new UsageError(`no client with id '${id}'`);
        print(`deleted client ${id}`);
      } catch (err) {
        fail(err);
      }
    });
}
