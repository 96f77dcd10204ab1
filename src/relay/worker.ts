// The relay's delivery worker: claims due outbox rows with a lease (several workers on
// several nodes never hold the same message), sends each over SMTP, and retries with
// back-off. Without ALIAS_SMTP_URL a message is marked sent as soon as it is claimed:
// it lives in the user's inbox on the account page only.
import type { Store } from '../store/store.js';
import type { Message } from '../store/types.js';
import type { Secrets } from '../crypto/secrets.js';
import { composeMail, defaultFrom } from './mail.js';
import { grantAllows } from './relay.js';
import { unsubscribeToken, unsubscribeUrl } from './unsubscribe_token.js';
import { META_CHANNEL } from '../oauth/scopes.js';
import { createPoller } from '../queue/poller.js';
import { claimAndWork } from '../queue/claimed.js';
import { describeMailError, isPermanentMailError, type MailTransport } from '../mail/transport.js';

/** Longer than the worst case of one attempt (connect + greeting + send timeouts). */
export const LEASE_MS = 120_000;
export const MAX_ATTEMPTS = 12;
const BATCH = 10;
/** Messages of a batch in flight at once (SMTP connections per worker). */
const CONCURRENCY = 5;

/** 5 s, 10 s, 20 s, … doubling up to an hour. */
export const retryDelay = (attempts: number): number => Math.min(5_000 * 2 ** (attempts - 1), 3_600_000);

export interface RelayWorker {
  /**
   * Delivers what is due once, relayed messages then account mails; returns the larger of
   * the two counts claimed (a full batch of either means more may be due). Once `signal`
   * is aborted, claimed rows not yet started are released for another worker.
   */
  runOnce(signal?: AbortSignal): Promise<number>;
  /** Polls every `intervalMs` (at most 1 s by default) until stopped. */
  start(intervalMs?: number): void;
  /** Looks at the outbox now (called after each acceptance). */
  kick(): void;
  /** Stops claiming, releases claimed messages not yet started, waits for the sends in flight. */
  stop(): Promise<void>;
  /** True when messages are mailed (SMTP or .eml files); false when they stay in the inbox only. */
  readonly smtp: boolean;
}

/** What the delivery worker uses: the outbox and what a mail names, the secret for unsubscribe links, the clock. */
export interface RelayWorkerDeps {
  store: Pick<Store, 'messages' | 'users' | 'clients' | 'grants'>;
  secrets: Secrets;
  issuer: string;
  now: () => number;
  /** SMTP, .eml files, or none (the inbox only). */
  transport: MailTransport;
  /** From address; alias@ the issuer's host by default. */
  from?: string;
  /** Account mails, sent by the same worker after each round of relayed messages. */
  accountMails?: { runOnce(signal?: AbortSignal): Promise<number> };
  log?: (msg: string, fields: Record<string, unknown>) => void;
}

export function createRelayWorker(deps: RelayWorkerDeps): RelayWorker {
  const { store, now } = deps;
  const from = deps.from ?? defaultFrom(deps.issuer);
  const host = from.slice(from.lastIndexOf('@') + 1);
  const { transport } = deps;

  async function settle(m: Message, attempts: number, outcome: { sent: true } | { error: string; permanent: boolean }) {
    if ('sent' in outcome) {
      await store.messages.settle(m.id, { status: 'sent', attempts, nextAttemptAt: now(), lastError: null, deliveredAt: now() });
      return;
    }
    const give = outcome.permanent || attempts >= MAX_ATTEMPTS;
    if (!give) deps.log?.('relay delivery failed; will retry', { message_id: m.id, attempts, error: outcome.error });
    else deps.log?.('relay delivery failed for good', { message_id: m.id, attempts, error: outcome.error });
    await store.messages.settle(m.id, {
      status: give ? 'failed' : 'queued', attempts, nextAttemptAt: now() + (give ? 0 : retryDelay(attempts)),
      lastError: outcome.error, deliveredAt: null,
    });
  }

  async function deliver(m: Message): Promise<void> {
    const attempts = m.attempts + 1;
    const [user, client, grant] = await Promise.all([
      store.users.get(m.userId), store.clients.get(m.clientId), store.grants.get(m.userId, m.clientId),
    ]);
    if (!user || !client) return settle(m, attempts, { error: 'the user or the application no longer exists', permanent: true });
    // Revocations made after acceptance still count: nothing is mailed on a channel the
    // user has since taken back (the message stays in the inbox).
    if (!grantAllows(grant, m.channel)) {
      return settle(m, attempts, { error: 'not mailed: the user revoked this channel before delivery', permanent: true });
    }
    // Issue 14 §2: nothing is mailed to an address nobody proved they own (the app got its
    // 202 and learns nothing; the message stays in the inbox).
    if (!user.emailVerified) return settle(m, attempts, { error: 'not mailed: the address is not confirmed', permanent: true });
    if (transport.kind === 'none') return settle(m, attempts, { sent: true });
    const mail = composeMail({
      message: m, user, client, from, host, accountUrl: `${deps.issuer}/account`,
      unsubscribeUrl: m.channel === META_CHANNEL ? undefined
        : unsubscribeUrl(deps.issuer, unsubscribeToken(deps.secrets, { userId: m.userId, clientId: m.clientId, channel: m.channel })),
    });
    try {
      await transport.send(mail);
    } catch (err) {
      return settle(m, attempts, { error: describeMailError(err), permanent: isPermanentMailError(err) });
    }
    return settle(m, attempts, { sent: true });
  }

  async function runOnce(signal: AbortSignal = new AbortController().signal): Promise<number> {
    const messages = await claimAndWork(store.messages, {
      now: now(), leaseMs: LEASE_MS, batch: BATCH, concurrency: CONCURRENCY, signal, work: deliver,
      // A database error while settling: the lease runs out and another attempt follows.
      onError: (m, err) => deps.log?.('relay delivery error', { message_id: m.id, error: (err as Error).message }),
    });
    // A full batch of either makes the poller run again at once (queue/poller.ts).
    const mails = deps.accountMails && !signal.aborted ? await deps.accountMails.runOnce(signal) : 0;
    return Math.max(messages, mails);
  }

  const poller = createPoller(runOnce, {
    batch: BATCH,
    onError: (err, failures, retryInMs) =>
      deps.log?.('relay worker error', { error: (err as Error).message, failures, retry_in_ms: retryInMs }),
    onRecover: (failures) => deps.log?.('relay worker resumed', { failures }),
  });

  return {
    runOnce,
    start: poller.start,
    kick: poller.kick,
    async stop() {
      await poller.stop();
      transport.close();
    },
    smtp: transport.kind !== 'none',
  };
}
