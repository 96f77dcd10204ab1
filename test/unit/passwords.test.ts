// argon2id hashing: verification, and at most one hash per core at a time (memory bound).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { hashPassword, verifyPassword } from '../../src/accounts/passwords.js';

describe('passwords (argon2id, OWASP parameters)', () => {
  it('verifies the right password only; a malformed stored hash is a mismatch, not a crash', async () => {
    const stored = await hashPassword('correct horse battery staple');
    assert.match(stored, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal(await verifyPassword(stored, 'correct horse battery staple'), true);
    assert.equal(await verifyPassword(stored, 'wrong'), false);
    assert.equal(await verifyPassword('not a hash', 'x'), false);
  });

  it('many concurrent verifications all complete, with correct results', async () => {
    const stored = await hashPassword('pw-123456');
    const n = availableParallelism() * 3 + 1;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => verifyPassword(stored, i % 2 ? 'pw-123456' : 'nope')));
    assert.deepEqual(results, Array.from({ length: n }, (_, i) => i % 2 === 1));
  });
});
