// What happens after a credential of an account changes (a password reset, a password
// change on /account, a cancelled e-mail change): RFC 9700 §4.14.2 names such an event
// as one that must end what was granted before. In ONE transaction with the change
// itself: every session of the account ends (but the one that made the change, when it
// is kept), every refresh and access token of every app is revoked, apps with a
// back-channel logout URI are told, the event is audited and a notice mail is queued to
// the account's address. The mail and logout workers are kicked once it commits.
import type { AccountServices } from './services.js';
import type { Store } from '../store/store.js';
import type { AuditEventType, User } from '../store/types.js';
import { detail, type AuditSource } from '../audit/audit.js';
import { accountMail, type AccountMailInput } from '../mail/account_mail.js';
import { hashPassword } from './passwords.js';
import { passwordProblem } from './password_policy.js';
import { changeFactor } from './factor_change.js';

/** Why a new password may not be used (sign-up rules; the account's address and nickname count as easy guesses). */
export const newPasswordProblem = (password: string, user: Pick<User, 'email' | 'nickname'>): string | undefined =>
  passwordProblem(password, [user.email, user.nickname ?? ''].filter(Boolean));

/** What the account page says after a password change (issue 16 item 4: say so on the page). */
export const PASSWORD_CHANGED_NOTICE = 'Password changed. Every other browser was signed out and every app’s tokens were revoked; '
  + 'this browser stays signed in. Apps will ask you to sign in again.';

export interface CredentialChange {
  type: Extract<AuditEventType, 'password.reset' | 'password.changed' | 'email.change_cancelled'>;
  /** The session (its `idDigest`) that made the change and stays signed in; none ends every session. */
  keepSessionId?: string;
  source?: AuditSource;
  /** The notice to the account's address (`to` is filled in). */
  notice: Omit<AccountMailInput, 'to'>;
  /** Extra audit detail (`key=value`, from a fixed vocabulary). */
  detail?: Record<string, string>;
}

/**
 * Inside `tx`: ends sessions, revokes tokens, queues back-channel logouts, audits and
 * queues the notice (to `user.email` as given: the address after the change). Call
 * `kickAfterCredentialChange(s)` once the transaction commits.
 */
export async function endCredentialsIn(s: AccountServices, tx: Store, user: User, change: CredentialChange): Promise<void> {
  const t = s.now();
  const kept = change.keepSessionId ? await tx.sessions.get(change.keepSessionId, t) : undefined;
  await tx.sessions.deleteByUser(user.id);
  // The store deletes by user only: the kept session goes back as it was.
  if (kept && kept.userId === user.id) await tx.sessions.insert(kept);
  await tx.families.revokeByUser(user.id, t);
  await s.backchannel.enqueueForUser(tx, user.id);
  await s.audit.record({ type: change.type, userId: user.id, ip: change.source?.ip,
    detail: detail({ sessions: kept ? 'others' : 'all', tokens: 'revoked', ...change.detail, via: change.source?.via }) }, tx);
  const mail = accountMail({ ...change.notice, to: user.email }, s.config.issuer);
  await s.accountMail.enqueue(tx.mailOutbox, { ...mail, userId: user.id, purpose: change.type });
}

/** After the transaction of `endCredentialsIn` committed: logout notices and the mail go out. */
export function kickAfterCredentialChange(s: AccountServices): void {
  s.backchannel.kick();
  s.accountMail.kick();
}

export type PasswordChangeResult =
  | { ok: true }
  | { ok: false; reason: 'invalid' | 'weak'; message?: string }
  | { ok: false; reason: 'throttled'; retryAfter: number };

/**
 * The password change on /account (issue 16 item 4): checks the current password (counted
 * like a sign-in), the new one like sign-up, then stores it and ends every OTHER session
 * and every token, keeping `sessionId` (the browser that asked) signed in.
 */
export async function changePasswordEverywhere(s: AccountServices, input: { userId: string; sessionId: string; current: string;
  next: string; source: string }): Promise<PasswordChangeResult> {
  const user = await s.accounts.get(input.userId);
  if (!user) return { ok: false, reason: 'invalid' };
  const weak = newPasswordProblem(input.next, user);
  if (weak) return { ok: false, reason: 'weak', message: weak };
  const checked = await s.accounts.login(user.email, input.current, input.source, { via: 'password_change' });
  if (!checked.ok) return checked;
  const passwordHash = await hashPassword(input.next);
  await s.store.transaction(async (tx) => {
    const now = await tx.users.get(user.id);
    if (!now) return;
    await tx.users.update({ ...now, passwordHash, updatedAt: s.now() });
    await endCredentialsIn(s, tx, now, {
      type: 'password.changed', keepSessionId: input.sessionId, source: { ip: input.source, via: 'account' },
      notice: {
        subject: 'Your Alias password was changed',
        lines: ['The password of your Alias account was changed on the account page.',
          'Every other browser was signed out, and every app you use has to ask you to sign in again.'],
        after: ['If this was not you, reset your password at once with “Forgot your password?” on the sign-in page.'],
      },
    });
  });
  kickAfterCredentialChange(s);
  return { ok: true };
}

/**
 * A first password for an account that signs in with passkeys only (issue 15 §1): checked
 * like sign-up; the caller checked a recent sign-in. Adding a way in ends nothing; it is
 * audited and the person is mailed (accounts/factor_change.ts). False when the account
 * has a password already (the change form applies then).
 */
export async function setFirstPassword(s: AccountServices, input: { userId: string; next: string; source: string }):
  Promise<{ ok: true } | { ok: false; reason: 'weak'; message: string } | { ok: false; reason: 'exists' }> {
  const user = await s.accounts.get(input.userId);
  if (!user || user.passwordHash !== null) return { ok: false, reason: 'exists' };
  const weak = newPasswordProblem(input.next, user);
  if (weak) return { ok: false, reason: 'weak', message: weak };
  const passwordHash = await hashPassword(input.next);
  const set = await changeFactor({ ...s, issuer: s.config.issuer }, user.id, async (tx, now) => {
    if (now.passwordHash !== null) return undefined;
    await tx.users.update({ ...now, passwordHash, updatedAt: s.now() });
    return { value: true,
      event: { type: 'password.changed', ip: input.source, detail: detail({ first: 'yes', via: 'account' }) },
      notice: { purpose: 'password.set', subject: 'A password was set for your Alias account',
        lines: ['Your Alias account, which signed in with passkeys only, now has a password too. Either can sign you in.'],
        after: ['If this was not you, reset your password at once with “Forgot your password?” on the sign-in page.'] } };
  });
  return set ? { ok: true } : { ok: false, reason: 'exists' };
}
