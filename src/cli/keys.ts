import type { Command } from 'commander';
import { DEFAULT_PUBLISH_WINDOW_MS, KEY_CACHE_MS, MIN_PUBLISH_WINDOW_MS } from '../tokens/keys.js';
import { parseDuration } from './client.js';
import { fail, print, UsageError, withServices } from './context.js';

/** Longer than a day only delays a rotation someone asked for. */
const MAX_PUBLISH_WINDOW = { ms: 24 * 3_600_000, text: '1d' };

export function keysCommand(program: Command) {
  const keys = program.command('keys').description('manage signing keys');
  keys.command('rotate')
    .description('create a new signing key for each algorithm (RS256, ES256), published in JWKS on every node within ' +
      `${KEY_CACHE_MS / 1000} s and signing after the publish window; the old keys sign until then and stay in JWKS until their tokens expire`)
    .option('--publish-window <duration>', `how long the new keys are published before they sign (default ${DEFAULT_PUBLISH_WINDOW_MS / 1000}s: ` +
      'longer than the JWKS refetch cool-downs of common verifiers, 30 s in jose and 60 s in oauth4webapi; at least ' +
      `${MIN_PUBLISH_WINDOW_MS / 1000}s)`)
    .option('--now', 'a compromised key: the new keys sign at once and every previous key leaves JWKS (tokens it signed stop verifying)')
    .option('--db <location>', 'SQLite file or postgres:// URL (env ALIAS_DB)')
    .action(async (opts: { db?: string; publishWindow?: string; now?: boolean }) => {
      try {
        if (opts.now && opts.publishWindow !== undefined) throw new UsageError('give --now or --publish-window, not both');
        const windowMs = opts.publishWindow === undefined ? DEFAULT_PUBLISH_WINDOW_MS
          : parseDuration(opts.publishWindow, '--publish-window', MAX_PUBLISH_WINDOW);
        if (!opts.now && windowMs < MIN_PUBLISH_WINDOW_MS) {
          throw new UsageError(`--publish-window must be at least ${MIN_PUBLISH_WINDOW_MS / 1000}s (every node publishes first); ` +
            'for a compromised key use --now');
        }
        const created = await withServices(opts, async (s) => {
          const fresh = await s.keys.rotate(opts.now ? { compromised: true } : { publishWindowMs: windowMs });
          // Right after: the keys are stored in a transaction of their own. Kids are public (JWKS).
          for (const { alg, kid } of fresh) {
            await s.audit.record({ type: 'admin.keys.rotated', detail: `kid=${kid} alg=${alg} via=cli${opts.now ? ' now' : ''}` });
          }
          return fresh;
        });
        // One line per key, RS256 first.
        for (const { alg, kid } of created) {
          print(opts.now
            ? `new signing key ${kid} (${alg}): signing now; every previous key has left JWKS`
            : `new signing key ${kid} (${alg}): published now, used for signing in ${windowMs / 1000} s`);
        }
      } catch (err) {
        fail(err);
      }
    });
}
