// `aliasid serve` tunes V8 before its modules load (src/v8_flags.ts). Checked in a child
// process with V8's natives syntax, which reports the tier a function runs in.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const FLAGS = fileURLToPath(new URL('../../src/v8_flags.ts', import.meta.url));

/** Whether a function compiled after (optionally) tuneV8ForServing() runs Sparkplug code after one call. */
function firstCallTier(tune: boolean): string {
  const program = `
    const { tuneV8ForServing } = await import(${JSON.stringify(FLAGS)});
    if (${tune}) tuneV8ForServing();
    const f = new Function('a', 'return a + 1');
    f(1);
    console.log(eval('%ActiveTierIsSparkplug(f)') ? 'sparkplug' : 'interpreter');`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--allow-natives-syntax', '--input-type=module', '-e', program],
    { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

describe('V8 settings for serving', () => {
  it('a function runs baseline (Sparkplug) code from its first call, not the interpreter', () => {
    assert.equal(firstCallTier(true), 'sparkplug');
  });

  it('without the settings the same function is still interpreted after one call (the check can fail)', () => {
    assert.equal(firstCallTier(false), 'interpreter');
  });
});
