// Sign-up and e-mail verification (issue 14 §1–2). A new account starts unverified and
// gets a single-use /verify-email/ link (link_tokens.ts, 24 h). An address that already
// has an account gets the same answer, and its owner a mail saying someone tried (with
// the password-reset link): the page never tells whether an address is taken, and both
// paths hash the password so timing does not tell either.
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/store.js';
import type { User } from '../store/types.js';
import { detail, type Audit } from '../audit/audit.js';
import { countEvent, type Throttler, type ThrottlePolicy } from '../throttle/throttle.js';
import type { LinkTokens } from './link_tokens.js';
import type { AccountMailer } from '../mail/outbox.js';
import { accountMail } from '../mail/account_mail.js';
import { hashPassword } from './passwords.js';
import { passwordProblem } from './password_policy.js';
import { UserInputError, validateNickname } from './users.js';
import { digest } from '../tokens/opaque.js';
import type { NewPasskey, PasskeyFailure } from './passkeys.js';

/** The same pragmatic address check as `aliasid user create` (users.ts). */
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

// countEvent lets `allowed` events through in a window, then refuses (or, for the address, stops mailing).
/** Sign-up forms per source address: 20 an hour; a few families behind one address are fine, a script is not. */
export const SIGNUP_SOURCE: ThrottlePolicy = { allowed: 20, windowMs: 60 * 60_000, baseBlockMs: 60_000, maxBlockMs: 60 * 60_000 };
/** Mails to one address caused by sign-ups (new account or "someone tried"): 3 an hour, nobody is mail-bombed. */
export const SIGNUP_ADDRESS: ThrottlePolicy = { allowed: 3, windowMs: 60 * 60_000, baseBlockMs: 10 * 60_000, maxBlockMs: 60 * 60_000 };
/** "Send the link again", per account: 3 links, then a pause. */
export const RESEND_ACCOUNT: ThrottlePolicy = { allowed: 3, windowMs: 60 * 60_000, baseBlockMs: 5 * 60_000, maxBlockMs: 60 * 60_000 };
/** "Send the link again", per source address. */
export const RESEND_SOURCE: ThrottlePolicy = { allowed: 20, windowMs: 60 * 60_000, baseBlockMs: 60_000, maxBlockMs: 60 * 60_000 };

export interface SignupInput {
  email: string;
  /**
   * The first way to sign in: a password, or (issue 15 §1) a passkey, verified only once
   * the sign-up is counted (the thunk runs the WebAuthn verification, passkeys.verifyNew).
   */
  password?: string;
  passkey?: () => Promise<NewPasskey>;
  nickname?: string;
  /** The parked authorization request this browser came from (already checked to be its own). */
  interactionId?: string;
  source: string;
}

export type FieldErrors = Partial<Record<'email' | 'password' | 'nickname', string>>;

export type SignupResult =
  | { ok: true }
  | { ok: false; reason: 'invalid'; errors: FieldErrors }
  | { ok: false; reason: 'throttled'; retryAfter: number }
  | { ok: false; reason: 'passkey'; failure: PasskeyFailure };

export type VerifyResult =
  | { ok: true; userId: string; interactionId?: string }
  | { ok: false; reason: 'unknown' | 'used' | 'expired' };

export type ResendResult = { ok: true } | { ok: false; reason: 'throttled'; retryAfter: number };

export interface Signup {
  signUp(input: SignupInput): Promise<SignupResult>;
  /** Uses a verification link: the address is verified (once); says why not otherwise. */
  verify(secret: string, source: string): Promise<VerifyResult>;
  /** A fresh link for a signed-in, unverified account (older links stop working). */
  resend(userId: string, source: string, interactionId?: string): Promise<ResendResult>;
}

export interface SignupDeps {
  store: Store;
  throttle: Throttler;
  links: LinkTokens;
  accountMail: AccountMailer;
  audit: Audit;
  issuer: string;
  now: () => number;
}

const text = (v: string | undefined) => (v ?? '');

/** The address (lower-cased) and nickname of a sign-up, with what is wrong with each. */
export function checkSignupFields(rawEmail: string | undefined, rawNickname: string | undefined): { email: string; nickname: string | null; errors: FieldErrors } {
  const email = text(rawEmail).trim().toLowerCase();
  const errors: FieldErrors = {};
  if (!EMAIL.test(email) || email.length > 320) errors.email = 'Enter an e-mail address such as name@example.com.';
  let nickname: string | null = null;
  try {
    nickname = validateNickname(rawNickname);
  } catch (err) {
    if (!(err instanceof UserInputError)) throw err;
    errors.nickname = `The nickname cannot be used: ${err.message}.`;
  }
  return { email, nickname, errors };
}

