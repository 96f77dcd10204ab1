// The pooled random source behind tokens and identifiers (src/crypto/random.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBuffer, randomHex, randomToken } from '../../src/crypto/random.js';

test('random tokens have the asked length and never repeat, across many pool refills', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) {
    const t = randomToken(32);
    assert.match(t, /^[A-Za-z0-9_-]{43}$/);
    seen.add(t);
  }
  assert.equal(seen.size, 5000);
  assert.match(randomHex(16), /^[0-9a-f]{32}$/);
});

test('a returned buffer is a copy: later draws do not change it', () => {
  const a = randomBuffer(32);
  const copy = Buffer.from(a);
  for (let i = 0; i < 1000; i++) randomBuffer(32);
  assert.deepEqual(a, copy);
  assert.notDeepEqual(a, Buffer.alloc(32));
});

test('large requests bypass the pool and are still random', () => {
  const a = randomBuffer(4096);
  const b = randomBuffer(4096);
  assert.equal(a.length, 4096);
  assert.notDeepEqual(a, b);
});
