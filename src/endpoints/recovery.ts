// Password reset pages (issue 14 §3): GET/POST /forgot, GET/POST /reset/:token. Thin: the
// rules live in src/accounts/recovery.ts. Every form carries the CSRF token; a failed
// check, a malformed field or a bad link changes nothing.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { PageContext } from '../http/context.js';
import { sourceOf } from '../http/context.js';
import { sendErrorPage } from '../http/errors.js';
import { renderPage } from '../http/render.js';
import { badLink, csrfFailed, formField, malformed } from '../http/form_pages.js';
import { forgotPassword, MAX_EMAIL_LENGTH, peekLink, resetPassword } from '../accounts/recovery.js';
import { MAX_NEW_PASSWORD_LENGTH } from '../accounts/password_policy.js';
import { passkeyScripts } from '../http/assets.js';

type Body = Record<string, unknown>;

const RESET_AGAIN = 'Ask for a new link with “Forgot your password?” on the sign-in page (/forgot).';

export function recoveryEndpoints(app: FastifyInstance, s: Services, page: PageContext) {
  const forgotPage = (request: FastifyRequest, reply: FastifyReply, opts: { status?: number; sent?: boolean; email?: string;
    error?: string; emailError?: string } = {}) => {
    reply.code(opts.status ?? 200).header('cache-control', 'no-store');
    return renderPage(reply, 'forgot', { title: 'Forgot your password?', csrf: page.csrfToken(page.browserId(request, reply)),
      email: opts.email ?? '', sent: opts.sent, error: opts.error, emailError: opts.emailError });
  };

  app.get('/forgot', (request, reply) => forgotPage(request, reply));

  app.post('/forgot', async (request, reply) => {
    const body = request.body as Body | undefined;
    if (!page.checkCsrf(request, body?.csrf)) return csrfFailed(reply);
    const email = formField(body, 'email', MAX_EMAIL_LENGTH);
    if (email === undefined) return malformed(reply);
    if (!email.trim()) return forgotPage(request, reply, { status: 400, emailError: 'Type the address of your account.' });
    const result = await forgotPassword(s, email, sourceOf(request));
    if (!result.ok) {
      reply.header('retry-after', String(result.retryAfter));
      return forgotPage(request, reply, { status: 429, email,
        error: `Too many requests for a link. Try again in ${result.retryAfter} seconds.` });
    }
    // The same answer, at the same time, whether or not the address has an account: the
    // lookup and the mail run after the page is sent.
    await forgotPage(request, reply, { sent: true, email });
    s.background.run(result.work,
      (err: unknown) => request.log.error({ err: err instanceof Error ? err.message : String(err) }, 'reset mail not queued'));
    return reply;
  });

  const resetForm = (request: FastifyRequest, reply: FastifyReply, token: string, email: string, opts: { status?: number; passwordError?: string } = {}) => {
    reply.code(opts.status ?? 200).header('cache-control', 'no-store');
    // With JavaScript the link can add a passkey instead (endpoints/passkey_accounts.ts).
    return renderPage(reply, 'reset', { title: 'Choose a new password', action: `/reset/${token}`, email, token,
      csrf: page.csrfToken(page.browserId(request, reply)), passwordError: opts.passwordError, scripts: passkeyScripts() });
  };

  app.get('/reset/:token', async (request, reply) => {
    const { token } = request.params as { token: string };
    // Looking never uses the link (mail scanners open links too).
    const seen = await peekLink(s, 'reset_password', token);
    if (!seen.ok) return badLink(reply, seen.reason, 'password reset', RESET_AGAIN);
    return resetForm(request, reply, token, seen.user.email);
  });

  app.post('/reset/:token', async (request, reply) => {
    const { token } = request.params as { token: string };
    const body = request.body as Body | undefined;
    if (!page.checkCsrf(request, body?.csrf)) return csrfFailed(reply);
    const password = formField(body, 'password', MAX_NEW_PASSWORD_LENGTH + 1);
    if (password === undefined) return malformed(reply);
    const result = await resetPassword(s, token, password, sourceOf(request));
    if (!result.ok) {
      if (result.reason === 'weak') {
        const seen = await peekLink(s, 'reset_password', token);
        if (!seen.ok) return badLink(reply, seen.reason, 'password reset', RESET_AGAIN);
        return resetForm(request, reply, token, seen.user.email, { status: 400, passwordError: `Not set: ${result.message}.` });
      }
      return badLink(reply, result.reason === 'passkey' ? 'unknown' : result.reason, 'password reset', RESET_AGAIN);
    }
    // Every session ended, this browser's too.
    page.clearSessionCookie(reply);
    reply.header('cache-control', 'no-store');
    return renderPage(reply, 'account_notice', { title: 'Password changed',
      message: 'Your new password is set. Every browser was signed out and every app’s tokens were revoked; we sent a notice to your address.',
      link: { href: '/account', label: 'Sign in with your new password' } });
  });
}
