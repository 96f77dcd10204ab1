// The pages of an authorization request: sign-in, account choice and consent
// (/interaction/:id). Every form carries the anti-CSRF token; a failed check changes
// nothing.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { PageContext } from '../http/context.js';
import { sourceOf } from '../http/context.js';
import { renderPage, sendErrorPage } from '../http/errors.js';
import type { Interaction, Session } from '../store/store.js';
import { parseAuthorizationRequest, RedirectableError, UntrustedRequestError, type AuthorizationRequest } from '../authorize/request.js';
import { codeRedirect, errorRedirect, proceed, tokenRights } from '../authorize/proceed.js';
import { untrustedPage } from './authorize.js';
import { OAuthError } from '../oauth/errors.js';
import { digest, safeEqual } from '../tokens/opaque.js';
import { intersect, sortScopes } from '../oauth/scopes.js';

const SCOPE_TEXT: Record<string, string> = {
  nickname: 'See your nickname',
  contact: 'Send you messages through Alias (your e-mail address stays private)',
  offline_access: 'Keep access while you are not using the app',
};

type Body = Record<string, unknown>;
const list = (v: unknown): string[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((x): x is string => typeof x === 'string');

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
    try {
      return { interaction, req: await parseAuthorizationRequest(interaction.params, s.clients.get) };
    } catch (err) {
      await s.store.interactions.delete(interaction.id);
      if (err instanceof UntrustedRequestError) await untrustedPage(reply, err);
      else if (err instanceof RedirectableError) await reply.redirect(errorRedirect(s.config.issuer, err.target, err.oauth), 303);
      else throw err;
      return undefined;
    }
  }

  /** The session of this interaction, and whether the user signed in during it. */
  async function sessionState(request: FastifyRequest, interaction: Interaction) {
    const session = await page.session(request);
    const authenticatedNow = !!session && interaction.authenticatedSession === session.idDigest;
    return { session, authenticatedNow };
  }

  const action = (interaction: Interaction, step: string) => `/interaction/${interaction.id}/${step}`;

  async function loginPage(request: FastifyRequest, reply: FastifyReply, interaction: Interaction, req: AuthorizationRequest,
    opts: { status?: number; error?: string; email?: string } = {}) {
    reply.code(opts.status ?? 200);
    return renderPage(reply, 'login', {
      title: 'Sign in', clientName: req.client.name, action: action(interaction, 'login'),
      csrf: page.csrfToken(page.browserId(request, reply)), error: opts.error, email: opts.email ?? '',
    });
  }

  async function show(request: FastifyRequest, reply: FastifyReply, interaction: Interaction, req: AuthorizationRequest) {
    reply.header('cache-control', 'no-store');
    const { session, authenticatedNow } = await sessionState(request, interaction);
    const outcome = await proceed(s, req, session, authenticatedNow);
    if (outcome.kind === 'redirect') {
      await s.store.interactions.delete(interaction.id);
      return reply.redirect(outcome.url, 303);
    }
    if (outcome.page === 'login') return loginPage(request, reply, interaction, req);
    const user = await s.accounts.get(session!.userId);
    const csrf = page.csrfToken(page.browserId(request, reply));
    if (outcome.page === 'select_account') {
      return renderPage(reply, 'select_account', { title: 'Choose an account', clientName: req.client.name,
        action: action(interaction, 'select'), csrf, email: user?.email ?? '' });
    }
    const grant = outcome.grant;
    const askable = sortScopes(req.scopes.filter((x) => x !== 'openid'));
    return renderPage(reply, 'consent', {
      title: `Allow ${req.client.name}`,
      clientName: req.client.name,
      email: user?.email ?? '',
      action: action(interaction, 'consent'),
      csrf,
      contact: req.scopes.includes('contact'),
      contactLabel: SCOPE_TEXT.contact,
      scopes: askable.map((name) => ({ name, description: SCOPE_TEXT[name] ?? name, checked: true })),
      channels: req.channels.map((name) => ({
        name,
        description: req.client.channels.find((c) => c.name === name)?.description ?? name,
        checked: true,
        granted: grant?.channels.includes(name) ?? false,
      })),
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
    const email = typeof f.body.email === 'string' ? f.body.email : '';
    const password = typeof f.body.password === 'string' ? f.body.password : '';
    // NUL never belongs in an address (and PostgreSQL cannot even look it up).
    if (!email || !password || email.includes('\u0000')) {
      return loginPage(request, reply, f.interaction, f.req, { status: 400, error: 'Enter your e-mail address and password.', email });
    }
    const result = await s.accounts.login(email, password, sourceOf(request));
    if (!result.ok) {
      if (result.reason === 'throttled') {
        reply.header('retry-after', String(result.retryAfter));
        return loginPage(request, reply, f.interaction, f.req, { status: 429, email,
          error: `Too many failed attempts. Try again in ${result.retryAfter} second${result.retryAfter === 1 ? '' : 's'}.` });
      }
      return loginPage(request, reply, f.interaction, f.req, { status: 401, email, error: 'The e-mail address or password is wrong.' });
    }
    const session = await page.startSession(request, reply, result.user.id);
    await s.store.interactions.setAuthenticatedSession(f.interaction.id, session.idDigest);
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
    const { session, authenticatedNow } = await sessionState(request, interaction);
    const outcome = await proceed(s, req, session, authenticatedNow);
    if (outcome.kind === 'redirect') {
      await s.store.interactions.delete(interaction.id);
      return reply.redirect(outcome.url, 303);
    }
    if (outcome.page !== 'consent' || !session) return reply.redirect(`/interaction/${interaction.id}`, 303);
    const decision = body.decision;
    if (decision !== 'allow' && decision !== 'deny') {
      return sendErrorPage(reply, 400, 'Bad request', 'Choose Allow or Deny.');
    }
    await s.store.interactions.delete(interaction.id);
    if (decision === 'deny') {
      return reply.redirect(errorRedirect(s.config.issuer, req, new OAuthError('access_denied', 'the user denied the request')), 303);
    }
    // openid is always granted on approval; everything else only if ticked.
    const approvedScopes = ['openid', ...intersect(req.scopes, list(body.scope)).filter((x) => x !== 'openid')];
    const approvedChannels = approvedScopes.includes('contact') ? intersect(req.channels, list(body.channel)) : [];
    const grant = await s.consent.record({
      userId: session.userId, clientId: req.client.id, requestedScopes: req.scopes,
      requestedChannels: req.scopes.includes('contact') ? req.channels : [], approvedScopes, approvedChannels,
    });
    return reply.redirect(await codeRedirect(s, req, grant, tokenRights(req, grant, approvedScopes, approvedChannels), session as Session), 303);
  });
}
