// Per-request helpers for pages: the browser binding cookie, the signed-in session and
// the anti-CSRF token derived from the browser cookie (signed double-submit pattern).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { Session } from '../store/store.js';
import { cookieNames, cookieOptions } from './cookies.js';
import { digest, mintOpaque, safeEqual } from '../tokens/opaque.js';

export const SESSION_TTL_S = 14 * 24 * 3600;
const BROWSER_TTL_S = 400 * 24 * 3600;

export function createPageContext(s: Services) {
  const names = cookieNames(s.config.issuer);
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
    async session(request: FastifyRequest): Promise<Session | undefined> {
      const raw = request.cookies[names.session];
      if (!raw || raw.length > 64) return undefined;
      const session = await s.store.sessions.get(digest(raw), s.now());
      if (!session) return undefined;
      // A deleted user's session must not live on.
      return (await s.store.users.get(session.userId)) ? session : undefined;
    },
    /** Starts a fresh session (a new id on every sign-in prevents fixation). */
    async startSession(request: FastifyRequest, reply: FastifyReply, userId: string): Promise<Session> {
      const old = request.cookies[names.session];
      if (old && old.length <= 64) await s.store.sessions.delete(digest(old));
      const id = mintOpaque();
      const t = s.now();
      const session: Session = { idDigest: digest(id), userId, authTime: t, createdAt: t, expiresAt: t + SESSION_TTL_S * 1000 };
      await s.store.sessions.insert(session);
      reply.setCookie(names.session, id, cookieOptions(s.config.issuer, SESSION_TTL_S));
      return session;
    },
  };
}

export type PageContext = ReturnType<typeof createPageContext>;

/** The address failures are counted against (the socket's, unless a proxy is trusted). */
export const sourceOf = (request: FastifyRequest): string => request.ip;
