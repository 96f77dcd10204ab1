import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { clientInformation, clientInput, GRANT_TYPES, validateClient } from '../clients/registry.js';
import { REGISTRABLE_AUTH_METHODS, usesClientSecret } from '../oauth/auth_methods.js';
import { SIGNING_ALGS } from '../oauth/signing_algs.js';
import type { Channel, Client } from '../store/types.js';
import { collect, fail, print, printJson, UsageError, withServices } from './context.js';
import { detail } from '../audit/audit.js';

/** RFC 9449 §5.2 dpop_bound_access_tokens: every token request of the client needs a DPoP proof. */
const JWKS_OPT = ['--jwks <file>', "the client's public keys for private_key_jwt (RFC 7523): a file holding a JWK Set"] as const;
const JWKS_URI_OPT = ['--jwks-uri <url>', "where Alias fetches the client's JWK Set for private_key_jwt (https)"] as const;

/** Reads a JWK Set file for --jwks; the registry judges its content. */
function readJwks(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`cannot read --jwks file '${file}': ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`--jwks file '${file}' is not JSON (a JWK Set: {"keys": [...]})`);
  }
}

/** RFC 9126 §6 require_pushed_authorization_requests. */
const REQUIRE_PAR_OPT = ['--require-par', 'its authorization requests must be pushed first (RFC 9126 pushed authorization requests, POST /api/oauth2/par)'] as const;
/** How Alias keeps a secret it has just shown (docs/security.md). */
const SECRET_KEPT = (c: Client) => c.tokenEndpointAuthMethod === 'client_secret_jwt'
  ? 'it is not shown again; Alias keeps its digest and, for client_secret_jwt, a sealed copy'
  : 'Alias keeps only its digest';

const DPOP_OPT = ['--dpop-bound-access-tokens', 'its access tokens are always DPoP-bound (RFC 9449): token requests without a DPoP proof fail'] as const;

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
    `id_token_alg   ${c.idTokenSignedResponseAlg}`,
    `require_mfa    ${c.requireMfa ? 'yes (urn:alias:acr:mfa)' : 'no'}`,
    `auth_method    ${c.tokenEndpointAuthMethod}`,
    ...(c.logoUri ? [`logo_uri       ${c.logoUri}`] : []),
    ...(c.clientUri ? [`client_uri     ${c.clientUri}`] : []),
    ...(c.policyUri ? [`policy_uri     ${c.policyUri}`] : []),
    ...(c.tosUri ? [`tos_uri        ${c.tosUri}`] : []),
    `require_par    ${c.requirePushedAuthorizationRequests ? 'yes (authorization requests must be pushed first)' : 'no'}`,
    `dpop_bound     ${c.dpopBoundAccessTokens ? 'yes (every token request needs a DPoP proof)' : 'no'}`,
  ];
}

/**
 * `--json`: the RFC 7591 client information response, plus `channels` (the same list as
 * `alias_channels`) for scripts written before the registration endpoint named it.
 */
function informationJson(c: Client, secret?: string): Record<string, unknown> {
  return { ...clientInformation(c, secret), channels: c.channels };
}

const AUTH_METHOD_HELP = `how a confidential client authenticates at the token endpoint (token_endpoint_auth_method): ` +
  `${REGISTRABLE_AUTH_METHODS.filter((m) => m !== 'none').join(' or ')} (public clients: none)`;
const DISPLAY_URI_OPTIONS = [
  ['--logo-uri <url>', 'https URL of the app\'s logo, shown on the consent page'],
  ['--client-uri <url>', 'https URL of the app\'s home page, linked on the consent page'],
  ['--policy-uri <url>', 'https URL of the app\'s privacy policy, linked on the consent page'],
  ['--tos-uri <url>', 'https URL of the app\'s terms of service, linked on the consent page'],
] as const;
type DisplayUriOpts = { logoUri?: string; clientUri?: string; policyUri?: string; tosUri?: string };

const DURATION_UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** A long overlap defeats the point of rotating (a leaked secret keeps working). */
export const MAX_OVERLAP_MS = 90 * DURATION_UNITS.d!;

/** `90`, `90s`, `10m`, `1h`, `7d` → milliseconds; plain numbers are seconds. */
export function parseDuration(text: string, option = '--overlap', max = { ms: MAX_OVERLAP_MS, text: '90d' }): number {
  const m = /^(\d{1,10})([smhd]?)$/.exec(text.trim());
  if (!m) throw new UsageError(`${option} must be a duration like 90, 90s, 10m, 1h or 7d, not '${text}'`);
  const ms = Number(m[1]) * DURATION_UNITS[m[2] || 's']!;
  if (ms > max.ms) throw new UsageError(`${option} may be at most ${max.text}, not '${text}'`);
  return ms;
}

export function clientCommand(program: Command) {
  const client = program.command('client').description('manage clients (applications)');
  const dbOpt = ['--db <location>', 'SQLite file or postgres:// URL (env ALIAS_DB)'] as const;
  // Issue 15 §3: every sign-in to the client must reach urn:alias:acr:mfa.
  const requireMfaOpt = ['--require-mfa', 'every sign-in to this client needs two steps (ID tokens carry acr urn:alias:acr:mfa)'] as const;
  const idTokenAlgOpt = ['--id-token-alg <alg>', `algorithm that signs this client's ID tokens and logout tokens ` +
    `(id_token_signed_response_alg): ${SIGNING_ALGS.join(' or ')}`] as const;

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
    .option(idTokenAlgOpt[0], `${idTokenAlgOpt[1]} (default RS256)`)
    .option('--token-endpoint-auth-method <method>', `${AUTH_METHOD_HELP}; default client_secret_basic`)
    .option(...DISPLAY_URI_OPTIONS[0]).option(...DISPLAY_URI_OPTIONS[1]).option(...DISPLAY_URI_OPTIONS[2]).option(...DISPLAY_URI_OPTIONS[3])
    .option(...JWKS_OPT)
    .option(...JWKS_URI_OPT)
    .option(...DPOP_OPT)
    .option(...REQUIRE_PAR_OPT)
    .option(...requireMfaOpt)
    .option('--json', 'print the RFC 7591 client information response as JSON')
    .option(...dbOpt)
    .action(async (opts: { name: string; requirePar?: boolean; redirectUri: string[]; public?: boolean; grantType: string[]; channel: string[];
      scope: string[]; postLogoutRedirectUri: string[]; backchannelLogoutUri?: string; idTokenAlg?: string; tokenEndpointAuthMethod?: string; dpopBoundAccessTokens?: boolean;
      jwks?: string; jwksUri?: string; requireMfa?: boolean; json?: boolean; db?: string } & DisplayUriOpts) => {
      try {
        const jwks = opts.jwks !== undefined ? readJwks(opts.jwks) : undefined;
        const { client: c, secret } = await withServices(opts, async (s) => {
          const created = await s.clients.create({
            name: opts.name, redirectUris: opts.redirectUri, isPublic: !!opts.public, grantTypes: opts.grantType,
            channels: opts.channel, scopes: opts.scope, postLogoutRedirectUris: opts.postLogoutRedirectUri,
            backchannelLogoutUri: opts.backchannelLogoutUri, idTokenSignedResponseAlg: opts.idTokenAlg,
            tokenEndpointAuthMethod: opts.tokenEndpointAuthMethod,
            logoUri: opts.logoUri, clientUri: opts.clientUri, policyUri: opts.policyUri, tosUri: opts.tosUri,
            dpopBoundAccessTokens: opts.dpopBoundAccessTokens, jwks, jwksUri: opts.jwksUri, requireMfa: opts.requireMfa,
            requirePushedAuthorizationRequests: opts.requirePar,
          });
          // Right after: the registry stores the client in a transaction of its own.
          await s.audit.record({ type: 'admin.client.created', clientId: created.client.id, detail: 'via=cli' });
          return created;
        });
        if (opts.json) return printJson(informationJson(c, secret));
        for (const line of describe(c)) print(line);
        if (secret) print(`client_secret  ${secret}\n(store the secret now: ${SECRET_KEPT(c)})`);
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
        if (opts.json) return printJson(all.map((c) => informationJson(c)));
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
        if (opts.json) return printJson(informationJson(c));
        for (const line of describe(c)) print(line);
      } catch (err) {
        fail(err);
      }
    });

  client.command('update')
    .description('change a client: its name, redirect URIs, channels, ID token signing algorithm, authentication method, consent-page links')
    .argument('<id>', 'client_id')
    .option('--name <name>', 'new name shown to users')
    .option('--redirect-uri <uri>', 'add a redirect URI (repeatable)', collect, [])
    .option('--remove-redirect-uri <uri>', 'remove a redirect URI (repeatable); authorization requests with it fail from now on', collect, [])
    .option('--channel <name[:description]>', 'add a channel, or change the description of an existing one (repeatable)', collect, [])
    .option('--remove-channel <name>', 'remove a channel: apps can no longer send on it (repeatable)', collect, [])
    .option(...idTokenAlgOpt)
    .option('--token-endpoint-auth-method <method>', AUTH_METHOD_HELP)
    .option(DISPLAY_URI_OPTIONS[0][0], `${DISPLAY_URI_OPTIONS[0][1]} ('' removes it)`)
    .option(DISPLAY_URI_OPTIONS[1][0], `${DISPLAY_URI_OPTIONS[1][1]} ('' removes it)`)
    .option(DISPLAY_URI_OPTIONS[2][0], `${DISPLAY_URI_OPTIONS[2][1]} ('' removes it)`)
    .option(DISPLAY_URI_OPTIONS[3][0], `${DISPLAY_URI_OPTIONS[3][1]} ('' removes it)`)
    .option(...JWKS_OPT)
    .option(JWKS_URI_OPT[0], `${JWKS_URI_OPT[1]}; --jwks and --jwks-uri replace each other`)
    .option(...DPOP_OPT)
    .option('--no-dpop-bound-access-tokens', 'access tokens may be Bearer tokens again (DPoP stays optional)')
    .option(...REQUIRE_PAR_OPT)
    .option('--no-require-par', 'authorization requests may come straight to the authorization endpoint again (pushing stays possible)')
    .option(...requireMfaOpt)
    .option('--no-require-mfa', 'stop requiring two-step sign-in')
    .option('--json', 'print the RFC 7591 client information response as JSON')
    .option(...dbOpt)
    .action(async (id: string, opts: { name?: string; redirectUri: string[]; removeRedirectUri: string[]; channel: string[];
      removeChannel: string[]; idTokenAlg?: string; tokenEndpointAuthMethod?: string; dpopBoundAccessTokens?: boolean; jwks?: string; jwksUri?: string;
      requireMfa?: boolean; requirePar?: boolean; json?: boolean; db?: string } & DisplayUriOpts) => {
      try {
        if (opts.jwks !== undefined && opts.jwksUri !== undefined) throw new UsageError('give --jwks or --jwks-uri, not both (RFC 7591 §2)');
        const keys = opts.jwks !== undefined ? { jwks: readJwks(opts.jwks) as Client['jwks'], jwksUri: null }
          : opts.jwksUri !== undefined ? { jwks: null, jwksUri: opts.jwksUri } : {};
        const displayChanges = (['logoUri', 'clientUri', 'policyUri', 'tosUri'] as const).filter((f) => opts[f] !== undefined);
        if (opts.name === undefined && !opts.channel.length && !opts.removeChannel.length && opts.idTokenAlg === undefined &&
          !opts.redirectUri.length && !opts.removeRedirectUri.length && opts.tokenEndpointAuthMethod === undefined && !displayChanges.length &&
          opts.dpopBoundAccessTokens === undefined && opts.jwks === undefined && opts.jwksUri === undefined && opts.requireMfa === undefined &&
          opts.requirePar === undefined) {
          throw new UsageError('nothing to change: give --name, --redirect-uri, --remove-redirect-uri, --channel, --remove-channel, ' +
            '--id-token-alg, --token-endpoint-auth-method, --jwks, --jwks-uri, --[no-]dpop-bound-access-tokens, --[no-]require-mfa, --[no-]require-par, --logo-uri, --client-uri, --policy-uri or --tos-uri');
        }
        const updated = await withServices(opts, (s) => s.store.transaction(async (tx) => {
          // Locked: a concurrent change to this client waits instead of being overwritten.
          const c = await tx.clients.getForUpdate(id);
          if (!c) throw new UsageError(`no client with id '${id}'`);
          for (const name of opts.removeChannel) {
            if (!c.channels.some((ch) => ch.name === name)) throw new UsageError(`client '${id}' has no channel '${name}'`);
          }
          for (const uri of opts.removeRedirectUri) {
            if (!c.redirectUris.includes(uri)) throw new UsageError(`client '${id}' has no redirect URI '${uri}'`);
          }
          const method = opts.tokenEndpointAuthMethod;
          if (method !== undefined && method !== c.tokenEndpointAuthMethod) {
            // Public or confidential is fixed at registration: a secret is minted (or not) then.
            if (c.isPublic || method === 'none') {
              throw new UsageError(`client '${id}' is ${c.isPublic ? 'public' : 'confidential'}: its authentication method cannot become '${method}'`);
            }
            // client_secret_jwt gets a new secret below when it has none Alias can read.
            if (usesClientSecret(method as never) && method !== 'client_secret_jwt' && c.secretDigest === null) {
              throw new UsageError(`client '${id}' has no secret; run \`aliasid client rotate-secret ${id}\` first`);
            }
          }
          // A channel given again keeps its place and gets the new description, if one is given.
          const added = opts.channel.map((raw) => {
            const i = raw.indexOf(':');
            return { raw, name: i === -1 ? raw : raw.slice(0, i) };
          });
          const kept: (string | Channel)[] = c.channels
            .filter((ch) => !opts.removeChannel.includes(ch.name))
            .map((ch) => {
              const a = added.find((x) => x.name === ch.name);
              return a && a.raw.includes(':') ? a.raw : ch;
            });
          const channels = [...kept, ...added.filter((a) => !c.channels.some((ch) => ch.name === a.name)).map((a) => a.raw)];
          const redirectUris = [...c.redirectUris.filter((u) => !opts.removeRedirectUri.includes(u)),
            ...opts.redirectUri.filter((u) => !c.redirectUris.includes(u))];
          const display = Object.fromEntries(displayChanges.map((f) => [f, opts[f] === '' ? null : opts[f]]));
          // The same rules as at registration, on the whole changed client.
          const fields = validateClient({
            ...clientInput(c), name: opts.name ?? c.name, redirectUris, channels,
            idTokenSignedResponseAlg: opts.idTokenAlg ?? c.idTokenSignedResponseAlg,
            tokenEndpointAuthMethod: method ?? c.tokenEndpointAuthMethod, ...display,
            dpopBoundAccessTokens: opts.dpopBoundAccessTokens ?? c.dpopBoundAccessTokens, ...keys,
            requirePushedAuthorizationRequests: opts.requirePar ?? c.requirePushedAuthorizationRequests,
          });
          // Sealed copies only for client_secret_jwt (RFC 7523 §2.2): kept, dropped, or a new secret.
          const secrets = s.clients.secretForMethod(c, fields.tokenEndpointAuthMethod);
          const next: Client = { ...c, ...fields, ...secrets.fields, requireMfa: opts.requireMfa ?? c.requireMfa, updatedAt: s.now() };
          await tx.clients.update(next);
          await s.audit.record({ type: 'admin.client.updated', clientId: id, detail: detail({ name: opts.name !== undefined ? 'changed' : undefined,
            redirect_uris_added: opts.redirectUri.filter((u) => !c.redirectUris.includes(u)).length ? String(opts.redirectUri.filter((u) => !c.redirectUris.includes(u)).length) : undefined,
            redirect_uris_removed: opts.removeRedirectUri.length ? String(opts.removeRedirectUri.length) : undefined,
            channels_added: added.filter((a) => !c.channels.some((ch) => ch.name === a.name)).map((a) => a.name),
            channels_removed: opts.removeChannel,
            id_token_alg: fields.idTokenSignedResponseAlg !== c.idTokenSignedResponseAlg ? fields.idTokenSignedResponseAlg : undefined,
            require_mfa: next.requireMfa !== c.requireMfa ? String(next.requireMfa) : undefined,
            auth_method: fields.tokenEndpointAuthMethod !== c.tokenEndpointAuthMethod ? fields.tokenEndpointAuthMethod : undefined,
            display: displayChanges.length ? displayChanges.map((f) => f.replace('Uri', '_uri')).join(',') : undefined,
            dpop_bound_access_tokens: next.dpopBoundAccessTokens !== c.dpopBoundAccessTokens ? String(next.dpopBoundAccessTokens) : undefined,
            require_par: next.requirePushedAuthorizationRequests !== c.requirePushedAuthorizationRequests
              ? String(next.requirePushedAuthorizationRequests) : undefined,
            secret: secrets.secret ? 'new' : undefined,
            via: 'cli' }) }, tx);
          return { client: next, secret: secrets.secret };
        }));
        if (opts.json) return printJson(informationJson(updated.client, updated.secret));
        for (const line of describe(updated.client)) print(line);
        if (updated.secret) {
          print(`client_secret  ${updated.secret}\n(a new secret: client_secret_jwt needs one Alias can read, so the old one no longer works; store it now)`);
        }
      } catch (err) {
        fail(err);
      }
    });

  client.command('rotate-secret')
    .description('give a confidential client a new secret (shown only once); the old one stops working, or after --overlap')
    .argument('<id>', 'client_id')
    .option('--overlap <duration>', 'keep the previous secret working this long: seconds, or 10m, 1h, 7d (default 0: it stops at once; at most 90d)')
    .option('--json', 'print the RFC 7591 client information response (with the new client_secret) as JSON')
    .option(...dbOpt)
    .action(async (id: string, opts: { overlap?: string; json?: boolean; db?: string }) => {
      try {
        const overlapMs = opts.overlap === undefined ? 0 : parseDuration(opts.overlap);
        const { client: c, secret } = await withServices(opts, (s) => s.clients.rotateSecret(id, overlapMs));
        const previousUntil = c.previousSecretExpiresAt;
        if (opts.json) {
          return printJson({
            ...informationJson(c, secret),
            // Not an RFC 7591 member: when the replaced secret stops working (seconds since the epoch).
            ...(previousUntil !== null ? { previous_client_secret_expires_at: Math.floor(previousUntil / 1000) } : {}),
          });
        }
        print(`client_id      ${c.id}`);
        print(`client_secret  ${secret}`);
        print(previousUntil !== null
          ? `previous       the replaced secret works until ${new Date(previousUntil).toISOString()}`
          : 'previous       the replaced secret no longer works');
        print(`(store the secret now: ${SECRET_KEPT(c)})`);
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
        const deleted = await withServices(opts, (s) => s.store.transaction(async (tx) => {
          const gone = await tx.clients.delete(id);
          if (gone) await s.audit.record({ type: 'admin.client.deleted', clientId: id, detail: 'via=cli' }, tx);
          return gone;
        }));
        if (!deleted) throw new UsageError(`no client with id '${id}'`);
        print(`deleted client ${id}`);
      } catch (err) {
        fail(err);
      }
    });
}
