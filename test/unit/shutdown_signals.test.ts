// shutdown.ts: the first SIGTERM/SIGINT drains and exits 0; a second signal exits at once
// with 1, except the same signal again within DUPLICATE_SIGNAL_MS, which is the same
// request delivered twice (Ctrl-C reaches the whole process group and `npm run` forwards
// it to its script again). Driven through the real process listeners, with `exit` injected.
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { DUPLICATE_SIGNAL_MS, exitOnSignals } from '../../src/shutdown.js';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

function install() {
  const before = new Map(SIGNALS.map((s) => [s, process.listeners(s)]));
  const exits: number[] = [];
  const lines: string[] = [];
  let stops = 0;
  let finish!: () => void;
  const stopped = new Promise<void>((resolve) => { finish = resolve; });
  exitOnSignals(async () => { stops++; await stopped; }, {
    drainTimeoutMs: 60_000, out: (l) => lines.push(l), err: (l) => lines.push(l), exit: (code) => exits.push(code),
  });
  const added = SIGNALS.flatMap((s) => process.listeners(s).filter((l) => !before.get(s)!.includes(l)).map((l) => [s, l] as const));
  return {
    exits, lines, stops: () => stops, finish,
    // Calls only this test's listeners: the test runner's own must not see a signal.
    signal: (s: NodeJS.Signals) => { for (const [name, l] of added) if (name === s) (l as (sig: NodeJS.Signals) => void)(s); },
    remove: () => { for (const [s, l] of added) process.removeListener(s, l as () => void); },
  };
}

describe('exitOnSignals', () => {
  let current: ReturnType<typeof install> | undefined;
  afterEach(() => { current?.finish(); current?.remove(); current = undefined; });

  it('the same signal twice at once (Ctrl-C under npm run) is one stop: drains, then exits 0', async () => {
    const h = current = install();
    h.signal('SIGINT');
    h.signal('SIGINT');
    assert.equal(h.stops(), 1);
    assert.deepEqual(h.exits, [], 'still draining');
    h.finish();
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(h.exits, [0]);
    assert.ok(!h.lines.some((l) => /again/.test(l)), h.lines.join('\n'));
  });

  it('a different second signal exits at once with 1', () => {
    const h = current = install();
    h.signal('SIGINT');
    h.signal('SIGTERM');
    assert.deepEqual(h.exits, [1]);
    assert.ok(h.lines.some((l) => /SIGTERM again: exiting without finishing/.test(l)));
  });

  it('the same signal again after the duplicate window exits at once with 1', async () => {
    const h = current = install();
    h.signal('SIGTERM');
    await new Promise((r) => setTimeout(r, DUPLICATE_SIGNAL_MS + 100));
    h.signal('SIGTERM');
    assert.deepEqual(h.exits, [1]);
  });
});
