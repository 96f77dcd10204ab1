// Account deletion (GDPR Art. 17): the account and everything tied to it go in one
// transaction — grants, codes, tokens, device codes, sessions, inbox, mailed links,
// queued mails (store.users.delete). Every app the person had a grant with and that
// registered a back-channel logout URI gets a logout token naming the alias ID; those
// deliveries are queued first, in the same transaction, since the alias ID lives on the
// grant about to be deleted. Every token is gone at once: introspection answers
// {"active":false}, userinfo 401, the relay 404 for the alias ID. The audit log keeps its
// rows (alias IDs and keyed digests only) and records `account.deleted`. The address is
// free again; a new account there has a new id, hence new alias IDs everywhere.
import type { Store } from '../store/store.js';
import type { Audit, AuditSource } from '../audit/audit.js';
import { detail } from '../audit/audit.js';
import type { Backchannel } from '../logout/backchannel.js';
import type { AccountMailer } from '../mail/outbox.js';
import { accountMail } from '../mail/account_mail.js';

export interface DeletionDeps {
  store: Store;
  audit: Audit;
  backchannel: Pick<Backchannel, 'enqueueForUser' | 'kick'>;
  accountMail: Pick<AccountMailer, 'enqueue' | 'kick'>;
  issuer: string;
}

/** Deletes the account; false when there was none (already deleted). */
export async function deleteAccount(deps: DeletionDeps, userId: string, source: AuditSource = {}): Promise<boolean> {
  const deleted = await deps.store.transaction(async (tx) => {
    const user = await tx.users.get(userId);
    if (!user) return false;
    const apps = (await tx.grants.listByUser(userId)).length;
    const notified = await deps.backchannel.enqueueForUser(tx, userId);
    // Without a client: stored under the keyed user digest, which no longer resolves to
    // anyone once the id is gone (only an operator holding the old id could search it).
    await deps.audit.record({ type: 'account.deleted', userId, ip: source.ip,
      detail: detail({ via: source.via, apps: String(apps), notified: String(notified) }) }, tx);
    if (!(await tx.users.delete(userId))) return false;
    // The notice goes to the old address, attached to no account (the row outlives it).
    await deps.accountMail.enqueue(tx.mailOutbox, {
      ...accountMail({
        to: user.email,
        subject: 'Your Alias account was deleted',
        lines: ['Your Alias account and everything tied to it were deleted: the apps you used with it, their access, your inbox and your sessions.',
          'The apps that asked to be told were told.'],
        after: ['If you did not ask for this, someone knew your password: you can sign up again with this address, as a new account.'],
      }, deps.issuer),
      userId: null, purpose: 'account_deleted',
    });
    return true;
  });
  if (deleted) {
    deps.backchannel.kick();
    deps.accountMail.kick();
  }
  return deleted;
}
