// Opaque tokens and their store keys (src/tokens/opaque.ts). Access and refresh tokens and
// codes carry their issue time in front, so their keys sort by issue time; the store keeps
// only the time prefix and a SHA-256 of the whole token (no secret at rest).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { digest, mintKeyed, mintOpaque } from '../../src/tokens/opaque.js';

const sha = (v: string) => createHash('sha256').update(v).digest('base64url');

test('a keyed token is its issue time (12 hex digits of ms) and 256 random bits, never repeated', () => {
  const before = Date.now();
  const tokens = Array.from({ length: 2000 }, () => mintKeyed());
  const after = Date.now();
  for (const t of tokens) {
    assert.match(t, /^[0-9a-f]{12}[A-Za-z0-9_-]{43}$/);
    const issued = parseInt(t.slice(0, 12), 16);
    assert.ok(issued >= before && issued <= after, 'the prefix is the issue time');
  }
  assert.equal(new Set(tokens).size, tokens.length);
});

test('keys of tokens issued later sort after those issued earlier', async () => {
  const first = digest(mintKeyed());
  await new Promise((resolve) => setTimeout(resolve, 5));
  const later = digest(mintKeyed());
  assert.ok(first < later, `${first} < ${later}`);
});

test('the key of a keyed token is its time prefix and the SHA-256 of the whole token; nothing else of it', () => {
  const t = mintKeyed();
  const key = digest(t);
  assert.equal(key, t.slice(0, 12) + sha(t));
  assert.ok(!key.includes(t.slice(12)), 'the random part is not kept');
  // The prefix is covered by the hash: the same random part with another time is another key.
  const forged = (parseInt(t.slice(0, 12), 16) + 1).toString(16).padStart(12, '0') + t.slice(12);
  assert.notEqual(digest(forged).slice(12), key.slice(12));
});

test('tokens issued before keyed tokens existed, secrets and other values keep their plain SHA-256 key', () => {
  const old = mintOpaque();
  assert.equal(digest(old), sha(old));
  for (const v of ['alice@example.com', `${'a'.repeat(12)}${'!'.repeat(43)}`, `${'A'.repeat(12)}${'b'.repeat(43)}`, '']) {
    assert.equal(digest(v), sha(v), v);
  }
});