export function createSignup(deps: SignupDeps): Signup {
  const { store, throttle, links, audit, issuer, now } = deps;

  const verifyMail = (to: string, secret: string) => accountMail({
    to, subject: 'Confirm your e-mail address',
    lines: ['Someone, hopefully you, created an Alias account with this address.',
      'Open the link below within 24 hours to confirm that the address is yours. The link works once.'],
    link: { url: `${issuer}/verify-email/${secret}`, label: 'Confirm your address' },
    after: ['If you did not create this account, ignore this mail: without the confirmation the account cannot be used with any app.'],
  }, issuer);

  const triedMail = (to: string) => accountMail({
    to, subject: 'Someone tried to create an account with your address',
    lines: ['Someone tried to create a new Alias account with this e-mail address. You already have an account, ' +
      'so nothing was created and your account is unchanged.',
    'If it was you and you do not remember your password, you can choose a new one:'],
    link: { url: `${issuer}/forgot`, label: 'Reset your password' },
    after: ['If it was not you, you can ignore this mail.'],
  }, issuer);

  /** Issues a verification link and queues its mail, inside `tx`. */
  async function sendLink(tx: Store, user: User, interactionId?: string) {
    const data: Record<string, string> = { email: user.email };
    if (interactionId) data.interaction = interactionId;
    const secret = await links.issue(tx.linkTokens, 'verify_email', user.id, data);
    await deps.accountMail.enqueue(tx.mailOutbox, { ...verifyMail(user.email, secret), userId: user.id, purpose: 'verify_email' });
  }

  return {
    async signUp(input) {
      const { email, nickname, errors } = checkSignupFields(input.email, input.nickname);
      if (!input.passkey) {
        const problem = passwordProblem(input.password ?? '', [email, nickname ?? ''].filter(Boolean));
        if (problem) errors.password = `Choose another password: ${problem}.`;
      }
      if (Object.keys(errors).length) return { ok: false, reason: 'invalid', errors };

      // Counted before the expensive work (the hash, the mail).
      const sourceKey = `signup-source:${digest(input.source)}`;
      const counted = await countEvent(throttle, [{ key: sourceKey, policy: SIGNUP_SOURCE }]);
      if (!counted.ok) return { ok: false, reason: 'throttled', retryAfter: counted.retryAfter };
      // Over the address's allowance the sign-up still answers the same page, but mails nothing.
      const mayMail = (await countEvent(throttle, [{ key: `signup-address:${digest(email)}`, policy: SIGNUP_ADDRESS }])).ok;

      // Hashed (or the passkey verified) on both paths: a taken address answers no faster than a free one.
      const made = input.passkey ? await input.passkey() : undefined;
      if (made && !made.ok) return { ok: false, reason: 'passkey', failure: made };
      const passwordHash = made ? null : await hashPassword(input.password ?? '');
      const t = now();
      let created: string | undefined;
      let taken = false;
      await store.transaction(async (tx) => {
        const existing = await tx.users.getByEmail(email);
        if (existing) {
          if (mayMail) await deps.accountMail.enqueue(tx.mailOutbox, { ...triedMail(existing.email), userId: existing.id, purpose: 'signup_attempt' });
          await audit.record({ type: 'signup', outcome: 'failure', userId: existing.id, ip: input.source, detail: 'reason=address_taken' }, tx);
          return;
        }
        // A credential id someone already registered (a crafted response can name any): refused, nothing made.
        if (made?.ok && await tx.passkeys.getByCredentialId(made.passkey.credentialId)) {
          taken = true;
          return;
        }
        // A passkey's account id was fixed when its credential was made (passkeys.signupUserId).
        const id = made?.ok ? made.passkey.userId : randomBytes(16).toString('hex');
        const user: User = { id, email, passwordHash, nickname, emailVerified: false, createdAt: t, updatedAt: t };
        await tx.users.insert(user);
        if (made?.ok) await tx.passkeys.insert(made.passkey);
        await sendLink(tx, user, input.interactionId);
        await audit.record({ type: 'signup', userId: user.id, ip: input.source, detail: detail({ via: 'signup', method: made ? 'passkey' : undefined }) }, tx);
        created = user.id;
      }).catch(async (err) => {
        // Two sign-ups for one address at once: the loser sees the same page as anyone else.
        if (created === undefined && await store.users.getByEmail(email)) return;
        throw err;
      });
      deps.accountMail.kick();
      if (taken) return { ok: false, reason: 'passkey', failure: { ok: false, reason: 'duplicate', message: 'this passkey is already registered' } };
      return { ok: true };
    },

    async verify(secret, source) {
      const result = await store.transaction(async (tx): Promise<VerifyResult> => {
        const used = await links.use(tx.linkTokens, 'verify_email', secret);
        if (!used.ok) return used;
        const user = await tx.users.get(used.token.userId);
        // A link for an address the account no longer has confirms nothing.
        if (!user || user.email !== used.token.data.email) return { ok: false, reason: 'expired' };
        const t = now();
        if (!user.emailVerified) await tx.users.update({ ...user, emailVerified: true, updatedAt: t });
        await tx.linkTokens.useAll(user.id, ['verify_email'], t);
        await audit.record({ type: 'email.verified', userId: user.id, ip: source, detail: 'via=link' }, tx);
        return { ok: true, userId: user.id, interactionId: used.token.data.interaction };
      });
      return result;
    },

    async resend(userId, source, interactionId) {
      const accountKey = `verify-resend:${digest(userId)}`;
      const sourceKey = `verify-resend-source:${digest(source)}`;
      const counted = await countEvent(throttle, [{ key: accountKey, policy: RESEND_ACCOUNT }, { key: sourceKey, policy: RESEND_SOURCE }]);
      if (!counted.ok) return { ok: false, reason: 'throttled', retryAfter: counted.retryAfter };
      await store.transaction(async (tx) => {
        const user = await tx.users.get(userId);
        if (!user || user.emailVerified) return;
        await tx.linkTokens.useAll(user.id, ['verify_email'], now());
        await sendLink(tx, user, interactionId);
      });
      deps.accountMail.kick();
      return { ok: true };
    },
  };
}
