// The user's grants: what each user allowed each client (scopes × channels).
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/store.js';
import type { Grant } from '../store/types.js';
import { META_CHANNEL, subset, union } from '../oauth/scopes.js';
import { withMeta } from '../oauth/channels.js';
import type { PairwiseSubject } from '../tokens/pairwise.js';
import { detail, type Audit, type AuditSource } from '../audit/audit.js';

export interface ConsentDecision {
  userId: string;
  clientId: string;
  /** What the request asked for. */
  requestedScopes: string[];
  requestedChannels: string[];
  /** What the user ticked (a subset of the request). */
  approvedScopes: string[];
  approvedChannels: string[];
  /** Where the decision came from (audit log). */
  source?: AuditSource;
}

export interface Consent {
  find(userId: string, clientId: string): Promise<Grant | undefined>;
  /** Every app the user connected, with what each was granted (the account page). */
  list(userId: string): Promise<Grant[]>;
  /** True when the grant already covers every requested scope and channel. */
  covers(grant: Grant | undefined, scopes: string[], channels: string[]): boolean;
  /**
   * Stores the decision: the grant becomes what it was, plus what was approved now,
   * minus what was asked for now and left unticked (the latest choice wins). A grant that
   * changed is audited (`consent.granted`) in the same transaction.
   */
  record(decision: ConsentDecision, tx?: Store): Promise<Grant>;
  /**
   * The user takes back one scope or one channel. Effective at once: tokens are checked
   * against the grant on every use. Taking back `openid` takes back the whole app.
   * Returns false when the grant is not this user's. What was taken back is audited
   * (`consent.revoked`) in the same transaction.
   */
  revokeScope(userId: string, grantId: string, scope: string, source?: AuditSource): Promise<boolean>;
  revokeChannel(userId: string, grantId: string, channel: string, source?: AuditSource): Promise<boolean>;
  /** Deletes the grant; every code and token issued under it goes with it. */
  revokeApp(userId: string, grantId: string, source?: AuditSource): Promise<boolean>;
}

export function createConsent(store: Store, pairwise: PairwiseSubject, now: () => number, audit: Audit): Consent {
  const revoked = (tx: Store, g: Grant, what: Record<string, string>, source: AuditSource = {}) =>
    audit.record({ type: 'consent.revoked', clientId: g.clientId, sub: g.sub, ip: source.ip,
      detail: detail({ ...what, via: source.via }) }, tx);

  return {
    find: (userId, clientId) => store.grants.get(userId, clientId),
    list: (userId) => store.grants.listByUser(userId),
    covers(grant, scopes, channels) {
      if (!grant) return false;
      return subset(scopes, grant.scopes) && subset(scopes.includes('contact') ? channels : [], grant.channels);
    },
    async record(d, outer) {
      // The grant and its audit event commit together; a caller's transaction is joined.
      if (!outer) return store.transaction((tx) => this.record(d, tx));
      const tx = outer;
      const t = now();
      const existing = await tx.grants.get(d.userId, d.clientId);
      const refused = (requested: string[], approved: string[]) => requested.filter((x) => !approved.includes(x));
      const scopes = union(existing?.scopes ?? [], d.approvedScopes)
        .filter((s) => !refused(d.requestedScopes, d.approvedScopes).includes(s));
      const channels = union(existing?.channels ?? [], d.approvedChannels)
        .filter((c) => !refused(d.requestedChannels, d.approvedChannels).includes(c));
      const saved = await tx.grants.save({
        id: existing?.id ?? randomBytes(16).toString('hex'),
        userId: d.userId,
        clientId: d.clientId,
        sub: pairwise(d.clientId, d.userId),
        scopes,
        channels: withMeta(scopes, channels),
        createdAt: existing?.createdAt ?? t,
        updatedAt: t,
        lastUsedAt: existing?.lastUsedAt ?? null,
      });
      // A decision that changes nothing (a password grant repeating its scopes) is not news.
      const same = (a: string[], b: string[]) => a.length === b.length && subset(a, b);
      if (!existing || !same(existing.scopes, saved.scopes) || !same(existing.channels, saved.channels)) {
        await audit.record({ type: 'consent.granted', clientId: saved.clientId, sub: saved.sub, ip: d.source?.ip,
          detail: detail({ scopes: saved.scopes, channels: saved.channels, via: d.source?.via }) }, tx);
      }
      return saved;
    },
    async revokeScope(userId, grantId, scope, source) {
      if (scope === 'openid') return this.revokeApp(userId, grantId, source);
      return store.transaction(async (tx) => {
        const g = await tx.grants.getById(grantId);
        // Nothing held, nothing changed: the grant (and its updated_at) stays as it is.
        if (!g || g.userId !== userId || !g.scopes.includes(scope)) return false;
        const scopes = g.scopes.filter((x) => x !== scope);
        await tx.grants.save({ ...g, scopes, channels: withMeta(scopes, g.channels), updatedAt: now() });
        // Only what the grant held is logged: the form's text never reaches the log.
        await revoked(tx, g, { scope }, source);
        return true;
      });
    },
    async revokeChannel(userId, grantId, channel, source) {
      // `_meta` cannot be revoked on its own: it goes with `contact`.
      if (channel === META_CHANNEL) return false;
      return store.transaction(async (tx) => {
        const g = await tx.grants.getById(grantId);
        if (!g || g.userId !== userId || !g.channels.includes(channel)) return false;
        await tx.grants.save({ ...g, channels: g.channels.filter((c) => c !== channel), updatedAt: now() });
        await revoked(tx, g, { channel }, source);
        return true;
      });
    },
    async revokeApp(userId, grantId, source) {
      return store.transaction(async (tx) => {
        const g = await tx.grants.getById(grantId);
        if (!g || g.userId !== userId) return false;
        const deleted = await tx.grants.delete(g.id);
        if (deleted) await revoked(tx, g, { app: 'disconnected' }, source);
        return deleted;
      });
    },
  };
}
