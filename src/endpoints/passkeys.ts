// The JSON side of passkeys (issue 15 §1, §3), called by /static/passkeys.js:
//   POST /api/passkeys/register/options      {csrf}                         → creation options
//   POST /api/passkeys/register/verify       {csrf, response, name?, interaction?} → {passkey: {id, name}, location}
//   POST /api/passkeys/authenticate/options  {csrf}                         → request options
//   POST /api/passkeys/authenticate/verify   {csrf, response, interaction?} → {location}
//   POST /api/passkeys/reauth/verify         {csrf, response, next?}        → {location}   (re-authentication)
//   POST /api/passkeys/step-up/verify        {csrf, response, interaction}  → {location}   (acr_values step-up)
// Every body is JSON carrying the page's anti-CSRF token; registering needs a signed-in
// session whose sign-in is recent (accounts/reauth.ts); re-authentication and step-up need
// a session and accept only that person's own passkeys. Errors are {error,
// error_description} with a 4xx status, never a 500. The ceremonies' rules live in
// accounts/passkeys.ts; sign-up and reset with a passkey in endpoints/passkey_accounts.ts.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { PageContext } from '../http/context.js';
import { sourceOf } from '../http/context.js';
import { OAuthError } from '../oauth/errors.js';
import { recentlyAuthenticated, reauthNext } from '../accounts/reauth.js';
import { ownInteraction } from '../http/account_pages.js';
import { checkedJson, fail, goTo, refused } from '../http/passkey_api.js';

export function passkeyEndpoints(app: FastifyInstance, s: Services, page: PageContext) {
  const checked = (request: FastifyRequest, reply: FastifyReply) => checkedJson(page, request, reply);

  /** The signed-in session, or an error already sent. */
  async function signedIn(request: FastifyRequest, reply: FastifyReply) {
    const session = await page.session(request);
    if (!session) await fail(reply, new OAuthError('login_required', 'sign in first', { status: 401 }));
    return session;
  }

  /** The signed-in, recently re-authenticated user for a registration, or an error already sent. */
  async function registrant(request: FastifyRequest, reply: FastifyReply) {
    const session = await signedIn(request, reply);
    if (!session) return undefined;
    if (!recentlyAuthenticated(session, s.now())) {
      await fail(reply, new OAuthError('interaction_required', 'adding a passkey needs a recent sign-in: confirm it is you first', { status: 403 }));
      return undefined;
    }
    const user = await s.accounts.get(session.userId);
    if (!user) await fail(reply, new OAuthError('login_required', 'sign in first', { status: 401 }));
    return user && { user, session };
  }

  app.post('/api/passkeys/register/options', async (request, reply) => {
    const c = checked(request, reply);
    if (!c) return reply;
    const r = await registrant(request, reply);
    if (!r) return reply;
    return reply.header('cache-control', 'no-store').send(await s.passkeys.registrationOptions(r.user, c.browserId));
  });

  app.post('/api/passkeys/register/verify', async (request, reply) => {
    const c = checked(request, reply);
    if (!c) return reply;
    const name = c.body.name;
    if (name !== undefined && typeof name !== 'string') return fail(reply, new OAuthError('invalid_request', 'name must be a string'));
    const r = await registrant(request, reply);
    if (!r) return reply;
    const interaction = c.body.interaction === undefined ? undefined : await ownInteraction(s, page, request, c.body.interaction);
    const result = await s.passkeys.register({ user: r.user, browserId: c.browserId, response: c.body.response, name,
      source: { ip: sourceOf(request), via: interaction ? 'authorize' : 'account' } });
    if (!result.ok) return refused(reply, result);
    // The new passkey was made with user verification, just now, by the signed-in person:
    // this session has both factors (as the first TOTP code does, account_mfa.ts), so the
    // "two-step sign-in needed" page can go on to the app.
    await s.sessions.addMethods(r.session, result.amr);
    return reply.header('cache-control', 'no-store').send({ passkey: { id: result.passkey.id, name: result.passkey.name },
      location: interaction ? `/interaction/${interaction.id}` : '/account?passkey=added#passkeys' });
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
    // Exactly as the password form does (endpoints/interaction.ts): the interaction
    // resumes with this session, and its checks (a verified address, consent) follow.
    await page.startSession(request, reply, result.user.id, { amr: result.amr, interaction: interaction?.id });
    if (interaction) return goTo(reply, `/interaction/${interaction.id}`);
    return goTo(reply, '/account');
  });

  // Re-authentication (accounts/reauth.ts) with a passkey instead of the password: the
  // signed-in person's own passkey only. As the password form does, a new session (new id,
  // auth time now) replaces the old one, marked with what the passkey proved.
  app.post('/api/passkeys/reauth/verify', async (request, reply) => {
    const c = checked(request, reply);
    if (!c) return reply;
    const session = await signedIn(request, reply);
    if (!session) return reply;
    const result = await s.passkeys.authenticate({ browserId: c.browserId, response: c.body.response, source: sourceOf(request),
      via: 'reauth', userId: session.userId });
    if (!result.ok) return refused(reply, result);
    await page.startSession(request, reply, session.userId, { amr: result.amr });
    return goTo(reply, reauthNext(c.body.next));
  });

  // Step-up (issue 15 §3, interaction_policy.ts needsSecondFactor): the signed-in person's
  // own passkey adds hwk|swk + user to the session's methods, which then reach
  // urn:alias:acr:mfa, and the authorization request goes on.
  app.post('/api/passkeys/step-up/verify', async (request, reply) => {
    const c = checked(request, reply);
    if (!c) return reply;
    const interaction = await ownInteraction(s, page, request, c.body.interaction);
    if (!interaction) {
      return fail(reply, new OAuthError('invalid_request', 'this sign-in request has expired or belongs to another browser; start again from the app'));
    }
    const session = await signedIn(request, reply);
    if (!session) return reply;
    const result = await s.passkeys.authenticate({ browserId: c.browserId, response: c.body.response, source: sourceOf(request),
      clientId: interaction.clientId, via: 'step_up', userId: session.userId });
    if (!result.ok) return refused(reply, result);
    await s.sessions.addMethods(session, result.amr);
    return goTo(reply, `/interaction/${interaction.id}`);
  });
}
