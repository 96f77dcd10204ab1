// `aliasid resource create|list|show|delete`: the APIs (resource servers, RFC 8707) whose
// tokens Alias issues. A client asks for one with `resource=URI`; the access token's
// audience is that URI, its scope that API's scopes (docs/resources.md).
import type { Command } from 'commander';
import { resourceScopeProblem, resourceUriProblem } from '../oauth/resource.js';
import type { Resource } from '../store/types.js';
import { JWT_ACCESS_TOKEN_TTL_S, MAX_RESOURCE_TTL_S } from '../tokens/jwt_access_token.js';
import { ACCESS_TOKEN_TTL_S } from '../tokens/issuer.js';
import { collect, fail, print, printJson, UsageError, withServices } from './context.js';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** `300`, `90s`, `5m`, `1h` → seconds (plain numbers are seconds); 10 s to 1 h. */
export function parseTtl(text: string): number {
  const m = /^(\d{1,7})([smh]?)$/.exec(text.trim());
  if (!m) throw new UsageError(`--ttl must be a duration like 300, 90s, 5m or 1h, not '${text}'`);
  const s = Number(m[1]) * UNITS[m[2] || 's']!;
  // Signing keys stay in JWKS an ID token's lifetime after they retire (tokens/keys.ts).
  if (s < 10 || s > MAX_RESOURCE_TTL_S) throw new UsageError(`--ttl must be between 10s and 1h, not '${text}'`);
  return s;
}

/** What `resource create` stores, or a usage error naming the first problem. */
export function resourceFromOptions(opts: { uri: string; scope: string[]; name?: string; tokenFormat?: string; ttl?: string },
  now: number): Resource {
  const problem = resourceUriProblem(opts.uri);
  if (problem) throw new UsageError(`--uri ${problem}: '${opts.uri}'`);
  if (!opts.scope.length) throw new UsageError('--scope is required: the scopes the API understands (repeatable)');
  for (const scope of opts.scope) {
    const bad = resourceScopeProblem(scope);
    if (bad) throw new UsageError(`--scope '${scope}' ${bad}`);
  }
  const format = opts.tokenFormat ?? 'opaque';
  if (format !== 'opaque' && format !== 'jwt') throw new UsageError(`--token-format must be opaque or jwt, not '${format}'`);
  const name = (opts.name ?? new URL(opts.uri).host).trim();
  if (!name || name.length > 100 || /[\u0000-\u001f\u007f]/.test(name)) throw new UsageError('--name must be 1 to 100 printable characters');
  return {
    uri: opts.uri, name, scopes: [...new Set(opts.scope)], tokenFormat: format,
    // RFC 9068 tokens cannot be revoked for validators that only check the signature: short by default.
    ttlS: opts.ttl !== undefined ? parseTtl(opts.ttl) : format === 'jwt' ? JWT_ACCESS_TOKEN_TTL_S : ACCESS_TOKEN_TTL_S,
    createdAt: now,
  };
}

const asJson = (r: Resource) => ({
  uri: r.uri, name: r.name, scopes: r.scopes, token_format: r.tokenFormat, ttl: r.ttlS, created_at: Math.floor(r.createdAt / 1000),
});

const describe = (r: Resource): string[] => [
  `uri           ${r.uri}`,
  `name          ${r.name}`,
  `scopes        ${r.scopes.join(' ')}`,
  `token_format  ${r.tokenFormat}${r.tokenFormat === 'jwt' ? ' (RFC 9068 JWT, aud = uri)' : ''}`,
  `ttl           ${r.ttlS}s`,
];

export function resourceCommand(program: Command) {
  const cmd = program.command('resource').description('manage resource servers (APIs) clients ask tokens for with resource=URI (RFC 8707)');
  const dbOpt = ['--db <location>', 'SQLite file or postgres:// URL (env ALIAS_DB)'] as const;

  cmd.command('create')
    .description('register an API: its URI is the audience of the access tokens issued for it')
    .requiredOption('--uri <uri>', 'the resource indicator: an absolute https URI without fragment (http only on loopback)')
    .option('--scope <scope>', 'a scope the API understands (repeatable; at least one), offered on the consent page', collect, [])
    .option('--name <name>', 'name shown to people on the consent page (default: the URI\'s host)')
    .option('--token-format <format>', 'opaque (default) or jwt (RFC 9068 JWT access tokens, signed with the ID token keys)')
    .option('--ttl <duration>', 'access token lifetime: seconds, or 90s, 5m, 1h (default 5m for jwt, 30m for opaque; at most 1h)')
    .option('--json', 'print the resource as JSON')
    .option(...dbOpt)
    .action(async (opts: { uri: string; scope: string[]; name?: string; tokenFormat?: string; ttl?: string; json?: boolean; db?: string }) => {
      try {
        const made = await withServices(opts, async (s) => {
          const r = resourceFromOptions(opts, s.now());
          await s.store.transaction(async (tx) => {
            await tx.resources.insert(r);
            await s.audit.record({ type: 'admin.resource.created', detail: `format=${r.tokenFormat} via=cli` }, tx);
          });
          return r;
        });
        if (opts.json) return printJson(asJson(made));
        for (const line of describe(made)) print(line);
      } catch (err) {
        fail(err);
      }
    });

  cmd.command('list')
    .description('list resource servers')
    .option('--json', 'print a JSON array')
    .option(...dbOpt)
    .action(async (opts: { json?: boolean; db?: string }) => {
      try {
        const all = await withServices(opts, (s) => s.store.resources.list());
        if (opts.json) return printJson(all.map(asJson));
        if (!all.length) return print('no resources');
        for (const r of all) print(`${r.uri}  ${r.tokenFormat.padEnd(6)}  ${r.name}  (${r.scopes.join(' ')})`);
      } catch (err) {
        fail(err);
      }
    });

  cmd.command('show')
    .description('show one resource server')
    .argument('<uri>', 'its URI')
    .option('--json', 'print JSON')
    .option(...dbOpt)
    .action(async (uri: string, opts: { json?: boolean; db?: string }) => {
      try {
        const r = await withServices(opts, (s) => s.store.resources.get(uri));
        if (!r) throw new UsageError(`no resource '${uri}'`);
        if (opts.json) return printJson(asJson(r));
        for (const line of describe(r)) print(line);
      } catch (err) {
        fail(err);
      }
    });

  cmd.command('delete')
    .description('delete a resource server: no new token names it; tokens already issued run out')
    .argument('<uri>', 'its URI')
    .option(...dbOpt)
    .action(async (uri: string, opts: { db?: string }) => {
      try {
        const deleted = await withServices(opts, (s) => s.store.transaction(async (tx) => {
          const gone = await tx.resources.delete(uri);
          if (gone) await s.audit.record({ type: 'admin.resource.deleted', detail: 'via=cli' }, tx);
          return gone;
        }));
        if (!deleted) throw new UsageError(`no resource '${uri}'`);
        print(`deleted resource ${uri}`);
      } catch (err) {
        fail(err);
      }
    });
}
