// The device pages (RFC 8628 §3.3): enter the code → sign in → consent that names the
// client and warns about codes from someone else → done. Every form has CSRF protection.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { PageContext } from '../http/context.js';
import { sourceOf } from '../http/context.js';
import { sendErrorPage } from '../http/errors.js';
import { renderPage } from '../http/render.js';
import { formatUserCode } from '../oauth/user_code.js';
import type { DeviceCode } from '../store/types.js';
import { approvedFrom, consentView } from '../ui/consent_view.js';
import { allowClientLogo } from '../http/security_headers.js';
import { checkLoginForm } from '../http/login_form.js';
import { afterPassword } from '../http/second_factor_page.js';
import { ACR_MFA, satisfiesAcr } from '../oauth/acr.js';
import { confirmAddressPage } from '../http/account_pages.js';
import { signupUrl } from '../http/account_pages.js';

type Body = Record<string, unknown>;
const WARNING = 'Continue only if you started this on your own device just now. If someone gave you this code, deny: ' +
  'approving would give them access to your account.';

export function deviceEndpoints(app: FastifyInstance, s: Services, page: PageContext) {
  const bodyOf = (request: FastifyRequest): Body =>
    (request.body && typeof request.body === 'object' ? request.body : {}) as Body;

  async function codePage(request: FastifyRequest, reply: FastifyReply, userCode: string, error?: string, status = 200) {
    reply.code(status).header('cache-control', 'no-store');
    return renderPage(reply, 'device', { title: 'Connect a device', csrf: page.csrfToken(page.browserId(request, reply)),
      userCode, error });
  }

  async function csrfFailed(request: FastifyRequest, reply: FastifyReply, body: Body): Promise<boolean> {
    if (page.checkCsrf(request, body.csrf)) return false;
    await sendErrorPage(reply, 403, 'This form has expired', 'The form was not sent from this browser’s Alias page, so nothing was changed.',
      'Go back, reload the page and try again.');
    return true;
  }

  /** The pending request a user code names, or an answer already sent (wrong codes count per source). */
  async function pending(request: FastifyRequest, reply: FastifyReply, raw: unknown):
    Promise<DeviceCode | 'answered'> {
    const found = await s.deviceFlow.find(typeof raw === 'string' ? raw : undefined, sourceOf(request));
    if (found.ok) return found.request;
    if (found.reason === 'throttled') {
      reply.header('retry-after', String(found.retryAfter));
      await codePage(request, reply, typeof raw === 'string' ? raw : '', `Too many wrong codes. Try again in ${found.retryAfter} seconds.`, 429);
      return 'answered';
    }
    await codePage(request, reply, typeof raw === 'string' ? raw.slice(0, 20) : '', 'That code is not valid or has expired. Check your device and try again.', 400);
    return 'answered';
  }

  const approveUrl = (rec: DeviceCode) => `/device/approve?user_code=${formatUserCode(rec.userCode)}`;

  async function approvePage(request: FastifyRequest, reply: FastifyReply, rec: DeviceCode) {
    reply.header('cache-control', 'no-store');
    const client = await s.clients.get(rec.clientId);
    if (!client) return sendErrorPage(reply, 400, 'Unknown application', 'The application that asked for this code no longer exists.');
    const csrf = page.csrfToken(page.browserId(request, reply));
    const hidden = [{ name: 'user_code', value: formatUserCode(rec.userCode) }];
    const session = await page.session(request);
    if (!session) {
      return renderPage(reply, 'login', { title: 'Sign in', clientName: client.name, action: '/device/login', csrf, hidden, email: '',
        signupUrl: signupUrl(s) });
    }
    const user = await s.accounts.get(session.userId);
    // Issue 14 §2: an unconfirmed address cannot approve a device either.
    if (user && !user.emailVerified) return confirmAddressPage(reply, { email: user.email, csrf, clientName: client.name });
    allowClientLogo(reply, client.logoUri);
    // Issue 15 §3: a client registered with --require-mfa gets only two-step sign-ins; a
    // password-only session signs in again (the second page asks for the code), and a
    // person without a second factor is shown how to set one up.
    if (client.requireMfa && !satisfiesAcr(session.amr, ACR_MFA)) {
      if (!(await s.store.secondFactors.getTotp(session.userId))) {
        return renderPage(reply, 'mfa_setup', { title: 'Two-step sign-in needed', clientName: client.name, email: user?.email ?? '',
          setupUrl: '/account/totp' });
      }
      return renderPage(reply, 'login', { title: 'Sign in', clientName: client.name, action: '/device/login', csrf, hidden, email: user?.email ?? '',
        error: `${client.name} needs two-step sign-in: enter your password again, then a code from your authenticator app.` });
    }
    return renderPage(reply, 'consent', { ...consentView(client, rec.scopes, rec.channels), email: user?.email ?? '',
      action: '/device/approve', csrf, hidden, warning: WARNING });
  }

  app.get('/device', async (request, reply) => {
    const q = request.query as Record<string, unknown>;
    return codePage(request, reply, typeof q.user_code === 'string' ? q.user_code.slice(0, 20) : '');
  });

  app.post('/device', async (request, reply) => {
    const body = bodyOf(request);
    if (await csrfFailed(request, reply, body)) return reply;
    const rec = await pending(request, reply, body.user_code);
    if (rec === 'answered') return reply;
    return reply.redirect(approveUrl(rec), 303);
  });

  app.get('/device/approve', async (request, reply) => {
    const rec = await pending(request, reply, (request.query as Record<string, unknown>).user_code);
    if (rec === 'answered') return reply;
    return approvePage(request, reply, rec);
  });

  app.post('/device/login', async (request, reply) => {
    const body = bodyOf(request);
    if (await csrfFailed(request, reply, body)) return reply;
    const rec = await pending(request, reply, body.user_code);
    if (rec === 'answered') return reply;
    const result = await checkLoginForm(s, request, reply, body, { clientId: rec.clientId, via: 'device' });
    if ('failed' in result) {
      const client = await s.clients.get(rec.clientId);
      reply.code(result.failed.status).header('cache-control', 'no-store');
      return renderPage(reply, 'login', { title: 'Sign in', clientName: client?.name ?? '', action: '/device/login',
        csrf: page.csrfToken(page.browserId(request, reply)), hidden: [{ name: 'user_code', value: formatUserCode(rec.userCode) }],
        email: result.failed.email, error: result.failed.error, signupUrl: signupUrl(s) });
    }
    return afterPassword(s, page, request, reply, result.user, { next: approveUrl(rec) }, (await s.clients.get(rec.clientId))?.name);
  });

  app.post('/device/approve', async (request, reply) => {
    const body = bodyOf(request);
    if (await csrfFailed(request, reply, body)) return reply;
    const rec = await pending(request, reply, body.user_code);
    if (rec === 'answered') return reply;
    const session = await page.session(request);
    if (!session) return reply.redirect(approveUrl(rec), 303);
    if (!(await s.accounts.get(session.userId))?.emailVerified) return approvePage(request, reply, rec);
    if ((await s.clients.get(rec.clientId))?.requireMfa && !satisfiesAcr(session.amr, ACR_MFA)) return approvePage(request, reply, rec);
    if (body.decision !== 'allow' && body.decision !== 'deny') {
      return sendErrorPage(reply, 400, 'Bad request', 'Choose Allow or Deny.');
    }
    reply.header('cache-control', 'no-store');
    const decider = { userId: session.userId, authTime: session.authTime, amr: session.amr };
    if (body.decision === 'deny') {
      await s.deviceFlow.deny(rec, decider);
      return renderPage(reply, 'device_done', { title: 'Request denied', approved: false });
    }
    const { approvedScopes, approvedChannels } = approvedFrom(body, rec.scopes, rec.channels);
    await s.deviceFlow.approve(rec, { ...decider, approvedScopes, approvedChannels, source: { ip: sourceOf(request), via: 'device' } });
    return renderPage(reply, 'device_done', { title: 'Device connected', approved: true });
  });
}
