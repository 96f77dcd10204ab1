// The pages of an authorization request: sign-in, account choice and consent
// (/interaction/:id). Every form carries the anti-CSRF token; a failed check changes
// nothing.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { PageContext } from '../http/context.js';
import { sendErrorPage } from '../http/errors.js';
import { renderPage } from '../http/render.js';
import type { Interaction } from '../store/types.js';
import type { AuthorizationRequest } from '../authorize/request.js';
import { proceed, recordConsent, resumeParked } from '../authorize/pipeline.js';
import { sendAuthorizationResponse, sendUntrustedPage } from '../http/authorization_response.js';
import { checkLoginForm } from '../http/login_form.js';
import { sourceOf } from '../http/context.js';
import { approvedFrom, consentView } from '../ui/consent_view.js';
import { allowClientLogo } from '../http/security_headers.js';
import { digest, safeEqual } from '../tokens/opaque.js';
import { signupUrl } from '../http/account_pages.js';
import { confirmAddressPage } from '../http/account_pages.js';
import { afterPassword, secondFactorError, secondFactorPage } from '../http/second_factor_page.js';
import { recentlyAuthenticated } from '../accounts/reauth.js';
import { passkeyScripts } from '../http/assets.js';

type Body = Record<string, unknown>;
const text = (v: unknown) => (typeof v === 'string' ? v : '');

