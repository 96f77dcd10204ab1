// The data export (GDPR Art. 15 and 20): one JSON document with everything Alias stores
// about one person, built from the store alone, so the account page and
// `aliasid user export` print the same thing. It names nobody else and holds no digest
// or secret: no password hash, no session-id or token digests, no keyed address digests.
import type { Store } from '../store/store.js';
import type { Audit } from '../audit/audit.js';

export const EXPORT_FORMAT = 'alias-account-export/1';
/** Far above any real account; a bound so one export cannot exhaust memory. */
const MAX_ROWS = 100_000;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export interface AccountExport {
  format: typeof EXPORT_FORMAT;
  issuer: string;
  exported_at: string;
  /** `has_password`: false for an account that signs in with passkeys only (never the hash). */
  profile: { id: string; email: string; email_verified: boolean; nickname: string | null; has_password: boolean; created_at: string; updated_at: string };
  apps: { client_id: string; name: string | null; alias_id: string; scopes: string[]; channels: string[];
    granted_at: string; updated_at: string; last_used_at: string | null }[];
  inbox: { app: string | null; client_id: string; channel: string; subject: string; body: string; status: string;
    created_at: string; delivered_at: string | null }[];
  /** Issue 15 §2: whether TOTP is on and how many recovery codes are left; never the secret or a code. */
  second_factor: { totp: boolean; totp_enabled_at: string | null; recovery_codes_left: number };
  sessions: { device: string | null; created_at: string; signed_in_at: string; last_seen_at: string | null; expires_at: string }[];
  /** The public credential id only: never the public key or the counter. */
  passkeys: { name: string; credential_id: string; device_type: string; created_at: string; last_used_at: string | null }[];
  audit_events: { type: string; outcome: string; at: string; client_id: string | null; app: string | null;
    alias_id: string | null; detail: string | null }[];
}

export interface ExportDeps {
  store: Store;
  audit: Pick<Audit, 'subOf' | 'userRef'>;
  issuer: string;
  now: () => number;
}

/** The person's export, or undefined when there is no such account. */
export async function exportAccount(deps: ExportDeps, userId: string): Promise<AccountExport | undefined> {
  const { store, now } = deps;
  const user = await store.users.get(userId);
  if (!user) return undefined;
  const names = new Map<string, string | null>();
  const nameOf = async (clientId: string | null) => {
    if (clientId === null) return null;
    if (!names.has(clientId)) names.set(clientId, (await store.clients.get(clientId))?.name ?? null);
    return names.get(clientId)!;
  };
  const grants = await store.grants.listByUser(user.id);
  const apps = [];
  for (const g of grants) {
    apps.push({ client_id: g.clientId, name: await nameOf(g.clientId), alias_id: g.sub, scopes: g.scopes, channels: g.channels,
      granted_at: iso(g.createdAt)!, updated_at: iso(g.updatedAt)!, last_used_at: iso(g.lastUsedAt) });
  }
  const inbox = [];
  for (const m of await store.messages.listByUser(user.id, MAX_ROWS)) {
    inbox.push({ app: await nameOf(m.clientId), client_id: m.clientId, channel: m.channel, subject: m.subject, body: m.body,
      status: m.status, created_at: iso(m.createdAt)!, delivered_at: iso(m.deliveredAt) });
  }
  // The session id's digest is left out: it is a credential's fingerprint, not data about you.
  const sessions = (await store.sessions.listByUser(user.id, now())).map((s) => ({
    device: s.device, created_at: iso(s.createdAt)!, signed_in_at: iso(s.authTime)!, last_seen_at: iso(s.lastSeenAt),
    expires_at: iso(s.expiresAt)!,
  }));
  const passkeys = (await store.passkeys.listByUser(user.id)).map((p) => ({ name: p.name, credential_id: p.credentialId,
    device_type: p.deviceType, created_at: iso(p.createdAt)!, last_used_at: iso(p.lastUsedAt) }));
  // The person's events, found the way `aliasid audit --user` finds them: by their alias
  // ID at every client the log names, or by their user digest. The IP digest is left out:
  // it is a keyed digest of an address (possibly a shared one, someone else's too), which
  // the person cannot read anyway, and the issue wants no digests in the export.
  const clientIds = new Set([...await store.audit.clientIds(), ...grants.map((g) => g.clientId)]);
  const events = await store.audit.query({ user: { subs: [...clientIds].map((c) => deps.audit.subOf(c, user.id)),
    userRef: deps.audit.userRef(user.id) }, limit: MAX_ROWS });
  const audit_events = [];
  for (const e of events) {
    audit_events.push({ type: e.type, outcome: e.outcome, at: iso(e.at)!, client_id: e.clientId, app: await nameOf(e.clientId),
      alias_id: e.sub, detail: e.detail });
  }
  const totp = await store.secondFactors.getTotp(user.id);
  const second_factor = { totp: !!totp, totp_enabled_at: totp ? new Date(totp.createdAt).toISOString() : null,
    recovery_codes_left: totp ? await store.secondFactors.countRecoveryCodes(user.id) : 0 };
  return {
    format: EXPORT_FORMAT,
    issuer: deps.issuer,
    exported_at: iso(now())!,
    profile: { id: user.id, email: user.email, email_verified: user.emailVerified, nickname: user.nickname, has_password: user.passwordHash !== null,
      created_at: iso(user.createdAt)!, updated_at: iso(user.updatedAt)! },
    second_factor, apps, inbox, sessions, passkeys, audit_events,
  };
}

/** `alias-export-YYYY-MM-DD.json` for the download. */
export const exportFileName = (now: number) => `alias-export-${new Date(now).toISOString().slice(0, 10)}.json`;
