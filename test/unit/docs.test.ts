// The documentation keeps up with the code (issue 18, "Docs"):
// - every docs/*.md is linked from README.md, so nothing written is out of reach;
// - every relative link in README.md and docs/*.md points to a file that exists, and an
//   #anchor to a heading of it (GitHub's heading ids), so moved sections leave no dead link;
// - every `aliasid` command and option, read from the commander program itself, is in
//   docs/cli.md, each option in a section that names its command;
// - every ALIAS_* variable src/config/ reads is in docs/configuration.md (and every one
//   src/ names anywhere is documented somewhere).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { program } from '../../src/cli/program.js';
import { commandPath } from '../../src/cli/command.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DOCS = join(ROOT, 'docs');
const read = (file: string) => readFileSync(file, 'utf8');
const docFiles = readdirSync(DOCS).filter((f) => f.endsWith('.md')).sort();
const markdownFiles = [join(ROOT, 'README.md'), ...docFiles.map((f) => join(DOCS, f))];

/** Lines outside fenced code blocks (a `#` in a shell example is no heading, a link in code no link). */
function prose(text: string): string[] {
  let fenced = false;
  return text.split('\n').filter((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  });
}

/** GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const ids = new Set<string>();
  for (const line of prose(text)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1]!.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    ids.add(n ? `${base}-${n}` : base);
  }
  return ids;
}

/** Markdown link targets `[text](target)` in prose, without inline code spans. */
function links(text: string): string[] {
  const out: string[] = [];
  for (const line of prose(text)) {
    for (const m of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) out.push(m[1]!);
  }
  return out;
}

const isExternal = (target: string) => /^[a-z][a-z0-9+.-]*:/i.test(target);

describe('documentation', () => {
  it('README.md links every docs/*.md', () => {
    const linked = new Set(links(read(join(ROOT, 'README.md')))
      .filter((t) => !isExternal(t))
      .map((t) => resolve(ROOT, t.split('#')[0]!)));
    const unlinked = docFiles.filter((f) => !linked.has(join(DOCS, f)));
    assert.deepEqual(unlinked, [], `docs not linked from README.md: ${unlinked.join(', ')}`);
  });

  for (const file of markdownFiles) {
    const name = relative(ROOT, file);
    it(`${name}: every relative link points to a file (and heading) that exists`, () => {
      const broken: string[] = [];
      for (const target of links(read(file))) {
        if (isExternal(target)) continue;
        const [path, anchor] = target.split('#') as [string, string | undefined];
        const dest = path === '' ? file : resolve(dirname(file), decodeURI(path));
        if (!existsSync(dest)) {
          broken.push(`${target} (no file ${relative(ROOT, dest)})`);
          continue;
        }
        if (anchor !== undefined && dest.endsWith('.md') && statSync(dest).isFile() && !anchors(read(dest)).has(anchor)) {
          broken.push(`${target} (no heading #${anchor} in ${relative(ROOT, dest)})`);
        }
      }
      assert.deepEqual(broken, [], `broken links in ${name}:\n${broken.join('\n')}`);
    });
  }

  it('docs/cli.md documents every aliasid command and every option, each in a section naming its command', () => {
    // Sections: from one heading to the next, outside code blocks.
    const sections: string[] = [];
    for (const line of prose(read(join(DOCS, 'cli.md')))) {
      if (/^#{1,6}\s/.test(line) || !sections.length) sections.push('');
      sections[sections.length - 1] += line + '\n';
    }
    const missing: string[] = [];
    const visit = (cmd: Command) => {
      if (cmd.commands.length) return cmd.commands.forEach(visit);
      const path = commandPath(cmd);
      const names = new RegExp(`${path.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')}(?![\\w-])`);
      const own = sections.filter((s) => names.test(s));
      if (!own.length) return void missing.push(`command \`${path}\``);
      for (const o of cmd.options) {
        const flag = o.long ?? o.short!;
        const mentioned = new RegExp(`${flag.replace(/[-]/g, '\\-')}(?![\\w-])`);
        if (!own.some((s) => mentioned.test(s))) missing.push(`\`${path}\` option ${flag}`);
      }
    };
    visit(program);
    assert.deepEqual(missing, [], `missing from docs/cli.md:\n${missing.join('\n')}`);
  });

  it('docs/configuration.md documents every ALIAS_* variable src/config/ reads', () => {
    const dir = join(ROOT, 'src', 'config');
    const names = new Set(readdirSync(dir).filter((f) => f.endsWith('.ts'))
      .flatMap((f) => [...read(join(dir, f)).matchAll(/\bALIAS_[A-Z0-9_]+/g)].map((m) => m[0])));
    assert.ok(names.has('ALIAS_DB') && names.has('ALIAS_SECRET'), 'found the variables');
    const doc = read(join(DOCS, 'configuration.md'));
    const missing = [...names].filter((n) => !new RegExp(`\\b${n}\\b`).test(doc)).sort();
    assert.deepEqual(missing, [], `missing from docs/configuration.md: ${missing.join(', ')}`);
  });

  it('every ALIAS_* variable named in src/ is documented in README.md or docs/', () => {
    const names = new Set<string>();
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, entry.name);
        if (entry.isDirectory()) walk(p);
        else if (entry.name.endsWith('.ts')) for (const m of read(p).matchAll(/\bALIAS_[A-Z0-9_]+/g)) names.add(m[0]);
      }
    };
    walk(join(ROOT, 'src'));
    const docs = markdownFiles.map(read).join('\n');
    const missing = [...names].filter((n) => !new RegExp(`\\b${n}\\b`).test(docs)).sort();
    assert.deepEqual(missing, [], `not documented anywhere: ${missing.join(', ')}`);
  });
});
