// OpenID Connect Back-Channel Logout 1.0: when a user's session ends, every client of
// theirs with a registered backchannel_logout_uri gets a signed logout_token. Deliveries
// go through a durable queue (logout_deliveries) with leases and retries, so a slow or
// dead client never blocks the user's logout, and nothing queued is lost on a restart.
import { randomBytes } from 'node:crypto';
import { signJwt } from '../tokens/jws.js';
import type { Store } from '../store/store.js';
import type { KeyService } from '../tokens/keys.js';
import { createPoller } from '../queue/poller.js';
import { claimAndWork } from '../queue/claimed.js';
import type { SigningAlg } from '../oauth/signing_algs.js';

export const LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
const LEASE_MS = 30_000;
const TIMEOUT_MS = 5_000;
const MAX_ATTEMPTS = 8;
const BATCH = 20;
/** Deliveries of a batch in flight at once. */
const CONCURRENCY = 10;

export interface Backchannel {
  /** Queues logout tokens for the user's clients; call in the transaction that ends the session. */
  enqueueForUser(tx: Store, userId: string): Promise<number>;
  /**
   * Delivers what is due; returns how many deliveries were claimed. Once `signal` is
   * aborted, claimed deliveries not yet started are released for another node.
   */
  runOnce(signal?: AbortSignal): Promise<number>;
  /** Runs deliveries every `intervalMs` (and at once after a logout) until stopped. */
  start(intervalMs?: number): void;
  /** Asks the running worker to look at the queue now. */
  kick(): void;
  /** Stops claiming, releases claimed deliveries not yet started, waits for those in flight. */
  stop(): Promise<void>;
}

/**
 * §2.4: signed with the keys that sign ID tokens, and with the client's ID token algorithm,
 * since the RP validates it "in the same way that an ID Token signature is validated" (§2.6).
 */
export function logoutToken(keys: Pick<KeyService, 'signingKey'>, issuer: string, client: { id: string; idTokenSignedResponseAlg: SigningAlg },
  sub: string, now: number): Promise<string> {
  return keys.signingKey(client.idTokenSignedResponseAlg).then((key) => {
    const iat = Math.floor(now / 1000);
    // §2.4: iss, aud, iat, exp, jti, events, and sub (or sid); never a nonce.
    return signJwt(key, { typ: 'logout+jwt' }, {
      events: { [LOGOUT_EVENT]: {} }, iss: issuer, aud: client.id, sub, iat, exp: iat + 120, jti: randomBytes(16).toString('base64url'),
    });
  });
}

/**
 * What the back-channel worker uses: the client and delivery tables (enqueueing runs in
 * the caller's transaction), the ID token signing keys, the issuer and the clock.
 */
export interface BackchannelDeps {
  store: Pick<Store, 'clients' | 'logoutDeliveries'>;
  keys: Pick<KeyService, 'signingKey'>;
  issuer: string;
  now: () => number;
  log?: (msg: string, fields: Record<string, unknown>) => void;
}

export function createBackchannel(deps: BackchannelDeps): Backchannel {
  const { store, now } = deps;

  async function deliver(row: { id: string; clientId: string; sub: string; attempts: number }): Promise<void> {
    const client = await store.clients.get(row.clientId);
    const attempts = row.attempts + 1;
    if (!client?.backchannelLogoutUri) {
      await store.logoutDeliveries.settle(row.id, { status: 'failed', attempts, nextAttemptAt: now(), lastError: 'client has no back-channel logout URI' });
      return;
    }
    let error: string | null = null;
    try {
      const token = await logoutToken(deps.keys, deps.issuer, client, row.sub, now());
      const res = await fetch(client.backchannelLogoutUri, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ logout_token: token }),
        redirect: 'manual',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      // The body means nothing here (§2.8): discarded unread, so a client streaming without
      // end neither holds the delivery nor fills memory (issue 16 item 12). Cancelling
      // closes the connection.
      await res.body?.cancel().catch(() => undefined);
      // §2.8: the RP answers 200 (204 is common too); anything else is a failure to retry.
      if (res.status < 200 || res.status >= 300) error = `HTTP ${res.status}`;
    } catch (err) {
      error = (err as Error).name === 'TimeoutError' ? 'timed out' : (err as Error).message;
    }
    if (error === null) {
      await store.logoutDeliveries.settle(row.id, { status: 'delivered', attempts, nextAttemptAt: now(), lastError: null });
      return;
    }
    deps.log?.('back-channel logout delivery failed', { client_id: client.id, attempts, error });
    const status = attempts >= MAX_ATTEMPTS ? 'failed' : 'pending';
    // Back-off: 5 s, 10 s, 20 s, … up to an hour.
    const delay = Math.min(5_000 * 2 ** (attempts - 1), 3_600_000);
    await store.logoutDeliveries.settle(row.id, { status, attempts, nextAttemptAt: now() + delay, lastError: error });
  }

  function runOnce(signal: AbortSignal = new AbortController().signal): Promise<number> {
    return claimAndWork(store.logoutDeliveries, {
      now: now(), leaseMs: LEASE_MS, batch: BATCH, concurrency: CONCURRENCY, signal, work: deliver,
      // A database error while settling: the lease runs out and the delivery is retried.
      onError: (row, err) => deps.log?.('back-channel logout delivery error', { delivery_id: row.id, error: (err as Error).message }),
    });
  }

  const poller = createPoller(runOnce, {
    batch: BATCH,
    onError: (err, failures, retryInMs) =>
      deps.log?.('back-channel logout worker error', { error: (err as Error).message, failures, retry_in_ms: retryInMs }),
    onRecover: (failures) => deps.log?.('back-channel logout worker resumed', { failures }),
  });

  return {
    async enqueueForUser(tx, userId) {
      const grants = await tx.grants.listByUser(userId);
      const rows = [];
      for (const g of grants) {
        const client = await tx.clients.get(g.clientId);
        if (!client?.backchannelLogoutUri) continue;
        rows.push({ id: randomBytes(16).toString('hex'), clientId: g.clientId, sub: g.sub, status: 'pending' as const,
          attempts: 0, nextAttemptAt: now(), leaseUntil: null, lastError: null, createdAt: now() });
      }
      await tx.logoutDeliveries.enqueue(rows);
      return rows.length;
    },
    runOnce,
    start: poller.start,
    kick: poller.kick,
    stop: poller.stop,
  };
}
