// Scripts Alias serves from its own origin (no CDN; the CSP allows script-src 'self'
// only): the @simplewebauthn/browser bundle and Alias's own passkeys.js. Each URL names
// the file's content digest, so it can be cached for a year (`immutable`) and an
// upgrade serves a new URL.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Asset {
  /** The URL path, e.g. /static/webauthn.3f9a1c2b.js */
  path: string;
  body: string;
  type: string;
}

export const IMMUTABLE = 'public, max-age=31536000, immutable';

const UI_DIR = fileURLToPath(new URL('../../src/ui/', import.meta.url));

function asset(name: string, body: string): Asset {
  const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
  return { path: `/static/${name}.${hash}.js`, body, type: 'text/javascript; charset=utf-8' };
}

let loaded: { webauthn: Asset; passkeys: Asset } | undefined;

/** The passkey scripts, read once: the UMD bundle (global SimpleWebAuthnBrowser) and the page script. */
export function passkeyAssets(): { webauthn: Asset; passkeys: Asset } {
  if (loaded) return loaded;
  // The package's exports name only its entry points: its bundle is found next to them.
  const entry = createRequire(import.meta.url).resolve('@simplewebauthn/browser');
  const bundle = readFileSync(join(dirname(entry), '..', 'dist', 'bundle', 'index.umd.min.js'), 'utf8');
  loaded = {
    webauthn: asset('webauthn', bundle),
    passkeys: asset('passkeys', readFileSync(UI_DIR + 'static/passkeys.js', 'utf8')),
  };
  return loaded;
}

/** The script URLs a page with passkey buttons loads, in order. */
export const passkeyScripts = (): string[] => [passkeyAssets().webauthn.path, passkeyAssets().passkeys.path];
