// E-mail change (issue 14 §4). A new address takes effect only once the link mailed to
// it (/confirm-email/TOKEN, change_email, 24 h) is used; the old address then gets a
// notice with a link (/cancel-email-change/TOKEN, cancel_email_change, 7 days) that puts
// the old address back and ends every session and token of the account. Asking needs the
// current password. A new address that already has an account gets the same answer; its
// owner is told, the account is not changed (no enumeration).
import type { AccountServices } from './services.js';
import type { User } from '../store/types.js';
import { countEvent, type ThrottlePolicy } from '../throttle/throttle.js';
import { accountMail } from '../mail/account_mail.js';
import { endCredentialsIn, kickAfterCredentialChange } from './credential_change.js';
import { EMAIL_SHAPE, MAX_EMAIL_LENGTH, peekLink } from './recovery.js';

/** Change requests per account (each mails an address the person typed): 5 an hour (the 6th is refused). */
/** 5 requests an hour (countEvent lets `allowed` through), then 1 minute doubling to an hour. */
export const EMAIL_CHANGE_POLICY: ThrottlePolicy = { allowed: 5, windowMs: 60 * 60_000, baseBlockMs: 60_000, maxBlockMs: 60 * 60_000 };

export type EmailChangeRequest =
  | { ok: true; newEmail: string }
  | { ok: false; reason: 'bad_email' | 'same' | 'wrong_password'; message: string }
  | { ok: false; reason: 'throttled'; retryAfter: number };

/** `password: null`: an account without a password, whose caller checked a recent sign-in instead (accounts/reauth.ts). */
export async function requestEmailChange(s: AccountServices, user: User, input: { newEmail: string; password: string | null; source: string }):
  Promise<EmailChangeRequest> {
  const newEmail = input.newEmail.trim().toLowerCase();
  if (newEmail.length > MAX_EMAIL_LENGTH || !EMAIL_SHAPE.test(newEmail)) {
    return { ok: false, reason: 'bad_email', message: 'This is not an e-mail address.' };
  }
  if (newEmail === user.email) return { ok: false, reason: 'same', message: 'This is already your address.' };
  // Counted before any work: each request mails an address of the person's choosing.
  const key = `email-change:${user.id}`;
  const counted = await countEvent(s.throttle, [{ key, policy: EMAIL_CHANGE_POLICY }]);
  if (!counted.ok) return { ok: false, reason: 'throttled', retryAfter: counted.retryAfter };
  const checked = input.password === null && user.passwordHash === null ? { ok: true } as const
    : await s.accounts.login(user.email, input.password ?? '', input.source, { via: 'email_change' });
  if (!checked.ok) {
    return checked.reason === 'throttled' ? checked : { ok: false, reason: 'wrong_password', message: 'The current password is wrong.' };
  }
  const owner = await s.store.users.getByEmail(newEmail);
  await s.store.transaction(async (tx) => {
    if (owner) {
      // Taken: the owner of that address hears of it; nothing changes; the answer is the same.
      const mail = accountMail({ to: owner.email, subject: 'Someone tried to move an Alias account to your address',
        lines: ['Someone signed in to another Alias account asked to change its address to this one, which already has an Alias account: yours.',
          'Nothing was changed, and your account stays as it is.'],
        after: ['If you have two accounts, you can ignore this mail.'] }, s.config.issuer);
      await s.accountMail.enqueue(tx.mailOutbox, { ...mail, userId: owner.id, purpose: 'change_email_taken' });
      await s.audit.record({ type: 'email.change_requested', outcome: 'failure', userId: user.id, ip: input.source,
        detail: 'reason=taken via=account' }, tx);
      return;
    }
    await tx.linkTokens.useAll(user.id, ['change_email'], s.now());
    const secret = await s.links.issue(tx.linkTokens, 'change_email', user.id, { email: newEmail });
    const mail = accountMail({ to: newEmail, subject: 'Confirm your new Alias address',
      lines: [`Someone (we hope you) asked to use this address for the Alias account now at ${user.email}.`,
        'The change takes effect when you open the link below (within 24 hours).'],
      link: { url: `${s.config.issuer}/confirm-email/${secret}`, label: 'Use this address' },
      after: ['If you did not ask for this, ignore this mail: nothing changes.'] }, s.config.issuer);
    await s.accountMail.enqueue(tx.mailOutbox, { ...mail, userId: user.id, purpose: 'change_email' });
    await s.audit.record({ type: 'email.change_requested', userId: user.id, ip: input.source, detail: 'via=account' }, tx);
  });
  s.accountMail.kick();
  return { ok: true, newEmail };
}

