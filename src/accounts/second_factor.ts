// Issue 15 §2: the second factor of a password sign-in. TOTP (RFC 6238: HMAC-SHA1, six
// digits, 30-second steps) with one step of clock drift either way (RFC 6238 §5.2), and
// ten single-use recovery codes.
//
// - The secret is sealed at rest with the signing keys' mechanism (crypto/secrets.ts,
//   AES-256-GCM under a key derived from ALIAS_SECRET, purpose `totp-secrets`).
// - Nothing is stored before the person proves their app works: the enrolment page
//   carries the new secret sealed (purpose `totp-enrolment`, bound to the account, 15
//   minutes); the first correct code stores it.
// - Replay (RFC 6238 §5.2: "the verifier MUST NOT accept the second attempt of the same
//   OTP"): the time step of the last accepted code is stored; a code is accepted only for
//   a later step, moved in one conditional UPDATE (two parallel uses: one wins).
// - Guessing: attempts count per account, reserved before the check (throttle.reserve),
//   so a burst of parallel guesses gets no more checks than POLICIES.secondFactor allows.
// - Recovery codes: 50 random bits each, shown once; stored as HMAC digests keyed from
//   ALIAS_SECRET (a stolen database alone does not let anyone test guesses offline).
import * as OTPAuth from 'otpauth';
import type { Store } from '../store/store.js';
import type { User } from '../store/types.js';
import type { Secrets } from '../crypto/secrets.js';
import { randomBuffer } from '../crypto/random.js';
import type { Throttler, ThrottlePolicy } from '../throttle/throttle.js';
import type { Audit } from '../audit/audit.js';
import { detail } from '../audit/audit.js';
import type { AccountMailer } from '../mail/outbox.js';
import { changeFactor } from './factor_change.js';
import { digest, safeEqual } from '../tokens/opaque.js';
import type { AmrValue } from '../oauth/acr.js';

export const TOTP_PERIOD_S = 30;
export const TOTP_DIGITS = 6;
/** RFC 6238 §5.2: one step back or ahead is accepted (a clock up to ~30 s off, a slow typist). */
export const TOTP_DRIFT_STEPS = 1;
export const RECOVERY_CODE_COUNT = 10;
export const ENROLMENT_TTL_MS = 15 * 60_000;

/**
 * Second-factor attempts per account: 5 in 15 minutes, then a block of 30 s doubling up
 * to 15 minutes. With ±1 step three codes of a million are right at any moment, so a
 * guesser gets about one chance in 70,000 per window.
 */
export const SECOND_FACTOR_POLICY: ThrottlePolicy = { allowed: 5, windowMs: 15 * 60_000, baseBlockMs: 30_000, maxBlockMs: 15 * 60_000 };

const SEAL_SECRET = 'totp-secrets';
const SEAL_ENROLMENT = 'totp-enrolment';
const RECOVERY_MAC = 'recovery-code';
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

/**
 * RFC 8176 §2 methods a verified second factor adds to the password's `pwd`: a TOTP code
 * is `otp`; a recovery code is no RFC 4226/6238 one-time password, but it is a second,
 * single-use secret from the enrolment, so the sign-in is still `mfa` (and reaches
 * urn:alias:acr:mfa: a person who lost their phone can still finish a step-up).
 */
export const TOTP_AMR: readonly AmrValue[] = ['otp', 'mfa'];
export const RECOVERY_AMR: readonly AmrValue[] = ['mfa'];

export type CheckResult =
  | { ok: true; method: 'totp' | 'recovery'; amr: readonly AmrValue[] }
  | { ok: false; reason: 'invalid' | 'not_enrolled' }
  | { ok: false; reason: 'throttled'; retryAfter: number };

export type ConfirmResult =
  | { ok: true; recoveryCodes: string[] }
  | { ok: false; reason: 'invalid' | 'expired' | 'exists' }
  | { ok: false; reason: 'throttled'; retryAfter: number };

export interface Enrolment {
  /** Base32, as authenticator apps take it typed in. */
  secret: string;
  /** The otpauth:// URI (Key Uri Format) the QR code carries. */
  uri: string;
  /** The secret sealed for the confirmation form (nothing is stored yet). */
  sealed: string;
}

export interface SecondFactorDeps {
  store: Store;
  secrets: Secrets;
  throttle: Throttler;
  audit: Audit;
  accountMail: Pick<AccountMailer, 'enqueue' | 'kick'>;
  issuer: string;
  now: () => number;
}

