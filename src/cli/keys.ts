import type { Command } from 'commander';
import { ACTIVATION_DELAY_MS } from '../tokens/keys.js';
import { fail, print, withServices } from './context.js';

export function keysCommand(program: Command) {
  const keys = program.command('keys').description('manage signing keys');
  keys.command('rotate')
    .description('create a new signing key for each algorithm (RS256, ES256); every node signs with them within 10 s, ' +
      'and the old keys stay in JWKS until their tokens expire')
    .option('--db <location>', 'SQLite file or postgres:// URL (env ALIAS_DB)')
    .action(async (opts: { db?: string }) => {
      try {
        const created = await withServices(opts, async (s) => {
          const fresh = await s.keys.rotate();
          // Right after: the keys are stored in a transaction of their own. Kids are public (JWKS).
          for (const { alg, kid } of fresh) {
            await s.audit.record({ type: 'admin.keys.rotated', detail: `kid=${kid} alg=${alg} via=cli` });
          }
          return fresh;
        });
        // One line per key, RS256 first.
        for (const { alg, kid } of created) {
          print(`new signing key ${kid} (${alg}): published now, used for signing in ${ACTIVATION_DELAY_MS / 1000} s`);
        }
      } catch (err) {
        fail(err);
      }
    });
}
