// E-mail verification pages (issue 14 §2): /verify-email/TOKEN confirms the address, signs
// the person in and takes them back to the authorization request that sent them (if it
// is still pending in this browser), and the "confirm your address" page's resend button.
// Thin: parse → s.signup → answer.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { PageContext } from '../http/context.js';
import { sourceOf } from '../http/context.js';
import { sendErrorPage } from '../http/errors.js';
import { confirmAddressPage, ownInteraction } from '../http/account_pages.js';
import { renderPage } from '../http/render.js';

export function verifyEmailEndpoints(app: FastifyInstance, s: Services, page: PageContext) {
  app.get('/verify-email/:token', async (request, reply) => {
    reply.header('cache-control', 'no-store');
    const { token } = request.params as { token: string };
    const result = await s.signup.verify(typeof token === 'string' ? token : '', sourceOf(request));
    if (!result.ok) {
      if (result.reason === 'unknown') {
        return sendErrorPage(reply, 404, 'This link is not valid', 'Alias does not know this confirmation link. Check that the whole link was copied.');
      }
      return sendErrorPage(reply, 410, result.reason === 'used' ? 'This link was already used' : 'This link has expired',
        result.reason === 'used' ? 'Each confirmation link works once.' : 'Confirmation links work for 24 hours.',
        'Sign in: if your address still needs confirming, you can ask for a new link there.');
    }
    // A link is no password and no second factor: an account with TOTP on signs in on the
    // sign-in page (issue 15 §2), never through a mailed link.
    if (await s.store.secondFactors.getTotp(result.userId)) {
      return renderPage(reply, 'email_verified', { title: 'Address confirmed', note: 'Sign in with your password and your authenticator app to go on.' });
    }
    const interaction = result.interactionId ? await ownInteraction(s, page, request, result.interactionId) : undefined;
    // An account made with a passkey has no password: a session started here would claim
    // a password sign-in (amr pwd) that never happened. The passkey signs the person in:
    // back to the app's sign-in page when the request is still pending, else a note.
    if ((await s.store.users.get(result.userId))?.passwordHash === null) {
      if (interaction) return reply.redirect(`/interaction/${interaction.id}`, 303);
      return renderPage(reply, 'email_verified', { title: 'Address confirmed', note: 'Sign in with your passkey to go on.' });
    }
    await page.startSession(request, reply, result.userId, { interaction: interaction?.id });
    if (interaction) return reply.redirect(`/interaction/${interaction.id}`, 303);
    return renderPage(reply, 'email_verified', { title: 'Address confirmed',
      note: result.interactionId ? 'The sign-in request of the app you came from has expired or was started in another browser. ' +
        'Go back to the app and sign in again.' : undefined });
  });

  app.post('/verify-email/resend', async (request, reply) => {
    const body = (request.body && typeof request.body === 'object' ? request.body : {}) as Record<string, unknown>;
    if (!page.checkCsrf(request, body.csrf)) {
      return sendErrorPage(reply, 403, 'This form has expired', 'The form was not sent from this browser’s Alias page, so nothing was changed.',
        'Go back, reload the page and try again.');
    }
    const session = await page.session(request);
    const user = session ? await s.accounts.get(session.userId) : undefined;
    const interaction = await ownInteraction(s, page, request, body.interaction);
    const back = interaction ? `/interaction/${interaction.id}` : '/account';
    if (!session || !user || user.emailVerified) return reply.redirect(back, 303);
    const client = interaction ? await s.clients.get(interaction.clientId) : undefined;
    const view = { email: user.email, csrf: page.csrfToken(page.browserId(request, reply)), clientName: client?.name, interaction: interaction?.id };
    const result = await s.signup.resend(user.id, sourceOf(request), interaction?.id);
    if (!result.ok) {
      reply.header('retry-after', String(result.retryAfter));
      return confirmAddressPage(reply, { ...view, status: 429,
        error: `You asked for several links already. Try again in ${Math.ceil(result.retryAfter / 60)} minute${result.retryAfter > 60 ? 's' : ''}, or use the newest link you got.` });
    }
    return confirmAddressPage(reply, { ...view, notice: `We sent a new link to ${user.email}. Older links no longer work.` });
  });
}
