// Enrolling or removing a sign-in factor (a passkey, TOTP, a new set of recovery codes)
// is an audit event and sends the person a notice mail (issue 15 §Security). The event and
// the mail are written in the transaction of the change itself, so a change never happens
// without its record and its notice, and a rolled-back change leaves neither; the mail
// worker is kicked only once the transaction committed. Every factor module goes through
// `changeFactor`, so that order is written once.
import type { Store } from '../store/store.js';
import type { User } from '../store/types.js';
import type { Audit, AuditEntry } from '../audit/audit.js';
import type { AccountMailer } from '../mail/outbox.js';
import { accountMail, type AccountMailInput } from '../mail/account_mail.js';

export interface FactorChangeDeps {
  store: Store;
  audit: Audit;
  accountMail: Pick<AccountMailer, 'enqueue' | 'kick'>;
  issuer: string;
}

/** What a change that happened records: its event (the user is filled in) and its notice (to the account's address). */
export interface FactorChangeRecord<T> {
  value: T;
  event: Omit<AuditEntry, 'userId'>;
  /** The mail's purpose (the outbox's label) and its text. */
  notice: { purpose: string } & Omit<AccountMailInput, 'to'>;
}

/**
 * Runs `change` for `userId` in one transaction. `change` returns undefined when nothing
 * changed (nothing is recorded, the result is undefined), or the value with its record.
 * The account is read inside the transaction; without one, nothing runs.
 */
export async function changeFactor<T>(deps: FactorChangeDeps, userId: string,
  change: (tx: Store, user: User) => Promise<FactorChangeRecord<T> | undefined>): Promise<T | undefined> {
  const done = await deps.store.transaction(async (tx) => {
    const user = await tx.users.get(userId);
    if (!user) return undefined;
    const record = await change(tx, user);
    if (!record) return undefined;
    await deps.audit.record({ ...record.event, userId }, tx);
    const { purpose, ...mail } = record.notice;
    await deps.accountMail.enqueue(tx.mailOutbox, { ...accountMail({ ...mail, to: user.email }, deps.issuer), userId, purpose });
    return { value: record.value };
  });
  if (!done) return undefined;
  deps.accountMail.kick();
  return done.value;
}
