// The second page of a password sign-in (issue 15 §2): POST /login/second-factor with the
// pending sign-in (http/second_factor_page.ts) and a TOTP or recovery code. The pending
// sign-in must belong to this browser and still be unused and fresh; the code is checked
// (attempts per account, reserved first); then the pending sign-in is used up, in one
// statement, and the session starts with the methods of both steps (RFC 8176: pwd, otp,
// mfa; or pwd, mfa with a recovery code), and the person goes on where the password
// sign-in would have sent them.
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import type { PageContext } from '../http/context.js';
import { sourceOf } from '../http/context.js';
import { sendErrorPage } from '../http/errors.js';
import { ownInteraction } from '../http/account_pages.js';
import { SECOND_FACTOR_ACTION, secondFactorError, secondFactorPage } from '../http/second_factor_page.js';
import { digest, safeEqual } from '../tokens/opaque.js';
import { PASSWORD_AMR } from '../oauth/acr.js';

const PENDING = /^[A-Za-z0-9_-]{32,128}$/;
const text = (v: unknown) => (typeof v === 'string' ? v : '');

export function secondFactorEndpoints(app: FastifyInstance, s: Services, page: PageContext) {
  const gone = (reply: Parameters<typeof sendErrorPage>[0]) => sendErrorPage(reply, 400, 'This sign-in has expired',
    'The code has to be entered within 5 minutes of the password, in the same browser, once.', 'Sign in again.');

  app.post(SECOND_FACTOR_ACTION, async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const body = (request.body && typeof request.body === 'object' ? request.body : {}) as Record<string, unknown>;
    if (!page.checkCsrf(request, body.csrf)) {
      return sendErrorPage(reply, 403, 'This form has expired', 'The form was not sent from this browser’s Alias page, so nothing was changed.',
        'Go back, reload the page and try again.');
    }
    const pending = text(body.pending);
    const browser = page.existingBrowserId(request);
    const found = PENDING.test(pending) ? await s.store.linkTokens.get(digest(pending)) : undefined;
    if (!found || !browser || found.purpose !== 'second_factor' || found.usedAt !== null || found.expiresAt <= s.now()
      || !safeEqual(found.data.browser ?? '', digest(browser))) {
      return gone(reply);
    }
    const interaction = found.data.interaction ? await ownInteraction(s, page, request, found.data.interaction) : undefined;
    const clientName = interaction ? (await s.clients.get(interaction.clientId))?.name : undefined;
    const result = await s.secondFactors.check(found.userId, text(body.code), sourceOf(request), 'sign_in');
    if (!result.ok) {
      if (result.reason === 'not_enrolled') return gone(reply);
      if (result.reason === 'throttled') reply.header('retry-after', String(result.retryAfter));
      return secondFactorPage(reply, { action: SECOND_FACTOR_ACTION, csrf: page.csrfToken(browser), pending, clientName,
        ...secondFactorError(result) });
    }
    // Single use: of two posts racing with right codes, one signs in.
    const used = await s.links.use(s.store.linkTokens, 'second_factor', pending);
    if (!used.ok) return gone(reply);
    await page.startSession(request, reply, found.userId, { amr: [...PASSWORD_AMR, ...result.amr], interaction: interaction?.id });
    if (found.data.interaction && !interaction) {
      return sendErrorPage(reply, 400, 'This sign-in request has expired', 'You are signed in to Alias, but the app’s request is too old or was completed already.',
        'Go back to the application and start again.');
    }
    const next = found.data.next ?? '/account';
    return reply.redirect(next.startsWith('/') && !next.startsWith('//') ? next : '/account', 303);
  });
}