export function interactionEndpoints(app: FastifyInstance, s: Services, page: PageContext) {
  /** Loads the interaction, refusing one that is unknown, expired or from another browser. */
  async function load(request: FastifyRequest, reply: FastifyReply):
    Promise<{ interaction: Interaction; req: AuthorizationRequest } | undefined> {
    const { id } = request.params as { id: string };
    // Ids are base64url (authorize.ts); anything else is unknown without asking the store.
    const interaction = typeof id === 'string' && /^[A-Za-z0-9_-]{1,64}$/.test(id) ? await s.store.interactions.get(id, s.now()) : undefined;
    const browser = page.existingBrowserId(request);
    if (!interaction || !browser || !safeEqual(digest(browser), interaction.browserDigest)) {
      await sendErrorPage(reply, 400, 'This sign-in request has expired',
        'It was started in another browser, has already been completed, or is too old.',
        'Go back to the application and start again.');
      return undefined;
    }
    // The parked request, already validated: resumed against its client as registered now.
    let resumed;
    try {
      resumed = await resumeParked(s, interaction);
    } catch (err) {
      await s.store.interactions.delete(interaction.id);
      throw err;
    }
    if (resumed.kind === 'valid') return { interaction, req: resumed.request };
    await s.store.interactions.delete(interaction.id);
    if (resumed.kind === 'untrusted') await sendUntrustedPage(reply, resumed.error);
    else await sendAuthorizationResponse(reply, resumed.response);
    return undefined;
  }

  /** The session of this interaction, and whether the user signed in during it. */
  async function sessionState(request: FastifyRequest, interaction: Interaction) {
    const session = await page.session(request);
    const authenticatedNow = !!session && interaction.authenticatedSession === session.idDigest;
    return { session, authenticatedNow, source: sourceOf(request) };
  }

  const action = (interaction: Interaction, step: string) => `/interaction/${interaction.id}/${step}`;

  async function loginPage(request: FastifyRequest, reply: FastifyReply, interaction: Interaction, req: AuthorizationRequest,
    opts: { status?: number; error?: string; email?: string } = {}) {
    reply.code(opts.status ?? 200);
    return renderPage(reply, 'login', {
      title: 'Sign in', clientName: req.client.name, action: action(interaction, 'login'),
      csrf: page.csrfToken(page.browserId(request, reply)), error: opts.error, email: opts.email ?? '',
      signupUrl: signupUrl(s, interaction.id),
      // "Use a passkey" continues this very interaction (endpoints/passkeys.ts).
      passkey: { interaction: interaction.id, scripts: passkeyScripts() },
    });
  }

  /** Step-up: the second factors this person has (a passkey, TOTP or both). */
  async function stepUpPage(reply: FastifyReply, interaction: Interaction, req: AuthorizationRequest, userId: string, csrf: string,
    error?: { status: number; error: string }) {
    const [totp, passkeys] = await Promise.all([s.store.secondFactors.getTotp(userId), s.passkeys.list(userId)]);
    return secondFactorPage(reply, { action: action(interaction, 'second-factor'), csrf, clientName: req.client.name, stepUp: true,
      totp: !!totp, passkey: passkeys.length ? { interaction: interaction.id, scripts: passkeyScripts() } : undefined, ...error });
  }

  async function show(request: FastifyRequest, reply: FastifyReply, interaction: Interaction, req: AuthorizationRequest) {
    reply.header('cache-control', 'no-store');
    const user = await sessionState(request, interaction);
    const outcome = await proceed(s, req, user);
    if (outcome.kind === 'respond') {
      await s.store.interactions.delete(interaction.id);
      return sendAuthorizationResponse(reply, outcome.response);
    }
    const { session } = user;
    if (outcome.page === 'login') return loginPage(request, reply, interaction, req);
    const account = await s.accounts.get(session!.userId);
    const csrf = page.csrfToken(page.browserId(request, reply));
    if (outcome.page === 'confirm_address') {
      return confirmAddressPage(reply, { email: account?.email ?? '', csrf, clientName: req.client.name, interaction: interaction.id });
    }
    if (outcome.page === 'second_factor') return stepUpPage(reply, interaction, req, session!.userId, csrf);
    if (outcome.page === 'mfa_setup') {
      reply.header('cache-control', 'no-store');
      // Not a dead end: both ways to a second factor, each coming back to this request.
      // Adding a passkey needs a recent sign-in; an older session confirms it is the person first.
      return renderPage(reply, 'mfa_setup', { title: 'Two-step sign-in needed', clientName: req.client.name, email: account?.email ?? '',
        setupUrl: `/account/totp?interaction=${interaction.id}`, csrf, interaction: interaction.id,
        canAddPasskey: recentlyAuthenticated(session!, s.now()), scripts: passkeyScripts() });
    }
    if (outcome.page === 'select_account') {
      return renderPage(reply, 'select_account', { title: 'Choose an account', clientName: req.client.name,
        action: action(interaction, 'select'), csrf, email: account?.email ?? '' });
    }
    allowClientLogo(reply, req.client.logoUri);
    // RFC 8707: a resource's scopes are offered with the API's registered name.
    const resourceNames = new Map<string, string>();
    for (const uri of req.resources) {
      const r = await s.store.resources.get(uri);
      if (r) resourceNames.set(uri, r.name);
    }
    return renderPage(reply, 'consent', {
      ...consentView(req.client, req.scopes, req.channels, resourceNames), email: account?.email ?? '',
      action: action(interaction, 'consent'), csrf,
    });
  }

  app.get('/interaction/:id', async (request, reply) => {
    const loaded = await load(request, reply);
    if (!loaded) return reply;
    return show(request, reply, loaded.interaction, loaded.req);
  });

  /** Forms: CSRF first; a failure changes nothing at all. */
  async function form(request: FastifyRequest, reply: FastifyReply) {
    const loaded = await load(request, reply);
    if (!loaded) return undefined;
    reply.header('cache-control', 'no-store');
    const body = (request.body && typeof request.body === 'object' ? request.body : {}) as Body;
    if (!page.checkCsrf(request, body.csrf)) {
      await sendErrorPage(reply, 403, 'This form has expired', 'The form was not sent from this browser’s Alias page, so nothing was changed.',
        'Go back, reload the page and try again.');
      return undefined;
    }
    return { ...loaded, body };
  }

  app.post('/interaction/:id/login', async (request, reply) => {
    const f = await form(request, reply);
    if (!f) return reply;
    const result = await checkLoginForm(s, request, reply, f.body, { clientId: f.req.client.id, via: 'authorize' });
    if ('failed' in result) return loginPage(request, reply, f.interaction, f.req, result.failed);
    return afterPassword(s, page, request, reply, result.user, { interactionId: f.interaction.id, next: `/interaction/${f.interaction.id}` },
      f.req.client.name);
  });

  // Step-up (issue 15 §3): the signed-in person gives their second factor; its methods
  // join the session's amr, and the request goes on (interaction_policy.ts needsSecondFactor).
  app.post('/interaction/:id/second-factor', async (request, reply) => {
    const f = await form(request, reply);
    if (!f) return reply;
    const { session } = await sessionState(request, f.interaction);
    if (!session) return reply.redirect(`/interaction/${f.interaction.id}`, 303);
    const result = await s.secondFactors.check(session.userId, text(f.body.code), sourceOf(request), 'step_up');
    if (!result.ok) {
      if (result.reason === 'not_enrolled') return reply.redirect(`/interaction/${f.interaction.id}`, 303);
      if (result.reason === 'throttled') reply.header('retry-after', String(result.retryAfter));
      return stepUpPage(reply, f.interaction, f.req, session.userId, page.csrfToken(page.browserId(request, reply)), secondFactorError(result));
    }
    await s.sessions.addMethods(session, result.amr);
    return reply.redirect(`/interaction/${f.interaction.id}`, 303);
  });

  app.post('/interaction/:id/select', async (request, reply) => {
    const f = await form(request, reply);
    if (!f) return reply;
    const { session } = await sessionState(request, f.interaction);
    if (f.body.account === 'current' && session) {
      await s.store.interactions.setAuthenticatedSession(f.interaction.id, session.idDigest);
      return reply.redirect(`/interaction/${f.interaction.id}`, 303);
    }
    return loginPage(request, reply, f.interaction, f.req);
  });

  app.post('/interaction/:id/consent', async (request, reply) => {
    const f = await form(request, reply);
    if (!f) return reply;
    const { interaction, req, body } = f;
    const user = await sessionState(request, interaction);
    const outcome = await proceed(s, req, user);
    if (outcome.kind === 'respond') {
      await s.store.interactions.delete(interaction.id);
      return sendAuthorizationResponse(reply, outcome.response);
    }
    const { session } = user;
    if (outcome.page !== 'consent' || !session) return reply.redirect(`/interaction/${interaction.id}`, 303);
    const decision = body.decision;
    if (decision !== 'allow' && decision !== 'deny') {
      return sendErrorPage(reply, 400, 'Bad request', 'Choose Allow or Deny.');
    }
    await s.store.interactions.delete(interaction.id);
    // openid is always granted on approval; everything else only if ticked.
    const answer = await recordConsent(s, req, session,
      decision === 'deny' ? 'deny' : { allow: approvedFrom(body, req.scopes, req.channels) }, user.source);
    return sendAuthorizationResponse(reply, answer.response);
  });
}
