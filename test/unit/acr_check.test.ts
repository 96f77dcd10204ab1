// Issue 15 §3: the step-up check of the interaction policy (interaction_policy.ts
// needsSecondFactor) and the level a request wants (wantedAcr): OIDC Core §3.1.2.1
// acr_values (voluntary), §5.5.1.1 an essential acr claim, --require-mfa; prompt=none →
// interaction_required (§3.1.2.6).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { needsSecondFactor, wantedAcr, type UserState } from '../../src/authorize/interaction_policy.js';
import type { AuthorizationRequest } from '../../src/authorize/request.js';
import type { Session } from '../../src/store/types.js';
import { ACR_MFA, ACR_PASSWORD } from '../../src/oauth/acr.js';

const req = (over: { prompt?: string[]; acrValues?: string[]; acrEssential?: string[]; requireMfa?: boolean } = {}) =>
  ({ prompt: over.prompt ?? [], acrValues: over.acrValues ?? [], acrEssential: over.acrEssential,
    client: { requireMfa: over.requireMfa ?? false } }) as unknown as AuthorizationRequest;
const session = (amr: string[]) => ({ userId: 'u', authTime: Date.now(), amr }) as Session;
const user = (over: Partial<UserState>): UserState => ({ authenticatedNow: false, covered: true, now: Date.now(), ...over });

describe('step-up (needsSecondFactor)', () => {
  it('wantedAcr: --require-mfa wins; an essential claim needs its weakest value; acr_values asks for its first', () => {
    assert.deepEqual(wantedAcr(req({ requireMfa: true, acrValues: [ACR_PASSWORD] })), { acr: ACR_MFA, required: true });
    assert.deepEqual(wantedAcr(req({ acrEssential: [ACR_MFA, ACR_PASSWORD] })), { acr: ACR_PASSWORD, required: true });
    assert.deepEqual(wantedAcr(req({ acrEssential: [ACR_MFA] })), { acr: ACR_MFA, required: true });
    assert.deepEqual(wantedAcr(req({ acrValues: [ACR_MFA, ACR_PASSWORD] })), { acr: ACR_MFA, required: false });
    assert.equal(wantedAcr(req()), undefined);
  });
  it('a session that meets the level, or no session yet, passes', () => {
    assert.equal(needsSecondFactor.check(req({ acrValues: [ACR_MFA] }), user({ session: session(['pwd', 'otp', 'mfa']) })), undefined);
    assert.equal(needsSecondFactor.check(req({ acrValues: [ACR_MFA] }), user({ session: session(['hwk', 'user']) })), undefined);
    assert.equal(needsSecondFactor.check(req({ acrValues: [ACR_PASSWORD] }), user({ session: session(['pwd']) })), undefined);
    assert.equal(needsSecondFactor.check(req({ requireMfa: true }), user({})), undefined);
  });
  it('a password session with a second factor is asked for it; prompt=none gets interaction_required', () => {
    const pwd = user({ session: session(['pwd']), hasSecondFactor: true });
    assert.deepEqual(needsSecondFactor.check(req({ acrValues: [ACR_MFA] }), pwd), { page: 'second_factor' });
    assert.deepEqual(needsSecondFactor.check(req({ requireMfa: true }), pwd), { page: 'second_factor' });
    const need = needsSecondFactor.check(req({ acrValues: [ACR_MFA], prompt: ['none'] }), pwd);
    assert.ok(need && 'error' in need && need.error.error === 'interaction_required');
  });
  it('without a second factor: required → the set-up page; requested → the weaker level; prompt=none → interaction_required', () => {
    const pwd = user({ session: session(['pwd']), hasSecondFactor: false });
    assert.deepEqual(needsSecondFactor.check(req({ requireMfa: true }), pwd), { page: 'mfa_setup' });
    assert.deepEqual(needsSecondFactor.check(req({ acrEssential: [ACR_MFA] }), pwd), { page: 'mfa_setup' });
    assert.equal(needsSecondFactor.check(req({ acrValues: [ACR_MFA] }), pwd), undefined);
    for (const r of [req({ requireMfa: true, prompt: ['none'] }), req({ acrValues: [ACR_MFA], prompt: ['none'] })]) {
      const need = needsSecondFactor.check(r, pwd);
      assert.ok(need && 'error' in need && need.error.error === 'interaction_required');
    }
  });
});
