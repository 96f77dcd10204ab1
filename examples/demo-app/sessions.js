// @ts-check
// The demo app's own sessions: a random id in an HttpOnly cookie, the data in memory
// (keyed by the id's SHA-256, so a dump of the map holds no usable cookie). Each session
// has an anti-CSRF token (synchronizer token pattern) that every form carries: the two
// demo apps share `localhost`, and SameSite cannot tell ports apart.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * @typedef {import('./oidc.js').PendingSignIn} PendingSignIn
 * @typedef {import('./oidc.js').SignedIn} SignedIn
 * @typedef {object} Session
 * @property {string} csrf
 * @property {number} lastSeen
 * @property {PendingSignIn[]} pending sign-ins started in this browser, newest last
 * @property {SignedIn | undefined} user
 * @property {{ kind: 'notice' | 'error', text: string } | undefined} flash shown once, on the next page
 */

const IDLE_MS = 8 * 3600_000;
const MAX_SESSIONS = 10_000;
/** A person may start a few sign-ins in tabs; the oldest are forgotten. */
const MAX_PENDING = 5;
/** Longer than Alias keeps a sign-in waiting; a code itself lives 60 s. */
export const PENDING_MS = 15 * 60_000;

const digest = (/** @type {string} */ id) => createHash('sha256').update(id).digest('base64url');
const random = () => randomBytes(32).toString('base64url');

/**
 * @param {{ cookieName: string, secure: boolean }} opts
 */
export function createSessions(opts) {
  /** @type {Map<string, Session>} insertion order = least recently used first */
  const sessions = new Map();

  /** @param {import('node:http').IncomingMessage} req */
  function cookieOf(req) {
    for (const part of (req.headers.cookie ?? '').split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === opts.cookieName) return part.slice(eq + 1).trim();
    }
    return undefined;
  }

  /** @param {import('node:http').ServerResponse} res @param {string} value @param {number} maxAgeS */
  function setCookie(res, value, maxAgeS) {
    const cookie = `${opts.cookieName}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeS}${opts.secure ? '; Secure' : ''}`;
    const existing = res.getHeader('set-cookie');
    res.setHeader('set-cookie', [...(Array.isArray(existing) ? existing : []), cookie]);
  }

  /** @param {string} id @param {Session} session */
  function keep(id, session) {
    const key = digest(id);
    sessions.delete(key);
    sessions.set(key, session);
    while (sessions.size > MAX_SESSIONS) sessions.delete(/** @type {string} */ (sessions.keys().next().value));
  }

  return {
    /** This browser's session, if it has a live one. @param {import('node:http').IncomingMessage} req */
    get(req) {
      const id = cookieOf(req);
      if (!id || id.length !== 43) return undefined;
      const key = digest(id);
      const session = sessions.get(key);
      if (!session) return undefined;
      if (Date.now() - session.lastSeen > IDLE_MS) {
        sessions.delete(key);
        return undefined;
      }
      session.lastSeen = Date.now();
      keep(id, session);
      return session;
    },

    /** A new, empty session for this browser. @param {import('node:http').ServerResponse} res */
    create(res) {
      const id = random();
      /** @type {Session} */
      const session = { csrf: random(), lastSeen: Date.now(), pending: [], user: undefined, flash: undefined };
      keep(id, session);
      setCookie(res, id, IDLE_MS / 1000);
      return session;
    },

    /**
     * Moves a session to a new id and a new CSRF token (after sign-in: an id set in the
     * browser before it cannot ride along, OWASP session fixation).
     * @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res @param {Session} session
     */
    renew(req, res, session) {
      const old = cookieOf(req);
      if (old) sessions.delete(digest(old));
      const id = random();
      session.csrf = random();
      keep(id, session);
      setCookie(res, id, IDLE_MS / 1000);
    },

    /** @param {import('node:http').IncomingMessage} req @param {import('node:http').ServerResponse} res */
    destroy(req, res) {
      const id = cookieOf(req);
      if (id) sessions.delete(digest(id));
      setCookie(res, '', 0);
    },

    /** Constant-time check of a form's csrf field. @param {Session | undefined} session @param {unknown} field */
    csrfOk(session, field) {
      if (!session || typeof field !== 'string') return false;
      const a = Buffer.from(field);
      const b = Buffer.from(session.csrf);
      return a.length === b.length && timingSafeEqual(a, b);
    },

    /** Remembers a started sign-in. @param {Session} session @param {PendingSignIn} pending */
    addPending(session, pending) {
      session.pending = [...session.pending.filter((p) => Date.now() - p.createdAt < PENDING_MS), pending].slice(-MAX_PENDING);
    },

    /** Takes (and forgets) the sign-in a callback's state names. @param {Session | undefined} session @param {string | null} state */
    takePending(session, state) {
      if (!session || !state) return undefined;
      const i = session.pending.findIndex((p) => p.state === state);
      if (i === -1) return undefined;
      const [pending] = session.pending.splice(i, 1);
      return pending && Date.now() - pending.createdAt < PENDING_MS ? pending : undefined;
    },
  };
}
