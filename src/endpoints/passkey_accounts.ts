// A passkey as an account's first or new way in (issue 15 §1), called by /static/passkeys.js:
//   POST /api/passkeys/signup/options  {csrf, email, nickname?}                    → creation options
//   POST /api/passkeys/signup/verify   {csrf, response, email, nickname?, interaction?} → {location: /signup/sent}
//   POST /api/passkeys/reset/options   {csrf, token}                               → creation options
//   POST /api/passkeys/reset/verify    {csrf, token, response}                     → {location: /account?reset=passkey}
// Sign-up with a passkey follows the password sign-up's rules (accounts/signup.ts): the
// account starts unverified and is mailed its link; counted per source and per address;
// a taken address gets the same answer (its owner a mail). A reset link (accounts/recovery.ts)
// adds a passkey instead of a password and ends every session, as a reset does.
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import type { PageContext } from '../http/context.js';
import { sourceOf } from '../http/context.js';
import { OAuthError } from '../oauth/errors.js';
import { ownInteraction } from '../http/account_pages.js';
import { checkedJson, fail, goTo, refused, stringField } from '../http/passkey_api.js';
import { checkSignupFields } from '../accounts/signup.js';
import { peekLink, resetWithPasskey } from '../accounts/recovery.js';

const LINK_STATE = { unknown: 'this link is unknown', used: 'this link was already used', expired: 'this link has expired' } as const;

export function passkeyAccountEndpoints(app: FastifyInstance, s: Services, page: PageContext) {
  const invalid = (message: string) => new OAuthError('invalid_request', message);

  /** The sign-up's address and nickname, or an error already sent (with the form's own words). */
  function fields(body: Record<string, unknown>, reply: Parameters<typeof fail>[0]) {
    const email = stringField(body, 'email', 320);
    const nickname = stringField(body, 'nickname', 200);
    if (email === false || nickname === false) {
      void fail(reply, invalid('email and nickname must be short strings'));
      return undefined;
    }
    const checked = checkSignupFields(email, nickname);
    const problem = checked.errors.email ?? checked.errors.nickname;
    if (problem) {
      void fail(reply, invalid(problem));
      return undefined;
    }
    return checked;
  }

  app.post('/api/passkeys/signup/options', async (request, reply) => {
    if (s.config.signup !== 'open') return fail(reply, new OAuthError('invalid_request', 'sign-up is closed', { status: 404 }));
    const c = checkedJson(page, request, reply);
    if (!c) return reply;
    const f = fields(c.body, reply);
    if (!f) return reply;
    return reply.header('cache-control', 'no-store').send(await s.passkeys.signupOptions(f.email, c.browserId));
  });

  app.post('/api/passkeys/signup/verify', async (request, reply) => {
    if (s.config.signup !== 'open') return fail(reply, new OAuthError('invalid_request', 'sign-up is closed', { status: 404 }));
    const c = checkedJson(page, request, reply);
    if (!c) return reply;
    const f = fields(c.body, reply);
    if (!f) return reply;
    const interaction = await ownInteraction(s, page, request, c.body.interaction);
    const result = await s.signup.signUp({ email: f.email, nickname: f.nickname ?? undefined, interactionId: interaction?.id,
      source: sourceOf(request),
      passkey: () => s.passkeys.verifyNew({ browserId: c.browserId, response: c.body.response, signup: f.email }) });
    if (!result.ok) {
      if (result.reason === 'passkey') return refused(reply, result.failure);
      if (result.reason === 'throttled') {
        return fail(reply, new OAuthError('too_many_requests', `too many accounts were created from your network; try again in ${result.retryAfter} seconds`,
          { status: 429, retryAfter: result.retryAfter }));
      }
      return fail(reply, invalid(Object.values(result.errors)[0] ?? 'the sign-up is incomplete'));
    }
    return goTo(reply, interaction ? `/signup/sent?interaction=${interaction.id}` : '/signup/sent');
  });

  /** The reset link's secret from the body, checked without using it; or an error already sent. */
  async function resetLink(body: Record<string, unknown>, reply: Parameters<typeof fail>[0]) {
    const token = stringField(body, 'token', 128);
    if (!token) {
      await fail(reply, invalid('token must be the reset link\'s secret'));
      return undefined;
    }
    const seen = await peekLink(s, 'reset_password', token);
    if (!seen.ok) {
      await fail(reply, invalid(`${LINK_STATE[seen.reason]}; ask for a new one with “Forgot your password?”`));
      return undefined;
    }
    return { token, user: seen.user };
  }

  app.post('/api/passkeys/reset/options', async (request, reply) => {
    const c = checkedJson(page, request, reply);
    if (!c) return reply;
    const link = await resetLink(c.body, reply);
    if (!link) return reply;
    return reply.header('cache-control', 'no-store').send(await s.passkeys.registrationOptions(link.user, c.browserId));
  });

  app.post('/api/passkeys/reset/verify', async (request, reply) => {
    const c = checkedJson(page, request, reply);
    if (!c) return reply;
    const link = await resetLink(c.body, reply);
    if (!link) return reply;
    const result = await resetWithPasskey(s, link.token,
      (user) => s.passkeys.verifyNew({ browserId: c.browserId, response: c.body.response, user }), sourceOf(request));
    if (!result.ok) {
      if (result.reason === 'passkey') return refused(reply, result.failure);
      if (result.reason === 'weak') return fail(reply, invalid(result.message));
      return fail(reply, invalid(`${LINK_STATE[result.reason]}; ask for a new one with “Forgot your password?”`));
    }
    // Every session ended, this browser's too: the person signs in with the new passkey.
    page.clearSessionCookie(reply);
    return goTo(reply, '/account?reset=passkey');
  });
}
