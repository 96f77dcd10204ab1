// Per-request helpers for pages: the browser binding cookie, the signed-in session and
// the anti-CSRF token derived from the browser cookie (signed double-submit pattern).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import { deviceLabel } from './device_label.js';
import type { Session } from '../store/types.js';
import { cookieNames, cookieOptions } from './cookies.js';
import { mintOpaque, safeEqual } from '../tokens/opaque.js';
import { SESSION_TTL_S, type StartedSession } from '../accounts/sessions.js';

const BROWSER_TTL_S = 400 * 24 * 3600;

export function createPageContext(s: Services) {
  const names = cookieNames(s.config.issuer);
  const clearSessionCookie = (reply: FastifyReply) => reply.clearCookie(names.session, cookieOptions(s.config.issuer));
  /** What a new session takes from the request: the session it replaces, the device it is on. */
  const sessionOptions = (request: FastifyRequest) =>
    ({ replaces: request.cookies[names.session], device: deviceLabel(request.headers['user-agent']) });
  /** Hands the new session's cookie to the browser. */
  const signedIn = (reply: FastifyReply, started: StartedSession): Session => {
    reply.setCookie(names.session, started.cookie, cookieOptions(s.config.issuer, SESSION_TTL_S));
    return started.session;
  };
  return {
    names,
    /** The browser's binding id, set when missing. */
    browserId(request: FastifyRequest, reply: FastifyReply): string {
      const existing = request.cookies[names.browser];
      if (existing && existing.length === 43) return existing;
      const id = mintOpaque();
      reply.setCookie(names.browser, id, cookieOptions(s.config.issuer, BROWSER_TTL_S));
      request.cookies[names.browser] = id;
      return id;
    },
    existingBrowserId(request: FastifyRequest): string | undefined {
      const v = request.cookies[names.browser];
      return v && v.length === 43 ? v : undefined;
    },
    csrfToken(browserId: string): string {
      return s.secrets.mac('csrf', browserId);
    },
    checkCsrf(request: FastifyRequest, field: unknown): boolean {
      const browserId = this.existingBrowserId(request);
      return typeof field === 'string' && browserId !== undefined && safeEqual(field, s.secrets.mac('csrf', browserId));
    },
    /** The signed-in session this browser's cookie names, if any. */
    session(request: FastifyRequest): Promise<Session | undefined> {
      return s.sessions.read(request.cookies[names.session]);
    },
    /**
     * Starts a fresh session (a new id on every sign-in prevents fixation). `amr`: the
     * methods the person just used (RFC 8176), a password unless given.
     */
    async startSession(request: FastifyRequest, reply: FastifyReply, userId: string,
      opts: { amr?: readonly string[]; interaction?: string } = {}): Promise<Session> {
      const started = await s.sessions.start(userId, s.now(), { ...sessionOptions(request), amr: opts.amr, interaction: opts.interaction });
      return signedIn(reply, started);
    },
    /** startSession after a right password, unless the account has TOTP on (Sessions.startWithPassword): undefined then, no cookie set. */
    async startPasswordSession(request: FastifyRequest, reply: FastifyReply, userId: string,
      opts: { interaction?: string } = {}): Promise<Session | undefined> {
      const started = await s.sessions.startWithPassword(userId, s.now(), { ...sessionOptions(request), interaction: opts.interaction });
      return started && signedIn(reply, started);
    },
    /** Ends this browser's session, if it has one, and clears the cookie. */
    async endSession(request: FastifyRequest, reply: FastifyReply): Promise<void> {
      await s.sessions.end(request.cookies[names.session]);
      clearSessionCookie(reply);
    },
    /** Forgets the session cookie only (its session already ended). */
    clearSessionCookie(reply: FastifyReply): void {
      clearSessionCookie(reply);
    },
  };
}

export type PageContext = ReturnType<typeof createPageContext>;

/** The address failures are counted against (the socket's, unless a proxy is trusted). */
export const sourceOf = (request: FastifyRequest): string => request.ip;
