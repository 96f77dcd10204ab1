// The layering rule of docs/ARCHITECTURE.md, checked over the import graph of src/: an
// import may point to its own layer or a lower one, never up. Endpoints never import each
// other. Type-only imports count too: a type that points up is a dependency that points up.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const ARCHITECTURE = fileURLToPath(new URL('../../docs/ARCHITECTURE.md', import.meta.url));

interface Layer { rank: number; name: string; paths: string[] }

/** The layers block of docs/ARCHITECTURE.md: `RANK NAME path path …` per line. */
function readLayers(): Layer[] {
  const block = /```layers\n([\s\S]*?)```/.exec(readFileSync(ARCHITECTURE, 'utf8'));
  assert.ok(block, 'docs/ARCHITECTURE.md has a ```layers block');
  return block[1]!.trim().split('\n').map((line) => {
    const [rank, name, ...paths] = line.trim().split(/\s+/);
    return { rank: Number(rank), name: name!, paths };
  });
}

const LAYERS = readLayers();

/** The layer of a path under src/: the longest listed folder (`x/`) or file that contains it. */
function layerOf(path: string): Layer {
  let best: { layer: Layer; length: number } | undefined;
  for (const layer of LAYERS) {
    for (const p of layer.paths) {
      const hit = p.endsWith('/') ? path.startsWith(p) : path === p;
      if (hit && (!best || p.length > best.length)) best = { layer, length: p.length };
    }
  }
  if (!best) throw new Error(`${path} is in no layer of docs/ARCHITECTURE.md`);
  return best.layer;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

/** Every relative import and re-export of a file, as a path under src/. */
function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\b[^'";]*?\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]/gm)) {
    out.push(relative(SRC, resolve(dirname(file), m[1]!)).replace(/\.js$/, '.ts'));
  }
  for (const m of text.matchAll(/\bimport\(\s*['"](\.{1,2}\/[^'"]+)['"]\s*\)/g)) {
    out.push(relative(SRC, resolve(dirname(file), m[1]!)).replace(/\.js$/, '.ts'));
  }
  return out;
}

/** Imports that point up a layer, or from one endpoint to another. */
function violations(files: { path: string; text: string }[]): string[] {
  const bad: string[] = [];
  for (const { path, text } of files) {
    const from = relative(SRC, path);
    const fromLayer = layerOf(from);
    for (const to of importsOf(path, text)) {
      const toLayer = layerOf(to);
      if (toLayer.rank > fromLayer.rank) bad.push(`${from} → ${to} (${fromLayer.name} imports ${toLayer.name}, a higher layer)`);
      if (from.startsWith('endpoints/') && to.startsWith('endpoints/')) bad.push(`${from} → ${to} (an endpoint imports another)`);
    }
  }
  return bad;
}

describe('layering (docs/ARCHITECTURE.md)', () => {
  const files = sourceFiles(SRC).map((path) => ({ path, text: readFileSync(path, 'utf8') }));

  it('every file of src/ belongs to a layer', () => {
    for (const { path } of files) assert.doesNotThrow(() => layerOf(relative(SRC, path)), relative(SRC, path));
  });

  it('no import points up a layer, and no endpoint imports another', () => {
    assert.deepEqual(violations(files), []);
  });

  it('the check catches an upward import, a type-only one, and one endpoint importing another', () => {
    // The rule must be able to fail: three planted imports that break it.
    const planted = [
      { path: join(SRC, 'store/planted.ts'), text: "import { startServer } from '../main.js';\n" },
      { path: join(SRC, 'oauth/planted.ts'), text: "import type { Services } from '../services.js';\n" },
      { path: join(SRC, 'endpoints/planted.ts'), text: "import { tokenEndpoint } from './token.js';\n" },
    ];
    const found = violations(planted);
    assert.equal(found.length, 3, found.join('\n'));
    assert.match(found[0]!, /^store\/planted\.ts → main\.ts/);
    assert.match(found[1]!, /^oauth\/planted\.ts → services\.ts/);
    assert.match(found[2]!, /an endpoint imports another/);
  });
});
