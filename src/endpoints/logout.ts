// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): GET/POST /oauth2/logout.
// A request is trusted when its id_token_hint was issued to this browser's user; any
// other request that would end a session asks the user first.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { PageContext } from '../http/context.js';
import { sendErrorPage } from '../http/errors.js';
import { renderPage } from '../http/render.js';
import { single, repeated, type RawParams } from '../oauth/params.js';
import { OAuthError } from '../oauth/errors.js';
import { queryRedirect } from '../authorize/response_modes/query.js';
import { verifyIdTokenHint } from '../tokens/id_token_hint.js';
import type { Client } from '../store/types.js';

interface LogoutRequest {
  client?: Client;
  /** Only a registered post_logout_redirect_uri (exact match) ever gets here. */
  redirect?: string;
  state?: string;
  /** The user the id_token_hint names, as (client, sub). */
  hintSub?: string;
}

export function logoutEndpoints(app: FastifyInstance, s: Services, page: PageContext) {
  async function parse(params: RawParams): Promise<LogoutRequest> {
    const dupes = repeated(params);
    if (dupes.length) throw new OAuthError('invalid_request', `parameter '${dupes[0]}' is repeated`);
    const hint = single(params, 'id_token_hint');
    const clientId = single(params, 'client_id');
    const uri = single(params, 'post_logout_redirect_uri');
    const state = single(params, 'state');
    let hintSub: string | undefined;
    let audience: string | undefined;
    if (hint) {
      const claims = await verifyIdTokenHint(s.keys, s.config.issuer, hint);
      if (!claims) throw new OAuthError('invalid_request', 'id_token_hint is not an ID token Alias issued');
      hintSub = claims.sub;
      audience = claims.aud as string;
      if (clientId && clientId !== audience) throw new OAuthError('invalid_request', 'client_id does not match the id_token_hint');
    }
    const id = clientId ?? audience;
    const client = id ? await s.clients.get(id) : undefined;
    if (id && !client) throw new OAuthError('invalid_request', 'the application is not registered with Alias');
    if (uri) {
      if (!client) throw new OAuthError('invalid_request', 'post_logout_redirect_uri needs client_id or id_token_hint');
      if (!client.postLogoutRedirectUris.includes(uri)) {
        throw new OAuthError('invalid_request', 'post_logout_redirect_uri is not registered for this application');
      }
    }
    return { client, redirect: uri, state, hintSub };
  }

  /** The parsed request, or undefined after answering with an error page (never a redirect). */
  async function parseOrRefuse(reply: FastifyReply, params: RawParams): Promise<LogoutRequest | undefined> {
    try {
      return await parse(params);
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      await sendErrorPage(reply, 400, 'This sign-out link is not valid', err.description);
      return undefined;
    }
  }

  async function finish(reply: FastifyReply, req: LogoutRequest, signedOut: boolean) {
    reply.header('cache-control', 'no-store');
    if (req.redirect) return reply.redirect(queryRedirect(req.redirect, { state: req.state }), 303);
    return renderPage(reply, 'logged_out', { title: signedOut ? 'Signed out' : 'Still signed in', signedOut });
  }

  async function handle(request: FastifyRequest, reply: FastifyReply, params: RawParams) {
    const req = await parseOrRefuse(reply, params);
    if (!req) return reply;
    const session = await page.session(request);
    if (!session) {
      page.clearSessionCookie(reply);
      return finish(reply, req, true);
    }
    const trusted = req.client && req.hintSub !== undefined && s.pairwise(req.client.id, session.userId) === req.hintSub;
    if (trusted) {
      // The session ends and the back-channel notices are queued in one transaction; the
      // delivery happens in the background and never holds this response.
      await page.endSession(request, reply);
      return finish(reply, req, true);
    }
    const user = await s.accounts.get(session.userId);
    const hidden = [
      ...(req.client ? [{ name: 'client_id', value: req.client.id }] : []),
      ...(req.redirect ? [{ name: 'post_logout_redirect_uri', value: req.redirect }] : []),
      ...(req.state ? [{ name: 'state', value: req.state }] : []),
    ];
    reply.header('cache-control', 'no-store');
    return renderPage(reply, 'logout', { title: 'Sign out', clientName: req.client?.name, email: user?.email ?? '',
      csrf: page.csrfToken(page.browserId(request, reply)), hidden });
  }

  app.get('/oauth2/logout', (request, reply) => handle(request, reply, request.query as RawParams));
  app.post('/oauth2/logout', (request, reply) =>
    handle(request, reply, (request.body && typeof request.body === 'object' ? request.body : {}) as RawParams));

  app.post('/oauth2/logout/confirm', async (request, reply) => {
    const body = (request.body && typeof request.body === 'object' ? request.body : {}) as RawParams;
    if (!page.checkCsrf(request, body.csrf)) {
      return sendErrorPage(reply, 403, 'This form has expired', 'The form was not sent from this browser’s Alias page, so nothing was changed.');
    }
    const { csrf: _csrf, logout, ...params } = body;
    const req = await parseOrRefuse(reply, params);
    if (!req) return reply;
    if (logout !== 'yes') return finish(reply, req, false);
    await page.endSession(request, reply);
    return finish(reply, req, true);
  });
}

