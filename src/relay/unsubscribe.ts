// One-click unsubscribe (RFC 8058) from relayed mail: a signed link takes back one channel
// of one app for one user. The link is its own authority (unsubscribe_token.ts).
import type { Secrets } from '../crypto/secrets.js';
import type { Consent } from '../consent/grants.js';
import type { AuditSource } from '../audit/audit.js';
import { META_CHANNEL } from '../oauth/scopes.js';
import { readUnsubscribeToken, type UnsubscribeRef } from './unsubscribe_token.js';

export type UnsubscribeLink =
  | { ok: true; ref: UnsubscribeRef }
  /** Incomplete, altered, or not signed by Alias. */
  | { ok: false; reason: 'invalid' }
  /** `_meta` notices come with `contact` and cannot be unsubscribed on their own. */
  | { ok: false; reason: 'notices'; ref: UnsubscribeRef };

export interface Unsubscribe {
  /** What a link names. Reads nothing from the store and changes nothing. */
  read(token: string): UnsubscribeLink;
  /**
   * Takes the channel back (audited as `consent.revoked` with `source`). A channel already
   * gone (revoked, or the app disconnected) is no error: the answer is the same.
   */
  take(ref: UnsubscribeRef, source: AuditSource): Promise<void>;
}

export function createUnsubscribe(deps: { secrets: Secrets; consent: Consent }): Unsubscribe {
  const { secrets, consent } = deps;
  return {
    read(token) {
      const ref = readUnsubscribeToken(secrets, token);
      if (!ref) return { ok: false, reason: 'invalid' };
      if (ref.channel === META_CHANNEL) return { ok: false, reason: 'notices', ref };
      return { ok: true, ref };
    },
    async take(ref, source) {
      const grant = await consent.find(ref.userId, ref.clientId);
      if (grant) await consent.revokeChannel(ref.userId, grant.id, ref.channel, source);
    },
  };
}
