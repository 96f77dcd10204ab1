// The JSON side of passkeys (issue 15 §1), called by /static/passkeys.js:
//   POST /api/passkeys/register/options      {csrf}                       → creation options
//   POST /api/passkeys/register/verify       {csrf, response, name?}      → {passkey: {id, name}}
//   POST /api/passkeys/authenticate/options  {csrf}                       → request options
//   POST /api/passkeys/authenticate/verify   {csrf, response, interaction?} → {location}
// Every body is JSON carrying the page's anti-CSRF token; registering needs a signed-in
// session whose sign-in is recent (accounts/reauth.ts). Errors are {error,
// error_description} with a 4xx status, never a 500. The pages (sign-in, /account) are
// rendered by their own endpoints; the ceremonies' rules live in accounts/passkeys.ts.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { PageContext } from '../http/context.js';
import { sourceOf } from '../http/context.js';
import { sendOAuthError } from '../http/errors.js';
import { OAuthError } from '../oauth/errors.js';
import { recentlyAuthenticated } from '../accounts/reauth.js';
import { ownInteraction } from '../http/account_pages.js';
import type { PasskeyFailure } from '../accounts/passkeys.js';

type Body = Record<string, unknown>;

const STATUS: Record<Exclude<PasskeyFailure['reason'], 'throttled'>, number> = {
  challenge: 400, invalid: 400, unknown: 400, clone: 403, duplicate: 409, limit: 409,
};

export function passkeyEndpoints(app: FastifyInstance, s: Services, page: PageContext) {
  const fail = (reply: FastifyReply, err: OAuthError) => sendOAuthError(reply, err);
  const refused = (reply: FastifyReply, f: PasskeyFailure) => {
    if (f.reason === 'throttled') {
      return fail(reply, new OAuthError('too_many_requests', `too many failed passkey sign-ins; try again in ${f.retryAfter} seconds`,
        { status: 429, retryAfter: f.retryAfter }));
    }
    return fail(reply, new OAuthError('invalid_request', f.message, { status: STATUS[f.reason] }));
  };

  /** The JSON body with a valid anti-CSRF token and this browser's id, or an error already sent. */
  function checked(request: FastifyRequest, reply: FastifyReply): { body: Body; browserId: string } | undefined {
    const body = request.body;
    if (!body || typeof body !== 'object' || Array.isArray(body) || !String(request.headers['content-type'] ?? '').startsWith('application/json')) {
      void fail(reply, new OAuthError('invalid_request', 'the body must be a JSON object'));
      return undefined;
    }
    const browserId = page.existingBrowserId(request);
    if (!browserId || !page.checkCsrf(request, (body as Body).csrf)) {
      void fail(reply, new OAuthError('access_denied', 'the anti-CSRF token is missing or does not belong to this browser', { status: 403 }));
      return undefined;
    }
    return { body: body as Body, browserId };
  }

  /** The signed-in, recently re-authenticated user for a registration, or an error already sent. */
  async function registrant(request: FastifyRequest, reply: FastifyReply) {
    const session = await page.session(request);
    if (!session) {
      await fail(reply, new OAuthError('login_required', 'sign in first', { status: 401 }));
      return undefined;
    }
    if (!recentlyAuthenticated(session, s.now())) {
      await fail(reply, new OAuthError('interaction_required', 'adding a passkey needs a recent sign-in: confirm your password first', { status: 403 }));
      return undefined;
    }
    const user = await s.accounts.get(session.userId);
    if (!user) await fail(reply, new OAuthError('login_required', 'sign in first', { status: 401 }));
    return user;
  }

  app.post('/api/passkeys/register/options', async (request, reply) => {
    const c = checked(request, reply);
    if (!c) return reply;
    const user = await registrant(request, reply);
    if (!user) return reply;
    return reply.header('cache-control', 'no-store').send(await s.passkeys.registrationOptions(user, c.browserId));
  });

  app.post('/api/passkeys/register/verify', async (request, reply) => {
    const c = checked(request, reply);
    if (!c) return reply;
    const name = c.body.name;
    if (name !== undefined && typeof name !== 'string') return fail(reply, new OAuthError('invalid_request', 'name must be a string'));
    const user = await registrant(request, reply);
    if (!user) return reply;
    const result = await s.passkeys.register({ user, browserId: c.browserId, response: c.body.response, name,
      source: { ip: sourceOf(request), via: 'account' } });
    if (!result.ok) return refused(reply, result);
    return reply.header('cache-control', 'no-store').send({ passkey: { id: result.passkey.id, name: result.passkey.name } });
  });

  app.post('/api/passkeys/authenticate/options', async (request, reply) => {
    const c = checked(request, reply);
    if (!c) return reply;
    return reply.header('cache-control', 'no-store').send(await s.passkeys.authenticationOptions(c.browserId));
  });

  app.post('/api/passkeys/authenticate/verify', async (request, reply) => {
    const c = checked(request, reply);
    if (!c) return reply;
    // The pending authorization request this sign-in continues, checked before anything
    // is spent: an unknown or foreign one changes nothing.
    const { interaction: interactionId } = c.body;
    const interaction = interactionId === undefined ? undefined : await ownInteraction(s, page, request, interactionId);
    if (interactionId !== undefined && !interaction) {
      return fail(reply, new OAuthError('invalid_request', 'this sign-in request has expired or belongs to another browser; start again from the app'));
    }
    const result = await s.passkeys.authenticate({ browserId: c.browserId, response: c.body.response, source: sourceOf(request),
      clientId: interaction?.clientId, via: interaction ? 'authorize' : 'account' });
    if (!result.ok) return refused(reply, result);
    // A new session (fixation), marked with what the passkey proved (RFC 8176: hwk|swk + user).
    const session = await page.startSession(request, reply, result.user.id, { amr: result.amr });
    if (interaction) {
      // Exactly as the password form does (endpoints/interaction.ts): the interaction
      // resumes with this session, and its checks (a verified address, consent) follow.
      await s.store.interactions.setAuthenticatedSession(interaction.id, session.idDigest);
      return reply.header('cache-control', 'no-store').send({ location: `/interaction/${interaction.id}` });
    }
    return reply.header('cache-control', 'no-store').send({ location: '/account' });
  });
}
