// The sign-up page (issue 14 §1): GET/POST /signup. A new account is unverified until its
// link is opened; a taken address gets the very same "check your mail" page. The pending
// authorization request (?interaction=ID, this browser's own) rides along in the link.
// Off with ALIAS_SIGNUP=closed / serve --signup closed: 404, and no link on the sign-in page.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { PageContext } from '../http/context.js';
import { sourceOf } from '../http/context.js';
import { sendErrorPage } from '../http/errors.js';
import { renderPage } from '../http/render.js';
import type { FieldErrors } from '../accounts/signup.js';
import { ownInteraction } from '../http/account_pages.js';
import { passkeyScripts } from '../http/assets.js';

type Fields = Record<string, unknown>;
const FIELDS = ['email', 'password', 'nickname', 'interaction', 'csrf'] as const;

export function signupEndpoints(app: FastifyInstance, s: Services, page: PageContext) {
  const notFound = (reply: FastifyReply) => sendErrorPage(reply, 404, 'Not found', 'There is no page at this address.');
  const badRequest = (reply: FastifyReply) => sendErrorPage(reply, 400, 'Bad request', 'The form was sent with a field more than once or in a shape it does not have.');

  async function form(request: FastifyRequest, reply: FastifyReply, interactionId: unknown,
    opts: { status?: number; email?: string; nickname?: string; errors?: FieldErrors; error?: string } = {}) {
    const interaction = await ownInteraction(s, page, request, interactionId);
    const client = interaction ? await s.clients.get(interaction.clientId) : undefined;
    reply.code(opts.status ?? 200).header('cache-control', 'no-store');
    return renderPage(reply, 'signup', {
      title: 'Create an account', csrf: page.csrfToken(page.browserId(request, reply)), interaction: interaction?.id,
      clientName: client?.name, email: opts.email ?? '', nickname: opts.nickname ?? '', errors: opts.errors ?? {}, error: opts.error,
      loginUrl: interaction ? `/interaction/${interaction.id}` : '/account', scripts: passkeyScripts(),
    });
  }

  app.get('/signup', async (request, reply) => {
    if (s.config.signup !== 'open') return notFound(reply);
    const q = (request.query ?? {}) as Fields;
    if (q.interaction !== undefined && typeof q.interaction !== 'string') return badRequest(reply);
    return form(request, reply, q.interaction);
  });

  // Where a sign-up with a passkey lands (passkeys.js, endpoints/passkey_accounts.ts): the
  // address is not in the URL (URLs reach logs), so the page names no address.
  app.get('/signup/sent', async (request, reply) => {
    if (s.config.signup !== 'open') return notFound(reply);
    const q = (request.query ?? {}) as Fields;
    const interaction = await ownInteraction(s, page, request, q.interaction);
    const client = interaction ? await s.clients.get(interaction.clientId) : undefined;
    reply.header('cache-control', 'no-store');
    return renderPage(reply, 'check_mail', { title: 'Check your mail', clientName: client?.name, passkey: true });
  });

  app.post('/signup', async (request, reply) => {
    if (s.config.signup !== 'open') return notFound(reply);
    const body = (request.body && typeof request.body === 'object' ? request.body : {}) as Fields;
    if (!page.checkCsrf(request, body.csrf)) {
      return sendErrorPage(reply, 403, 'This form has expired', 'The form was not sent from this browser’s Alias page, so nothing was changed.',
        'Go back, reload the page and try again.');
    }
    if (FIELDS.some((f) => body[f] !== undefined && typeof body[f] !== 'string')) return badRequest(reply);
    const str = (f: string) => (typeof body[f] === 'string' ? body[f] as string : '');
    // What the page echoes back stays short and printable; the checks below say what is wrong.
    const email = str('email').replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 320);
    const nickname = str('nickname').slice(0, 200);
    const interaction = await ownInteraction(s, page, request, body.interaction);
    const result = await s.signup.signUp({ email: str('email').includes('\u0000') ? '' : str('email'), password: str('password'),
      nickname, interactionId: interaction?.id, source: sourceOf(request) });
    if (!result.ok) {
      if (result.reason === 'throttled') {
        reply.header('retry-after', String(result.retryAfter));
        return form(request, reply, body.interaction, { status: 429, email, nickname,
          error: `Too many accounts were created from your network. Try again in ${Math.ceil(result.retryAfter / 60)} minute${result.retryAfter > 60 ? 's' : ''}.` });
      }
      if (result.reason === 'passkey') return badRequest(reply);
      return form(request, reply, body.interaction, { status: 400, email, nickname, errors: result.errors });
    }
    const client = interaction ? await s.clients.get(interaction.clientId) : undefined;
    reply.header('cache-control', 'no-store');
    return renderPage(reply, 'check_mail', { title: 'Check your mail', email: email.trim().toLowerCase(), clientName: client?.name });
  });
}
