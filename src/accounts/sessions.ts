// Browser sessions: what a session cookie names. The cookie value is shown once, to the
// browser; the store keeps only its digest. Ending sessions tells the user's clients
// (back-channel logout) in the same transaction; delivery happens in the background.
import type { Store } from '../store/store.js';
import type { Session } from '../store/types.js';
import type { Backchannel } from '../logout/backchannel.js';
import { detail, type Audit, type AuditSource } from '../audit/audit.js';
import { digest, mintOpaque } from '../tokens/opaque.js';
import { PASSWORD_AMR } from '../oauth/acr.js';

export const SESSION_TTL_S = 14 * 24 * 3600;
/** "Last seen" is shown by the day; one write per session every 5 minutes is enough. */
export const LAST_SEEN_STEP_MS = 5 * 60_000;
/** Cookie values Alias mints are 43 characters; anything much longer is not worth a lookup. */
const MAX_COOKIE_LENGTH = 64;

export interface StartedSession {
  /** The session cookie's value (the only place the session id exists in the clear). */
  cookie: string;
  session: Session;
}

export interface StartOptions {
  /** The cookie of the browser's previous session, which the new one replaces. */
  replaces?: string;
  device?: string;
  amr?: readonly string[];
  /** The interaction (a pending authorization request) this sign-in is for: it resumes with the new session. */
  interaction?: string;
}

export interface Sessions {
  /**
   * Starts a fresh session for a user who just authenticated at `authTime`. A new id on
   * every sign-in prevents fixation: the browser's previous session (`replaces`, its
   * cookie) is deleted once the new one is stored, without telling any client. `amr` names the methods the
   * person used (RFC 8176); a password sign-in (["pwd"]) unless given.
   */
  start(userId: string, authTime: number, opts?: StartOptions): Promise<StartedSession>;
  /**
   * start() after a right password: no session when the account has TOTP on (the second
   * factor comes first; second_factor_page.ts), checked in the same statement that stores
   * the session, so a factor added meanwhile is never missed. Undefined then, and nothing
   * changed (the previous session stays).
   */
  startWithPassword(userId: string, authTime: number, opts?: Omit<StartOptions, 'amr'>): Promise<StartedSession | undefined>;
  /**
   * Step-up (OIDC Core §3.1.2.1 acr_values): the person proved more methods during the
   * session (a second factor); they join the session's amr. Returns the session as now.
   */
  addMethods(session: Session, amr: readonly string[]): Promise<Session>;
  /**
   * The unexpired session a cookie names, if its user still exists. Notes when it was
   * last used (at most every LAST_SEEN_STEP_MS, so a busy session costs no write a request).
   */
  read(cookie: string | undefined): Promise<Session | undefined>;
  /**
   * Ends the session a cookie names and queues back-channel logout notices for its user,
   * in one transaction. False when there was no such (unexpired) session.
   */
  end(cookie: string | undefined): Promise<boolean>;
  /**
   * Ends every session of the user (but `exceptSessionId`, a session's `idDigest`, when
   * given) and queues back-channel logout notices, in one transaction. Audited as a
   * `logout` event (`sessions=all` or `sessions=others`, and `via`).
   */
  endEverywhere(userId: string, opts?: { exceptSessionId?: string; source?: AuditSource }): Promise<void>;
}

export function createSessions(deps: { store: Store; backchannel: Backchannel; audit: Audit; now: () => number }): Sessions {
  const { store, backchannel, audit, now } = deps;
  const usable = (cookie: string | undefined): cookie is string => !!cookie && cookie.length <= MAX_COOKIE_LENGTH;

  /** A fresh session (a new id prevents fixation); the one it replaces goes once it is stored. */
  async function begin(userId: string, authTime: number, opts: StartOptions, unlessTotp: boolean): Promise<StartedSession | undefined> {
    const cookie = mintOpaque();
    const t = now();
    const session: Session = { idDigest: digest(cookie), userId, authTime, createdAt: t, expiresAt: t + SESSION_TTL_S * 1000,
      device: opts.device ?? null, lastSeenAt: t, amr: [...(opts.amr ?? PASSWORD_AMR)] };
    if (!(await store.sessions.insert(session, { authenticates: opts.interaction, unlessTotp }))) return undefined;
    if (usable(opts.replaces)) await store.sessions.delete(digest(opts.replaces));
    return { cookie, session };
  }

  return {
    start: async (userId, authTime, opts = {}) => (await begin(userId, authTime, opts, false))!,
    startWithPassword: (userId, authTime, opts = {}) => begin(userId, authTime, { ...opts, amr: PASSWORD_AMR }, true),
    async addMethods(session, amr) {
      const merged = [...new Set([...session.amr, ...amr])];
      await store.sessions.setAmr(session.idDigest, merged);
      return { ...session, amr: merged };
    },
    async read(cookie) {
      if (!usable(cookie)) return undefined;
      const session = await store.sessions.get(digest(cookie), now());
      if (!session) return undefined;
      // A deleted user's session must not live on.
      if (!(await store.users.get(session.userId))) return undefined;
      const t = now();
      if (session.lastSeenAt === null || t - session.lastSeenAt >= LAST_SEEN_STEP_MS) {
        await store.sessions.touch(session.idDigest, t);
        return { ...session, lastSeenAt: t };
      }
      return session;
    },
    async end(cookie) {
      if (!usable(cookie)) return false;
      const session = await store.sessions.get(digest(cookie), now());
      if (!session) return false;
      await store.transaction(async (tx) => {
        await tx.sessions.delete(session.idDigest);
        await backchannel.enqueueForUser(tx, session.userId);
      });
      backchannel.kick();
      return true;
    },
    async endEverywhere(userId, opts = {}) {
      const { exceptSessionId, source = {} } = opts;
      await store.transaction(async (tx) => {
        const kept = exceptSessionId ? await tx.sessions.get(exceptSessionId, now()) : undefined;
        await tx.sessions.deleteByUser(userId);
        // The store deletes by user only: the kept session goes back as it was.
        if (kept && kept.userId === userId) await tx.sessions.insert(kept);
        // Ending every session is what someone does after losing a device: worth a line.
        await audit.record({ type: 'logout', userId, ip: source.ip,
          detail: detail({ sessions: exceptSessionId ? 'others' : 'all', via: source.via }) }, tx);
        await backchannel.enqueueForUser(tx, userId);
      });
      backchannel.kick();
    },
  };
}
