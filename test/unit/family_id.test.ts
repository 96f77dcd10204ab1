// Token-family ids (src/tokens/issuer.ts newFamilyId). Internal only: no token or answer
// carries one. They begin with the family's start so the family indexes of the token
// tables grow at their end (bench/family_order.mjs measures what that saves a token insert).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newFamilyId } from '../../src/tokens/issuer.js';

test('a family id is its start (12 hex digits of ms) and 80 random bits, 32 hex digits in all', () => {
  const at = Date.UTC(2026, 11, 6, 20, 0, 0);
  const id = newFamilyId(at);
  assert.match(id, /^[0-9a-f]{32}$/);
  assert.equal(parseInt(id.slice(0, 12), 16), at);
});

test('families started later sort after those started earlier, whatever their random part', () => {
  const at = Date.UTC(2026, 11, 6, 20, 0, 0);
  const ids = [at + 1, at, at + 86_400_000, at + 2].map((t) => newFamilyId(t));
  assert.deepEqual([...ids].sort(), [ids[1], ids[0], ids[3], ids[2]]);
});

test('families started in the same millisecond still get distinct ids', () => {
  const at = Date.UTC(2026, 11, 6, 20, 0, 0);
  const ids = Array.from({ length: 5000 }, () => newFamilyId(at));
  assert.equal(new Set(ids).size, ids.length);
  assert.equal(new Set(ids.map((id) => id.slice(12))).size, ids.length, 'the random part differs');
});

test('a clock before 1970, past the 12 digits or not a number still gives a 32-digit id', () => {
  assert.match(newFamilyId(-5), /^0{12}[0-9a-f]{20}$/);
  assert.match(newFamilyId(Number.NaN), /^0{12}[0-9a-f]{20}$/);
  assert.match(newFamilyId(2 ** 48 + 7), /^[0-9a-f]{32}$/);
});
