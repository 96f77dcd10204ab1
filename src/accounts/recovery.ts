// Password reset ("Forgot your password?", issue 14 §3). /forgot answers the same whether
// or not the address has an account, and does the lookup and the mail after answering, so
// neither the page nor its timing tells. The mailed /reset/TOKEN link (reset_password,
// 30 min, single use, digest stored) leads to a form for the new password, checked like
// sign-up. A reset ends every session and revokes every token of the account
// (credential_change.ts) and tells the address so.
import type { AccountServices } from './services.js';
import type { LinkPurpose, LinkToken, User } from '../store/types.js';
import { countEvent, type ThrottlePolicy } from '../throttle/throttle.js';
import { digest } from '../tokens/opaque.js';
import { hashPassword } from './passwords.js';
import { accountMail } from '../mail/account_mail.js';
import { endCredentialsIn, kickAfterCredentialChange, newPasswordProblem } from './credential_change.js';
import type { NewPasskey, PasskeyFailure } from './passkeys.js';

/** Every /forgot request counts (not only failures): per address typed and per source address. */
export const RECOVERY_POLICIES = {
  /** Per address typed: 3 requests an hour (the 4th is refused), then a block that doubles from 1 minute up to an hour. */
  forgotAccount: { allowed: 3, windowMs: 60 * 60_000, baseBlockMs: 60_000, maxBlockMs: 60 * 60_000 },
  /** Per source address: 20 requests in 10 minutes (the 21st is refused), then 1 minute doubling up to 10 minutes. */
  forgotSource: { allowed: 20, windowMs: 10 * 60_000, baseBlockMs: 60_000, maxBlockMs: 10 * 60_000 },
} satisfies Record<string, ThrottlePolicy>;

/** Longest address considered (RFC 5321 path limits); longer input is refused as malformed. */
export const MAX_EMAIL_LENGTH = 320;
/** Pragmatic address check (as accounts/users.ts): one @, no spaces. */
export const EMAIL_SHAPE = /^[^\s@]{1,64}@[^\s@]{1,255}$/;
/** What a link secret may look like (as link_tokens.ts); anything else is unknown at once. */
const LINK_SHAPE = /^[A-Za-z0-9_-]{32,128}$/;

export type LinkCheck = { ok: true; token: LinkToken; user: User } | { ok: false; reason: 'unknown' | 'used' | 'expired' };

/** Looks at a link without using it (a GET, which mail scanners may fetch, never uses one). */
export async function peekLink(s: AccountServices, purpose: LinkPurpose, secret: string): Promise<LinkCheck> {
  if (!LINK_SHAPE.test(secret)) return { ok: false, reason: 'unknown' };
  const token = await s.store.linkTokens.get(digest(secret));
  if (!token || token.purpose !== purpose) return { ok: false, reason: 'unknown' };
  if (token.usedAt !== null) return { ok: false, reason: 'used' };
  if (token.expiresAt <= s.now()) return { ok: false, reason: 'expired' };
  const user = await s.accounts.get(token.userId);
  return user ? { ok: true, token, user } : { ok: false, reason: 'unknown' };
}

/**
 * Counts the request against the address and the source, before any lookup; when neither
 * is blocked, returns the work to run after answering (the lookup and the mail).
 */
export async function forgotPassword(s: AccountServices, email: string, source: string):
  Promise<{ ok: true; work: () => Promise<void> } | { ok: false; retryAfter: number }> {
  const address = email.trim().toLowerCase();
  const accountKey = `forgot:${digest(address)}`;
  const sourceKey = `forgot-source:${digest(source)}`;
  const counted = await countEvent(s.throttle, [{ key: accountKey, policy: RECOVERY_POLICIES.forgotAccount },
    { key: sourceKey, policy: RECOVERY_POLICIES.forgotSource }]);
  if (!counted.ok) return counted;
  return { ok: true, work: () => sendResetMail(s, address, source) };
}

async function sendResetMail(s: AccountServices, address: string, source: string): Promise<void> {
  const user = await s.store.users.getByEmail(address);
  if (!user) return;
  await s.store.transaction(async (tx) => {
    // A newer link replaces older ones.
    await tx.linkTokens.useAll(user.id, ['reset_password'], s.now());
    const secret = await s.links.issue(tx.linkTokens, 'reset_password', user.id);
    const mail = accountMail({
      to: user.email, subject: 'Reset your Alias password',
      lines: ['Someone (we hope you) asked to reset the password of the Alias account with this address.',
        'The link works once, for 30 minutes. Setting a new password signs you out everywhere.'],
      link: { url: `${s.config.issuer}/reset/${secret}`, label: 'Choose a new password (or add a passkey)' },
      after: ['If you did not ask for this, ignore this mail: your password stays as it is.'],
    }, s.config.issuer);
    await s.accountMail.enqueue(tx.mailOutbox, { ...mail, userId: user.id, purpose: 'reset_password' });
    await s.audit.record({ type: 'password.reset', userId: user.id, ip: source,
      detail: 'step=link_sent' }, tx);
  });
  s.accountMail.kick();
}

