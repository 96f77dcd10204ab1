// Account mails wait in the mail outbox until the delivery worker (the relay's, on any
// node) sends them, so no request waits for SMTP and a failed send is retried. The whole
// mail is sealed at rest (it carries single-use links) and deleted once sent.
import { randomUUID } from 'node:crypto';
import type { SendMailOptions } from 'nodemailer';
import type { OutboxMail } from '../store/types.js';
import type { MailOutboxRepo } from '../store/store.js';
import { claimAndWork } from '../queue/claimed.js';
import { describeMailError, isPermanentMailError, type MailTransport } from './transport.js';
import { accountMailFromName, type AccountMail } from './account_mail.js';

export interface Sealer {
  seal(plain: string, purpose: string): string;
  open(sealed: string, purpose: string): string;
}

const SEAL_PURPOSE = 'mail-outbox';
export const MAIL_MAX_ATTEMPTS = 12;
/** 5 s, 10 s, 20 s, … doubling up to an hour (as relayed messages). */
const retryDelay = (attempts: number): number => Math.min(5_000 * 2 ** (attempts - 1), 3_600_000);
const LEASE_MS = 120_000;
const BATCH = 10;
const CONCURRENCY = 3;

export interface AccountMailer {
  /** Queues a mail inside the caller's transaction; it leaves only if that commits. */
  enqueue(repo: Pick<MailOutboxRepo, 'insert'>, mail: AccountMail & { userId: string | null; purpose: string }): Promise<void>;
  /** Sends what is due once; returns how many mails were claimed. */
  runOnce(signal?: AbortSignal): Promise<number>;
  /** Tells the delivery worker to look now; call it after the enqueuing transaction committed. */
  kick(): void;
}

export interface AccountMailerDeps {
  outbox: MailOutboxRepo;
  sealer: Sealer;
  transport: MailTransport;
  issuer: string;
  /** The envelope and From address. */
  from: string;
  now: () => number;
  /** Wakes the delivery worker (set once the worker exists). */
  kick?: () => void;
  log?: (msg: string, fields: Record<string, unknown>) => void;
}

export function createAccountMailer(deps: AccountMailerDeps): AccountMailer {
  const { outbox, sealer, transport, now } = deps;
  const host = deps.from.slice(deps.from.lastIndexOf('@') + 1);

  async function deliver(row: OutboxMail): Promise<void> {
    const attempts = row.attempts + 1;
    const fail = (error: string, permanent: boolean) => {
      const give = permanent || attempts >= MAIL_MAX_ATTEMPTS;
      deps.log?.(give ? 'account mail failed for good' : 'account mail failed; will retry',
        { mail_id: row.id, purpose: row.purpose, attempts, error });
      return outbox.settle(row.id, { status: give ? 'failed' : 'queued', attempts,
        nextAttemptAt: now() + (give ? 0 : retryDelay(attempts)), lastError: error });
    };
    let mail: AccountMail;
    try {
      mail = JSON.parse(sealer.open(row.sealed, SEAL_PURPOSE)) as AccountMail;
    } catch (err) {
      return fail(`cannot open the sealed mail: ${(err as Error).message}`, true);
    }
    // Without a transport the mail waits (it may be sent once the operator sets one).
    if (transport.kind === 'none') return fail('no mail transport is configured', false);
    const message: SendMailOptions = {
      from: { name: accountMailFromName(deps.issuer), address: deps.from },
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      html: mail.html,
      messageId: `<${row.id}@${host}>`,
      date: new Date(row.createdAt),
      headers: { 'Auto-Submitted': 'auto-generated', 'X-Alias-Mail': row.purpose },
      envelope: { from: deps.from, to: mail.to },
    };
    try {
      await transport.send(message);
    } catch (err) {
      return fail(describeMailError(err), isPermanentMailError(err));
    }
    await outbox.remove(row.id);
  }

  return {
    async enqueue(repo, mail) {
      const { userId, purpose, ...content } = mail;
      await repo.insert({
        id: randomUUID(), userId, purpose, sealed: sealer.seal(JSON.stringify(content), SEAL_PURPOSE),
        status: 'queued', attempts: 0, nextAttemptAt: now(), leaseUntil: null, lastError: null, createdAt: now(),
      });
    },
    kick: () => deps.kick?.(),
    runOnce(signal = new AbortController().signal) {
      return claimAndWork(outbox, {
        now: now(), leaseMs: LEASE_MS, batch: BATCH, concurrency: CONCURRENCY, signal, work: deliver,
        onError: (m, err) => deps.log?.('account mail error', { mail_id: m.id, error: (err as Error).message }),
      });
    },
  };
}
