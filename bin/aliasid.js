#!/usr/bin/env node
// Runs the compiled CLI (built by `npm ci` through the prepare script).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/index.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('aliasid: not built yet; run `npm ci` or `npm run build` in the checkout\n');
  process.exit(1);
}
await import(entry.href);
