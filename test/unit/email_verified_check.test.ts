// Issue 14 §2: the "email_verified" interaction check — an unverified, signed-in person
// sees "confirm your address" (interaction_required under prompt=none); it comes after
// sign-in and account choice and before consent.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { firstNeed, INTERACTION_CHECKS, needsVerifiedEmail, type UserState } from '../../src/authorize/interaction_policy.js';
import type { AuthorizationRequest } from '../../src/authorize/request.js';
import type { Session } from '../../src/store/types.js';

const req = (prompt: string[] = []) => ({ prompt }) as unknown as AuthorizationRequest;
const session = { userId: 'u', authTime: Date.now() } as Session;
const user = (over: Partial<UserState>): UserState => ({ authenticatedNow: true, covered: true, now: Date.now(), ...over });

describe('needsVerifiedEmail', () => {
  it('sits between the account choice and consent', () => {
    assert.deepEqual(INTERACTION_CHECKS.map((c) => c.name), ['login', 'id_token_hint', 'select_account', 'email_verified', 'acr', 'consent']);
  });
  it('an unverified session gets the confirm page, prompt=none gets interaction_required', () => {
    assert.deepEqual(needsVerifiedEmail.check(req(), user({ session, emailVerified: false })), { page: 'confirm_address' });
    const need = firstNeed(req(['none']), user({ session, emailVerified: false }));
    assert.ok(need && 'error' in need && need.error.error === 'interaction_required');
  });
  it('a verified session, or none at all (sign-in comes first), passes', () => {
    assert.equal(needsVerifiedEmail.check(req(), user({ session, emailVerified: true })), undefined);
    assert.equal(needsVerifiedEmail.check(req(), user({ emailVerified: undefined })), undefined);
    assert.deepEqual(firstNeed(req(), user({ emailVerified: false })), { page: 'login' });
  });
});