export interface SecondFactors {
  status(userId: string): Promise<{ totp: boolean; recoveryCodesLeft: number }>;
  /** A fresh secret to show (QR code and text); nothing is stored until `confirm`. */
  newEnrolment(user: Pick<User, 'id' | 'email'>): Enrolment;
  /** The enrolment a confirmation form carries back, if it is this account's and fresh. */
  openEnrolment(user: Pick<User, 'id' | 'email'>, sealed: string): Enrolment | undefined;
  /** Checks the first code against the enrolment's secret; stores it and makes the recovery codes. */
  confirm(user: User, sealed: string, code: string, source: string): Promise<ConfirmResult>;
  /** Checks a TOTP code or a recovery code for a sign-in or a step-up (`via`). */
  check(userId: string, code: string, source: string, via: string): Promise<CheckResult>;
  /** Turns TOTP off and deletes the recovery codes; false when it was off. */
  disable(user: User, source: string): Promise<boolean>;
  /** A new set of recovery codes (the old set stops working); undefined when TOTP is off. */
  renewRecoveryCodes(user: User, source: string): Promise<string[] | undefined>;
}

/** The throttle key of an account's second-factor attempts. */
export const secondFactorKey = (userId: string) => `second-factor:${digest(userId)}`;

/** A TOTP code as typed: digits, spaces allowed. */
const asTotp = (code: string): string | undefined => {
  const c = code.replace(/\s+/g, '');
  return new RegExp(`^\\d{${TOTP_DIGITS}}$`).test(c) ? c : undefined;
};
/** A recovery code as typed: case, spaces and hyphens do not matter. */
const asRecovery = (code: string): string | undefined => {
  const c = code.toLowerCase().replace(/[\s-]+/g, '');
  return /^[a-z2-7]{10}$/.test(c) ? c : undefined;
};

function newRecoveryCode(): string {
  const bytes = randomBuffer(10);
  const chars = [...bytes].map((b) => BASE32[b & 31]).join('');
  return `${chars.slice(0, 5)}-${chars.slice(5)}`;
}

