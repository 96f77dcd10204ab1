// The person's data (issue 14 §5, GDPR Art. 15, 17, 20) and the privileged session they
// need: GET /account/export (the JSON download), GET/POST /account/delete (a typed
// confirmation, then everything goes), GET/POST /account/reauth (the password again, or a
// passkey through passkeys.js, for any action that needs a recent sign-in; src/accounts/reauth.ts). Logic lives in
// src/accounts/export.ts and deletion.ts; this file only speaks HTTP.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { PageContext } from '../http/context.js';
import { sourceOf } from '../http/context.js';
import { sendErrorPage } from '../http/errors.js';
import { renderPage } from '../http/render.js';
import type { Session } from '../store/types.js';
import { recentlyAuthenticated, reauthNext } from '../accounts/reauth.js';
import { exportAccount, exportFileName } from '../accounts/export.js';
import { deleteAccount } from '../accounts/deletion.js';
import { MAX_PASSWORD_LENGTH } from '../accounts/passwords.js';
import { passkeyScripts } from '../http/assets.js';

type Body = Record<string, unknown>;
const text = (v: unknown) => (typeof v === 'string' ? v : '');

export function accountDataEndpoints(app: FastifyInstance, s: Services, page: PageContext) {
  const bodyOf = (request: FastifyRequest): Body =>
    (request.body && typeof request.body === 'object' ? request.body : {}) as Body;
  const csrfOf = (request: FastifyRequest, reply: FastifyReply) => page.csrfToken(page.browserId(request, reply));
  const expired = (reply: FastifyReply) => sendErrorPage(reply, 403, 'This form has expired',
    'The form was not sent from this browser’s Alias page, so nothing was changed.', 'Go back, reload the page and try again.');
  /** Sends the person to re-enter the password, coming back to `next` afterwards. */
  const askReauth = (reply: FastifyReply, next: string) =>
    reply.header('cache-control', 'no-store').redirect(`/account/reauth?${new URLSearchParams({ next })}`, 303);

  async function reauthPage(request: FastifyRequest, reply: FastifyReply, session: Session, next: string,
    opts: { status?: number; error?: string } = {}) {
    const user = await s.accounts.get(session.userId);
    if (!user) return reply.redirect('/account', 303);
    reply.code(opts.status ?? 200).header('cache-control', 'no-store');
    // A passkey works as well as the password (endpoints/passkeys.ts /api/passkeys/reauth/verify);
    // an account without a password has only its passkeys.
    const hasPasskey = (await s.passkeys.list(user.id)).length > 0;
    return renderPage(reply, 'reauth', { title: 'Confirm it’s you', email: user.email, next, csrf: csrfOf(request, reply), error: opts.error,
      hasPassword: user.passwordHash !== null, passkey: hasPasskey ? { scripts: passkeyScripts() } : undefined });
  }

  async function deletePage(request: FastifyRequest, reply: FastifyReply, session: Session, opts: { status?: number; error?: string } = {}) {
    const user = await s.accounts.get(session.userId);
    if (!user) return reply.redirect('/account', 303);
    reply.code(opts.status ?? 200).header('cache-control', 'no-store');
    return renderPage(reply, 'account_delete', { title: 'Delete your account', email: user.email, csrf: csrfOf(request, reply), error: opts.error });
  }

  app.get('/account/reauth', async (request, reply) => {
    const session = await page.session(request);
    if (!session) return reply.redirect('/account', 303);
    return reauthPage(request, reply, session, reauthNext((request.query as Record<string, unknown>).next));
  });

  app.post('/account/reauth', async (request, reply) => {
    const body = bodyOf(request);
    if (!page.checkCsrf(request, body.csrf)) return expired(reply);
    const session = await page.session(request);
    if (!session) return reply.redirect('/account', 303);
    const next = reauthNext(body.next);
    const user = await s.accounts.get(session.userId);
    if (!user) return reply.redirect('/account', 303);
    const password = text(body.password);
    if (!password || password.length > MAX_PASSWORD_LENGTH) {
      return reauthPage(request, reply, session, next, { status: 400, error: 'Enter your password.' });
    }
    // Counted like a sign-in (per account and per address, with the same lockout).
    const result = await s.accounts.login(user.email, password, sourceOf(request), { via: 'reauth' });
    if (!result.ok) {
      if (result.reason === 'throttled') {
        reply.header('retry-after', String(result.retryAfter));
        return reauthPage(request, reply, session, next, { status: 429,
          error: `Too many failed attempts. Try again in ${result.retryAfter} seconds.` });
      }
      return reauthPage(request, reply, session, next, { status: 400, error: 'That password is wrong.' });
    }
    // A new session (new id, auth time now) replaces the old one.
    await page.startSession(request, reply, user.id);
    return reply.redirect(next, 303);
  });

  app.get('/account/export', async (request, reply) => {
    const session = await page.session(request);
    if (!session) return reply.redirect('/account', 303);
    if (!recentlyAuthenticated(session, s.now())) return askReauth(reply, '/account/export');
    const doc = await exportAccount({ store: s.store, audit: s.audit, issuer: s.config.issuer, now: s.now }, session.userId);
    if (!doc) return reply.redirect('/account', 303);
    await s.audit.record({ type: 'account.exported', userId: session.userId, ip: sourceOf(request), detail: 'via=account' });
    return reply.code(200)
      .header('cache-control', 'no-store')
      .header('content-disposition', `attachment; filename="${exportFileName(s.now())}"`)
      .type('application/json; charset=utf-8')
      .send(JSON.stringify(doc, null, 2) + '\n');
  });

  app.get('/account/delete', async (request, reply) => {
    const session = await page.session(request);
    if (!session) return reply.redirect('/account', 303);
    return deletePage(request, reply, session);
  });

  app.post('/account/delete', async (request, reply) => {
    const body = bodyOf(request);
    if (!page.checkCsrf(request, body.csrf)) return expired(reply);
    const session = await page.session(request);
    if (!session) return reply.redirect('/account', 303);
    if (!recentlyAuthenticated(session, s.now())) return askReauth(reply, '/account/delete');
    const user = await s.accounts.get(session.userId);
    if (!user) return reply.redirect('/account', 303);
    // The typed confirmation: the account's own e-mail address (case and spaces aside).
    if (text(body.confirm).trim().toLowerCase() !== user.email.toLowerCase()) {
      return deletePage(request, reply, session, { status: 400,
        error: 'Type your e-mail address exactly as shown to confirm. Nothing was deleted.' });
    }
    await deleteAccount({ store: s.store, audit: s.audit, backchannel: s.backchannel, accountMail: s.accountMail, issuer: s.config.issuer },
      user.id, { ip: sourceOf(request), via: 'account' });
    page.clearSessionCookie(reply);
    reply.header('cache-control', 'no-store');
    return renderPage(reply, 'account_deleted', { title: 'Account deleted' });
  });
}
