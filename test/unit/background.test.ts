// Work started after an answer was sent (src/queue/background.ts): stopping waits for it, so a
// SIGTERM right after /forgot's answer does not lose the reset mail the page promised.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createBackground } from '../../src/queue/background.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** No task here may fail. */
const unexpected = (err: unknown) => assert.fail(`unexpected failure: ${String(err)}`);

describe('background work after an answer', () => {
  it('starts after the current turn, not during it', async () => {
    const bg = createBackground();
    let started = false;
    bg.run(async () => { started = true; }, unexpected);
    assert.equal(started, false, 'the answer is sent first');
    await bg.settled();
    assert.equal(started, true);
  });

  it('settled() waits for slow tasks and for tasks they start', async () => {
    const bg = createBackground();
    const done: string[] = [];
    bg.run(async () => {
      await tick(30);
      done.push('first');
      bg.run(async () => { await tick(30); done.push('second'); }, unexpected);
    }, unexpected);
    await bg.settled();
    assert.deepEqual(done, ['first', 'second']);
  });

  it('a failing task goes to its error handler and does not reject settled()', async () => {
    const bg = createBackground();
    const errors: unknown[] = [];
    bg.run(async () => { throw new Error('smtp down'); }, (err) => errors.push(err));
    await bg.settled();
    assert.equal(errors.length, 1);
    assert.match((errors[0] as Error).message, /smtp down/);
  });

  it('settled() with nothing running resolves at once', async () => {
    await createBackground().settled();
  });
});
