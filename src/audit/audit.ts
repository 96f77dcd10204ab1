// Records security events in the append-only audit log (issue 5, "Hardening"). The log
// names people only the way the apps they use do: by their alias ID (pairwise `sub`) at
// that app. Addresses, and users in events without an app, are keyed digests (HMAC under
// keys derived from ALIAS_SECRET), so a copy of the table alone names nobody and reveals
// no address, while an operator holding the secret can still search it
// (`aliasid audit --user`). Never pass secrets, tokens, passwords or e-mail addresses.
import { randomToken } from '../crypto/random.js';
import type { Secrets } from '../crypto/secrets.js';
import type { Store } from '../store/store.js';
import type { AuditEvent, AuditEventType } from '../store/types.js';

export interface AuditEntry {
  type: AuditEventType;
  /** Defaults to success. */
  outcome?: AuditEvent['outcome'];
  clientId?: string | null;
  /** The user concerned: stored as their alias ID at `clientId`, or as `userRef` when there is no client. */
  userId?: string | null;
  /** The alias ID, when the caller already has it (a grant's `sub`). */
  sub?: string | null;
  /** The caller's address (request.ip); only its keyed digest is stored. */
  ip?: string | null;
  /** Short and secret-free: `key=value` pairs from a fixed vocabulary (see README, "Audit log"). */
  detail?: string | null;
}

/** Where a request came from, for events recorded deep in a service. */
export interface AuditSource {
  ip?: string | null;
  /** Which surface acted: account, unsubscribe, authorize, … */
  via?: string;
}

export interface Audit {
  /** Appends one event; inside `tx` when given, so it commits or rolls back with the change it records. */
  record(entry: AuditEntry, tx?: Store): Promise<void>;
  /** The stored form of `entry`, for a store method that writes it with its change. */
  event(entry: AuditEntry): AuditEvent;
  /** The digest that stands for a user in events without a client. */
  userRef(userId: string): string;
  /** The user's alias ID at a client (the same as the `sub` the client sees). */
  subOf(clientId: string, userId: string): string;
}

export const USER_PURPOSE = 'audit-user';
export const IP_PURPOSE = 'audit-ip';

/** Addresses whose digest is kept in memory: a busy client's requests come from a few. */
const IP_DIGESTS_MAX = 4096;

export function createAudit(deps: { store: Store; secrets: Secrets; pairwise: (clientId: string, userId: string) => string; now: () => number }): Audit {
  const userRef = (userId: string) => deps.secrets.mac(USER_PURPOSE, userId);
  // Every token issued records an event with its caller's address digest: an HMAC per
  // request (about 4 µs of a 100 µs client-credentials request, bench/README.md) for the
  // same few addresses. Kept in memory only, where the key is anyway; emptied when full.
  const ipDigests = new Map<string, string>();
  const ipDigest = (ip: string): string => {
    // An address is at most 45 characters (IPv6 with an embedded IPv4); anything longer
    // (a misconfigured proxy setting passing a header through) is digested, not kept.
    if (ip.length > 64) return deps.secrets.mac(IP_PURPOSE, ip);
    let d = ipDigests.get(ip);
    if (d === undefined) {
      if (ipDigests.size >= IP_DIGESTS_MAX) ipDigests.clear();
      d = deps.secrets.mac(IP_PURPOSE, ip);
      ipDigests.set(ip, d);
    }
    return d;
  };
  const event = (e: AuditEntry): AuditEvent => {
    const clientId = e.clientId ?? null;
    const sub = e.sub ?? (clientId && e.userId ? deps.pairwise(clientId, e.userId) : null);
    return {
      id: randomToken(12),
      at: deps.now(),
      type: e.type,
      outcome: e.outcome ?? 'success',
      clientId,
      sub,
      // Only without an alias ID: an event at a client is found through the alias ID,
      // and storing both would link the user's IDs at different clients in the log.
      userRef: !sub && e.userId ? userRef(e.userId) : null,
      ipDigest: e.ip ? ipDigest(e.ip) : null,
      detail: e.detail ?? null,
    };
  };
  return {
    userRef,
    subOf: deps.pairwise,
    event,
    async record(e, tx = deps.store) {
      await tx.audit.append(event(e));
    },
  };
}

/** `key=value` detail text; lists joined by commas, empty values left out. */
export function detail(fields: Record<string, string | string[] | undefined>): string {
  return Object.entries(fields)
    .map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v] as const)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}