export type ResetResult =
  | { ok: true; user: User }
  | { ok: false; reason: 'unknown' | 'used' | 'expired' }
  | { ok: false; reason: 'weak'; message: string }
  | { ok: false; reason: 'passkey'; failure: PasskeyFailure };

const RESET_ENDS = 'Every browser was signed out, and every app you use has to ask you to sign in again.';

/** Sets the new password through a reset link: the link is used in the same transaction. */
export async function resetPassword(s: AccountServices, secret: string, password: string, source: string): Promise<ResetResult> {
  const seen = await peekLink(s, 'reset_password', secret);
  if (!seen.ok) return seen;
  const weak = newPasswordProblem(password, seen.user);
  if (weak) return { ok: false, reason: 'weak', message: weak };
  const passwordHash = await hashPassword(password);
  const result = await s.store.transaction(async (tx): Promise<ResetResult> => {
    const used = await s.links.use(tx.linkTokens, 'reset_password', secret);
    if (!used.ok) return used;
    const user = await tx.users.get(used.token.userId);
    if (!user) return { ok: false, reason: 'unknown' };
    // Opening the mailed link proves the address, too.
    const changed = { ...user, passwordHash, emailVerified: true, updatedAt: s.now() };
    await tx.users.update(changed);
    await tx.linkTokens.useAll(user.id, ['reset_password'], s.now());
    await endCredentialsIn(s, tx, changed, {
      type: 'password.reset', source: { ip: source, via: 'reset' },
      notice: {
        subject: 'Your Alias password was reset',
        lines: ['The password of your Alias account was reset with a link mailed to this address.', RESET_ENDS],
        after: ['If this was not you, reset your password again at once with “Forgot your password?” on the sign-in page.'],
      },
    });
    return { ok: true, user: changed };
  });
  if (result.ok) kickAfterCredentialChange(s);
  return result;
}

/**
 * A reset link adds a new passkey instead of a password (issue 15 §1: "reset by mail lets
 * the person add a new one"). `made` verifies the registration (passkeys.verifyNew, for
 * the link's account); then, in one transaction, the link is used, the passkey stored, the
 * address counts as proven, and every session and token ends as after a password reset.
 */
export async function resetWithPasskey(s: AccountServices, secret: string, made: (user: User) => Promise<NewPasskey>,
  source: string): Promise<ResetResult> {
  const seen = await peekLink(s, 'reset_password', secret);
  if (!seen.ok) return seen;
  const verified = await made(seen.user);
  if (!verified.ok) return { ok: false, reason: 'passkey', failure: verified };
  const { passkey } = verified;
  const result = await s.store.transaction(async (tx): Promise<ResetResult> => {
    const used = await s.links.use(tx.linkTokens, 'reset_password', secret);
    if (!used.ok) return used;
    const user = await tx.users.get(used.token.userId);
    if (!user || user.id !== passkey.userId) return { ok: false, reason: 'unknown' };
    // A crafted response can name a credential id somebody registered: refused, the link kept unused by the rollback.
    if (await tx.passkeys.getByCredentialId(passkey.credentialId)) throw new DuplicatePasskey();
    await tx.passkeys.insert(passkey);
    const changed = { ...user, emailVerified: true, updatedAt: s.now() };
    await tx.users.update(changed);
    await tx.linkTokens.useAll(user.id, ['reset_password'], s.now());
    await endCredentialsIn(s, tx, changed, {
      type: 'password.reset', source: { ip: source, via: 'reset' }, detail: { method: 'passkey' },
      notice: {
        subject: 'A passkey was added to your Alias account',
        lines: [`A passkey named “${passkey.name}” was added to your Alias account with a reset link mailed to this address. It can now sign you in.`, RESET_ENDS],
        after: ['If this was not you, ask for a reset link again at once with “Forgot your password?” on the sign-in page, and remove that passkey.'],
      },
    });
    return { ok: true, user: changed };
  }).catch((err: unknown) => {
    if (err instanceof DuplicatePasskey) return { ok: false, reason: 'passkey', failure: { ok: false, reason: 'duplicate', message: 'this passkey is already registered' } } as const;
    throw err;
  });
  if (result.ok) kickAfterCredentialChange(s);
  return result;
}

class DuplicatePasskey extends Error {}