export function createSecondFactors(deps: SecondFactorDeps): SecondFactors {
  const { store, secrets, throttle, audit, now } = deps;
  const host = new URL(deps.issuer).host;
  const totpFor = (secret: string, label: string) => new OTPAuth.TOTP({
    issuer: `Alias (${host})`, label, algorithm: 'SHA1', digits: TOTP_DIGITS, period: TOTP_PERIOD_S,
    secret: OTPAuth.Secret.fromBase32(secret),
  });
  const recoveryDigest = (userId: string, code: string) => secrets.mac(RECOVERY_MAC, `${userId}:${code}`);

  /** The time step `code` is right for (now ± drift), latest first; undefined when none. */
  function matchingStep(secret: string, code: string): number | undefined {
    const totp = totpFor(secret, 'check');
    const t = now();
    const step = Math.floor(t / 1000 / TOTP_PERIOD_S);
    for (let d = TOTP_DRIFT_STEPS; d >= -TOTP_DRIFT_STEPS; d--) {
      // Every candidate is computed and compared (constant time each).
      if (safeEqual(totp.generate({ timestamp: (step + d) * TOTP_PERIOD_S * 1000 }), code)) return step + d;
    }
    return undefined;
  }

  /** Reserves one attempt before anything is checked; the caller clears it on success. */
  async function reserve(userId: string) {
    return throttle.reserve(secondFactorKey(userId), SECOND_FACTOR_POLICY);
  }

  const IF_NOT_YOU = 'If this was not you, someone has your password: reset it at once with “Forgot your password?” on the sign-in page.';

  async function makeRecoveryCodes(tx: Store, userId: string): Promise<string[]> {
    const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
    await tx.secondFactors.replaceRecoveryCodes(userId, codes.map((c) => recoveryDigest(userId, asRecovery(c)!)), now());
    return codes;
  }

  return {
    async status(userId) {
      const totp = await store.secondFactors.getTotp(userId);
      return { totp: !!totp, recoveryCodesLeft: totp ? await store.secondFactors.countRecoveryCodes(userId) : 0 };
    },

    newEnrolment(user) {
      const secret = new OTPAuth.Secret({ size: 20 }).base32;
      const sealed = secrets.seal(JSON.stringify({ u: user.id, s: secret, e: now() + ENROLMENT_TTL_MS }), SEAL_ENROLMENT);
      return { secret, uri: totpFor(secret, user.email).toString(), sealed };
    },

    openEnrolment(user, sealed) {
      let parsed: { u?: unknown; s?: unknown; e?: unknown };
      try {
        parsed = JSON.parse(secrets.open(sealed, SEAL_ENROLMENT)) as typeof parsed;
      } catch {
        return undefined;
      }
      if (parsed.u !== user.id || typeof parsed.s !== 'string' || typeof parsed.e !== 'number' || parsed.e < now()) return undefined;
      return { secret: parsed.s, uri: totpFor(parsed.s, user.email).toString(), sealed };
    },

    async confirm(user, sealed, code, source) {
      const enrolment = this.openEnrolment(user, sealed);
      if (!enrolment) return { ok: false, reason: 'expired' };
      const reservation = await reserve(user.id);
      if (!reservation.ok) return { ok: false, reason: 'throttled', retryAfter: reservation.retryAfter };
      const typed = asTotp(code);
      const step = typed === undefined ? undefined : matchingStep(enrolment.secret, typed);
      if (step === undefined) return { ok: false, reason: 'invalid' };
      const codes = await changeFactor(deps, user.id, async (tx) => {
        // The confirming code's step is already used: it cannot sign anybody in again.
        const stored = await tx.secondFactors.insertTotp({ userId: user.id, secretSealed: secrets.seal(enrolment.secret, SEAL_SECRET),
          lastStep: step, createdAt: now() });
        if (!stored) return undefined;
        return { value: await makeRecoveryCodes(tx, user.id),
          event: { type: 'mfa.enabled', ip: source, detail: detail({ method: 'totp', via: 'account' }) },
          notice: { purpose: 'mfa.enabled', subject: 'Two-step sign-in is on for your Alias account',
            lines: ['An authenticator app was set up for your Alias account. From now on, signing in with your password also asks for a code from that app.',
              'Ten recovery codes were shown once; keep them somewhere safe. Each works once instead of a code.'],
            after: [IF_NOT_YOU] } };
      });
      await throttle.clear(secondFactorKey(user.id));
      if (!codes) return { ok: false, reason: 'exists' };
      return { ok: true, recoveryCodes: codes };
    },

    async check(userId, code, source, via) {
      const factor = await store.secondFactors.getTotp(userId);
      if (!factor) return { ok: false, reason: 'not_enrolled' };
      const reservation = await reserve(userId);
      if (!reservation.ok) return { ok: false, reason: 'throttled', retryAfter: reservation.retryAfter };
      const event = { type: 'mfa.verified', userId, ip: source } as const;
      const typed = asTotp(code);
      if (typed !== undefined) {
        const step = matchingStep(secrets.open(factor.secretSealed, SEAL_SECRET), typed);
        // A right code whose step was already used is a replay: refused like a wrong one.
        if (step !== undefined && await store.secondFactors.useTotpStep(userId, step)) {
          await Promise.all([throttle.clear(secondFactorKey(userId)),
            audit.record({ ...event, detail: detail({ method: 'totp', via }) })]);
          return { ok: true, method: 'totp', amr: TOTP_AMR };
        }
        await audit.record({ ...event, outcome: 'failure', detail: detail({ method: 'totp', via }) });
        return { ok: false, reason: 'invalid' };
      }
      const recovery = asRecovery(code);
      const used = recovery !== undefined && await changeFactor(deps, userId, async (tx) => {
        if (!(await tx.secondFactors.useRecoveryCode(userId, recoveryDigest(userId, recovery), now()))) return undefined;
        const left = await tx.secondFactors.countRecoveryCodes(userId);
        return { value: true,
          event: { type: 'mfa.recovery_code.used', ip: source, detail: detail({ via, left: String(left) }) },
          notice: { purpose: 'mfa.recovery_code.used', subject: 'A recovery code was used to sign in to Alias',
            lines: ['Someone signed in to your Alias account with your password and one of your recovery codes, instead of a code from your authenticator app.',
              `${left} unused recovery code${left === 1 ? '' : 's'} left. On the account page you can make a new set (the old set then stops working).`],
            after: [IF_NOT_YOU] } };
      });
      if (used) {
        await throttle.clear(secondFactorKey(userId));
        return { ok: true, method: 'recovery', amr: RECOVERY_AMR };
      }
      await audit.record({ ...event, outcome: 'failure', detail: detail({ method: recovery ? 'recovery' : 'unknown', via }) });
      return { ok: false, reason: 'invalid' };
    },

    async disable(user, source) {
      const done = await changeFactor(deps, user.id, async (tx) => {
        if (!(await tx.secondFactors.deleteTotp(user.id))) return undefined;
        await tx.secondFactors.deleteRecoveryCodes(user.id);
        return { value: true,
          event: { type: 'mfa.disabled', ip: source, detail: detail({ method: 'totp', via: 'account' }) },
          notice: { purpose: 'mfa.disabled', subject: 'Two-step sign-in was turned off for your Alias account',
            lines: ['The authenticator app of your Alias account was removed, and its recovery codes stopped working. Signing in now needs only your password.'],
            after: [IF_NOT_YOU] } };
      });
      return done ?? false;
    },

    renewRecoveryCodes: (user, source) => changeFactor(deps, user.id, async (tx) => {
      if (!(await tx.secondFactors.getTotp(user.id))) return undefined;
      return { value: await makeRecoveryCodes(tx, user.id),
        event: { type: 'mfa.recovery_codes.renewed', ip: source, detail: 'via=account' },
        notice: { purpose: 'mfa.recovery_codes.renewed', subject: 'New recovery codes for your Alias account',
          lines: ['A new set of ten recovery codes was made for your Alias account. The codes you had before no longer work.'],
          after: [IF_NOT_YOU] } };
    }),
  };
}
