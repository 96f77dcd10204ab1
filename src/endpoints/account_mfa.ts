// Two-step sign-in on the account page (issue 15 §2): GET /account/totp (set up an
// authenticator app: a QR code drawn on the server as inline SVG, the key as text; or,
// when it is on, manage it), POST /account/totp/confirm (the first code turns it on and
// shows the ten recovery codes once), POST /account/totp/recovery-codes (a new set; the old
// one dies), POST /account/totp/disable. Every one needs a recent sign-in (accounts/reauth.ts)
// and a valid CSRF token; the logic is accounts/second_factor.ts.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import QRCode from 'qrcode';
import type { Services } from '../services.js';
import type { PageContext } from '../http/context.js';
import { sourceOf } from '../http/context.js';
import { sendErrorPage } from '../http/errors.js';
import { renderPage } from '../http/render.js';
import { ownInteraction } from '../http/account_pages.js';
import type { Session, User } from '../store/types.js';
import { recentlyAuthenticated } from '../accounts/reauth.js';
import type { Enrolment } from '../accounts/second_factor.js';
import { TOTP_AMR } from '../accounts/second_factor.js';

type Body = Record<string, unknown>;
const text = (v: unknown) => (typeof v === 'string' ? v : '');

export function accountMfaEndpoints(app: FastifyInstance, s: Services, page: PageContext) {
  const csrfOf = (request: FastifyRequest, reply: FastifyReply) => page.csrfToken(page.browserId(request, reply));
  const askReauth = (reply: FastifyReply) =>
    reply.header('cache-control', 'no-store').redirect(`/account/reauth?${new URLSearchParams({ next: '/account/totp' })}`, 303);

  /** The signed-in person, recently authenticated; or an answer already sent. */
  async function privileged(request: FastifyRequest, reply: FastifyReply, body?: Body): Promise<{ session: Session; user: User } | undefined> {
    if (body && !page.checkCsrf(request, body.csrf)) {
      await sendErrorPage(reply, 403, 'This form has expired', 'The form was not sent from this browser’s Alias page, so nothing was changed.',
        'Go back, reload the page and try again.');
      return undefined;
    }
    const session = await page.session(request);
    const user = session ? await s.accounts.get(session.userId) : undefined;
    if (!session || !user) {
      await reply.redirect('/account', 303);
      return undefined;
    }
    if (!recentlyAuthenticated(session, s.now())) {
      await askReauth(reply);
      return undefined;
    }
    return { session, user };
  }

  async function enrolPage(request: FastifyRequest, reply: FastifyReply, user: User, enrolment: Enrolment,
    opts: { status?: number; error?: string; interaction?: string } = {}) {
    // Drawn here, inline: no image request, nothing for a CSP to block, the key never in a URL.
    const qrSvg = await QRCode.toString(enrolment.uri, { type: 'svg', margin: 2, errorCorrectionLevel: 'M' });
    reply.code(opts.status ?? 200).header('cache-control', 'no-store');
    return renderPage(reply, 'totp_enrol', { title: 'Set up an authenticator app', email: user.email, secret: enrolment.secret, qrSvg,
      enrolment: enrolment.sealed, csrf: csrfOf(request, reply), error: opts.error, interaction: opts.interaction });
  }

  async function managePage(request: FastifyRequest, reply: FastifyReply, user: User, notice?: string) {
    const status = await s.secondFactors.status(user.id);
    reply.header('cache-control', 'no-store');
    return renderPage(reply, 'totp_manage', { title: 'Two-step sign-in', recoveryCodesLeft: status.recoveryCodesLeft,
      csrf: csrfOf(request, reply), notice });
  }

  function codesPage(reply: FastifyReply, codes: string[], title: string, message: string, next: { href: string; label: string }) {
    reply.header('cache-control', 'no-store');
    return renderPage(reply, 'recovery_codes', { title, message, codes, next });
  }

  app.get('/account/totp', async (request, reply) => {
    const p = await privileged(request, reply);
    if (!p) return reply;
    if ((await s.secondFactors.status(p.user.id)).totp) return managePage(request, reply, p.user);
    const interaction = await ownInteraction(s, page, request, (request.query as Record<string, unknown>).interaction);
    return enrolPage(request, reply, p.user, s.secondFactors.newEnrolment(p.user), { interaction: interaction?.id });
  });

  app.post('/account/totp/confirm', async (request, reply) => {
    const body = (request.body && typeof request.body === 'object' ? request.body : {}) as Body;
    const p = await privileged(request, reply, body);
    if (!p) return reply;
    const interaction = await ownInteraction(s, page, request, body.interaction);
    const result = await s.secondFactors.confirm(p.user, text(body.enrolment), text(body.code), sourceOf(request));
    if (!result.ok) {
      if (result.reason === 'exists') return managePage(request, reply, p.user, 'Two-step sign-in was already on.');
      const enrolment = result.reason === 'expired' ? s.secondFactors.newEnrolment(p.user) : s.secondFactors.openEnrolment(p.user, text(body.enrolment))!;
      if (result.reason === 'throttled') reply.header('retry-after', String(result.retryAfter));
      return enrolPage(request, reply, p.user, enrolment, { interaction: interaction?.id,
        status: result.reason === 'throttled' ? 429 : 400,
        error: result.reason === 'expired' ? 'That setup took too long. Scan this new code and try again.'
          : result.reason === 'throttled' ? `Too many wrong codes. Try again in ${result.retryAfter} seconds.`
            : 'That code is not right. Check the app shows a code for this account and enter the current one.' });
    }
    // The first code proved the app works: this session now has both factors (step-up).
    await s.sessions.addMethods(p.session, ['pwd', ...TOTP_AMR]);
    const client = interaction ? await s.clients.get(interaction.clientId) : undefined;
    return codesPage(reply, result.recoveryCodes, 'Two-step sign-in is on', 'Your authenticator app is set up.',
      interaction ? { href: `/interaction/${interaction.id}`, label: `Continue to ${client?.name ?? 'the app'}` }
        : { href: '/account', label: 'Back to your account' });
  });

  app.post('/account/totp/recovery-codes', async (request, reply) => {
    const body = (request.body && typeof request.body === 'object' ? request.body : {}) as Body;
    const p = await privileged(request, reply, body);
    if (!p) return reply;
    const codes = await s.secondFactors.renewRecoveryCodes(p.user, sourceOf(request));
    if (!codes) return reply.redirect('/account/totp', 303);
    return codesPage(reply, codes, 'New recovery codes', 'Your old recovery codes no longer work.', { href: '/account', label: 'Back to your account' });
  });

  app.post('/account/totp/disable', async (request, reply) => {
    const body = (request.body && typeof request.body === 'object' ? request.body : {}) as Body;
    const p = await privileged(request, reply, body);
    if (!p) return reply;
    const done = await s.secondFactors.disable(p.user, sourceOf(request));
    reply.header('cache-control', 'no-store');
    return renderPage(reply, 'account_notice', { title: 'Two-step sign-in is off',
      message: done ? 'Your authenticator app was removed and your recovery codes stopped working.' : 'Two-step sign-in was already off.',
      hint: 'Signing in now needs only your password.', link: { href: '/account', label: 'Back to your account' } });
  });
}
