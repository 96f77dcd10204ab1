// New passwords: NIST SP 800-63B §3.1.1.2 lengths (8–256) and no common or easy-to-guess
// passwords (zxcvbn-ts, score ≥ 2), each refusal saying why.
import { describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { passwordProblem } from '../../src/accounts/password_policy.js';

describe('password policy', () => {
  it('refuses short, overlong, common and pattern passwords, saying why', () => {
    assert.match(passwordProblem('short')!, /at least 8 characters/);
    assert.match(passwordProblem('x'.repeat(257))!, /longer than 256/);
    assert.match(passwordProblem('password')!, /too easy to guess \(it is one of the ten most common passwords\)/);
    assert.match(passwordProblem('qwertyuiop')!, /too easy to guess/);
    assert.match(passwordProblem('iloveyou123')!, /too easy to guess/);
  });

  it('refuses a password made of the account\'s own address', () => {
    assert.equal(passwordProblem('marguerite1987x'), undefined);
    assert.match(passwordProblem('marguerite1987x', ['marguerite1987x@example.com'])!, /too easy to guess/);
  });

  it('accepts long passphrases and random strings up to 256 characters', () => {
    for (const ok of ['correct horse battery staple', 'alias-demo-password', 'kjh34kjh5kj6h', randomBytes(192).toString('base64')]) {
      assert.equal(passwordProblem(ok), undefined, ok);
    }
  });
});
