import type { Command } from 'commander';
import { ACTIVATION_DELAY_MS } from '../tokens/keys.js';
import { fail, print, withServices } from './context.js';

export function keysCommand(program: Command) {
  const keys = program.command('keys').description('manage signing keys');
  keys.command('rotate')
    .description('create a new signing key; every node signs with it within 10 s, and the old key stays in JWKS until its tokens expire')
    .option('--db <location>', 'SQLite file or postgres:// URL (env ALIAS_DB)')
    .action(async (opts: { db?: string }) => {
      try {
        const kid = await withServices(opts, async (s) => {
          const created = await s.keys.rotate();
          // The kid is public (JWKS).
          await s.audit.record({ type: 'admin.keys.rotated', detail: `kid=${created} via=cli` });
          return created;
        });
        print(`new signing key ${kid}: published now, used for signing in ${ACTIVATION_DELAY_MS / 1000} s`);
      } catch (err) {
        fail(err);
      }
    });
}