export type EmailLinkResult =
  | { ok: true; user: User }
  | { ok: false; reason: 'unknown' | 'used' | 'expired' | 'taken' };

class Taken extends Error {}

/** /confirm-email/TOKEN (POST): the new address takes effect; the old one gets the cancel link. */
export async function confirmEmailChange(s: AccountServices, secret: string, source: string): Promise<EmailLinkResult> {
  const seen = await peekLink(s, 'change_email', secret);
  if (!seen.ok) return seen;
  try {
    const result = await s.store.transaction(async (tx): Promise<EmailLinkResult> => {
      const used = await s.links.use(tx.linkTokens, 'change_email', secret);
      if (!used.ok) return used;
      const user = await tx.users.get(used.token.userId);
      const newEmail = used.token.data.email;
      if (!user || !newEmail) return { ok: false, reason: 'unknown' };
      const other = await tx.users.getByEmail(newEmail);
      if (other && other.id !== user.id) throw new Taken();
      const t = s.now();
      const changed: User = { ...user, email: newEmail, emailVerified: true, updatedAt: t };
      await tx.users.update(changed);
      await tx.linkTokens.useAll(user.id, ['change_email'], t);
      const cancel = await s.links.issue(tx.linkTokens, 'cancel_email_change', user.id, { email: user.email, to: newEmail });
      const mail = accountMail({ to: user.email, subject: 'Your Alias address was changed',
        lines: [`The address of your Alias account was changed from ${user.email} to ${newEmail}.`,
          'Mail from Alias and from the apps you use now goes to the new address.'],
        link: { url: `${s.config.issuer}/cancel-email-change/${cancel}`, label: 'This was not me: undo the change' },
        after: ['The link works for 7 days. Undoing puts this address back and signs the account out everywhere.'] }, s.config.issuer);
      await s.accountMail.enqueue(tx.mailOutbox, { ...mail, userId: user.id, purpose: 'change_email_notice' });
      await s.audit.record({ type: 'email.changed', userId: user.id, ip: source, detail: 'via=link' }, tx);
      return { ok: true, user: changed };
    });
    if (result.ok) s.accountMail.kick();
    return result;
  } catch (err) {
    if (err instanceof Taken) return { ok: false, reason: 'taken' };
    // A concurrent change took the address between the check and the update.
    const newEmail = seen.token.data.email;
    const other = newEmail ? await s.store.users.getByEmail(newEmail) : undefined;
    if (other && other.id !== seen.user.id) return { ok: false, reason: 'taken' };
    throw err;
  }
}

/** /cancel-email-change/TOKEN (POST): the old address comes back; every session and token ends. */
export async function cancelEmailChange(s: AccountServices, secret: string, source: string): Promise<EmailLinkResult> {
  const seen = await peekLink(s, 'cancel_email_change', secret);
  if (!seen.ok) return seen;
  try {
    const result = await s.store.transaction(async (tx): Promise<EmailLinkResult> => {
      const used = await s.links.use(tx.linkTokens, 'cancel_email_change', secret);
      if (!used.ok) return used;
      const user = await tx.users.get(used.token.userId);
      const oldEmail = used.token.data.email;
      if (!user || !oldEmail) return { ok: false, reason: 'unknown' };
      const other = await tx.users.getByEmail(oldEmail);
      if (other && other.id !== user.id) throw new Taken();
      const t = s.now();
      const restored: User = { ...user, email: oldEmail, emailVerified: true, updatedAt: t };
      await tx.users.update(restored);
      // Pending changes and other undo links go too.
      await tx.linkTokens.useAll(user.id, ['change_email', 'cancel_email_change'], t);
      await endCredentialsIn(s, tx, restored, {
        type: 'email.change_cancelled', source: { ip: source, via: 'link' },
        notice: {
          subject: 'The change of your Alias address was undone',
          lines: [`The address of your Alias account is ${oldEmail} again.`,
            'Every browser was signed out, and every app you use has to ask you to sign in again.'],
          after: ['If someone else changed your address, they may know your password: choose a new one with “Forgot your password?” on the sign-in page.'],
        },
      });
      return { ok: true, user: restored };
    });
    if (result.ok) kickAfterCredentialChange(s);
    return result;
  } catch (err) {
    if (err instanceof Taken) return { ok: false, reason: 'taken' };
    throw err;
  }
}
