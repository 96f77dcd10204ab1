// E-mail change on /account (issue 14 §4): POST /account/email asks (current password
// needed), GET/POST /confirm-email/:token makes the new address count, GET/POST
// /cancel-email-change/:token undoes it from the old address. Thin: the rules live in
// src/accounts/email_change.ts. GET never changes anything (mail scanners open links).
import { recentlyAuthenticated } from '../accounts/reauth.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { PageContext } from '../http/context.js';
import { sourceOf } from '../http/context.js';
import { sendErrorPage } from '../http/errors.js';
import { renderPage } from '../http/render.js';
import { MAX_EMAIL_LENGTH, peekLink } from '../accounts/recovery.js';
import { cancelEmailChange, confirmEmailChange, requestEmailChange } from '../accounts/email_change.js';
import { badLink, csrfFailed, formField, malformed } from '../http/form_pages.js';
import type { LinkPurpose } from '../store/types.js';

type Body = Record<string, unknown>;
/** Passwords longer than this are not checked (as the sign-in form). */
const MAX_PASSWORD_FIELD = 1024;

export function accountEmailEndpoints(app: FastifyInstance, s: Services, page: PageContext) {
  const csrf = (request: FastifyRequest, reply: FastifyReply) => page.csrfToken(page.browserId(request, reply));

  app.post('/account/email', async (request, reply) => {
    const body = request.body as Body | undefined;
    if (!page.checkCsrf(request, body?.csrf)) return csrfFailed(reply);
    const session = await page.session(request);
    if (!session) return reply.redirect('/account', 303);
    const user = await s.accounts.get(session.userId);
    if (!user) return reply.redirect('/account', 303);
    const newEmail = formField(body, 'new_email', MAX_EMAIL_LENGTH);
    // An account without a password (passkeys only) proves itself by a recent sign-in instead.
    const passwordless = user.passwordHash === null;
    if (passwordless && !recentlyAuthenticated(session, s.now())) {
      return reply.header('cache-control', 'no-store').redirect(`/account/reauth?${new URLSearchParams({ next: '/account' })}`, 303);
    }
    const password = passwordless ? '' : formField(body, 'current_password', MAX_PASSWORD_FIELD);
    if (newEmail === undefined || password === undefined) return malformed(reply);
    const result = await requestEmailChange(s, user, { newEmail, password: passwordless ? null : password, source: sourceOf(request) });
    reply.header('cache-control', 'no-store');
    if (!result.ok) {
      const data: Record<string, unknown> = { title: 'Change your e-mail address', email: user.email, newEmail, csrf: csrf(request, reply) };
      if (result.reason === 'throttled') {
        reply.code(429).header('retry-after', String(result.retryAfter));
        data.error = `Too many attempts. Try again in ${result.retryAfter} seconds.`;
      } else {
        reply.code(400);
        if (result.reason === 'wrong_password') data.passwordError = result.message;
        else data.newEmailError = result.message;
      }
      return renderPage(reply, 'email_change', data);
    }
    // The same answer whether or not the new address already has an account.
    return renderPage(reply, 'account_notice', { title: 'Check your new address',
      message: `We sent a link to ${result.newEmail}. Your address changes when you open it (within 24 hours); until then it stays ${user.email}.`,
      link: { href: '/account', label: 'Back to your account' } });
  });

  const LINKS: { path: string; purpose: LinkPurpose; what: string; again: string; title: string; message: (email: string) => string;
    button: string; run: typeof confirmEmailChange }[] = [
    { path: 'confirm-email', purpose: 'change_email', what: 'address confirmation', again: 'Ask again on your account page.',
      title: 'Use this address for Alias?', message: (e) => `Your Alias account will use ${e} from now on.`,
      button: 'Use this address', run: confirmEmailChange },
    { path: 'cancel-email-change', purpose: 'cancel_email_change', what: 'undo', again: 'Sign in and check your address on your account page.',
      title: 'Undo the change of your address?', message: (e) => `Your Alias account will use ${e} again, and every browser and app will be signed out.`,
      button: 'Undo the change', run: cancelEmailChange },
  ];
  for (const l of LINKS) {
    app.get(`/${l.path}/:token`, async (request, reply) => {
      const { token } = request.params as { token: string };
      const seen = await peekLink(s, l.purpose, token);
      if (!seen.ok) return badLink(reply, seen.reason, l.what, l.again);
      reply.header('cache-control', 'no-store');
      return renderPage(reply, 'email_link', { title: l.title, message: l.message(seen.token.data.email ?? ''), action: `/${l.path}/${token}`,
        button: l.button, csrf: csrf(request, reply) });
    });
    app.post(`/${l.path}/:token`, async (request, reply) => {
      const { token } = request.params as { token: string };
      const body = request.body as Body | undefined;
      if (!page.checkCsrf(request, body?.csrf)) return csrfFailed(reply);
      const result = await l.run(s, token, sourceOf(request));
      if (!result.ok) {
        if (result.reason === 'taken') {
          return sendErrorPage(reply, 409, 'This address cannot be used', 'Another Alias account uses this address now, so nothing was changed.', l.again);
        }
        return badLink(reply, result.reason, l.what, l.again);
      }
      reply.header('cache-control', 'no-store');
      if (l.purpose === 'change_email') {
        return renderPage(reply, 'account_notice', { title: 'Address changed', message: `Your Alias account now uses ${result.user.email}.`,
          hint: 'Your previous address got a notice with a link to undo this for 7 days.', link: { href: '/account', label: 'Go to your account' } });
      }
      page.clearSessionCookie(reply);
      return renderPage(reply, 'account_notice', { title: 'Change undone', message: `Your Alias account uses ${result.user.email} again. Every browser was signed out and every app’s tokens were revoked.`,
        hint: 'If someone else changed your address, they may know your password: choose a new one.',
        link: { href: '/forgot', label: 'Choose a new password' } });
    });
  }
}
