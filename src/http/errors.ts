// The one error renderer: OAuth errors as JSON on API endpoints, readable pages
// elsewhere. Never a stack trace, never per-request data in the body.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import '@fastify/view';
import { OAuthError } from '../oauth/errors.js';
import { isDatabaseUnavailable, RETRY_AFTER_S } from '../store/unavailable.js';
import { renderPage } from './render.js';

export function isApiPath(url: string): boolean {
  return url.startsWith('/api/') || url.startsWith('/.well-known/') || url.startsWith('/oauth2/jwks') || url.startsWith('/healthz');
}

/**
 * RFC 6749 §4.1.2.1 / §5.2 temporarily_unavailable: the database cannot answer now. The
 * client may retry after Retry-After (RFC 9110 §10.2.3); Alias reconnects by itself.
 */
export const unavailable = (): OAuthError => new OAuthError('temporarily_unavailable',
  'the service is temporarily unavailable; try again shortly', { status: 503, retryAfter: RETRY_AFTER_S });

export function sendOAuthError(reply: FastifyReply, err: OAuthError): FastifyReply {
  reply.code(err.status).header('cache-control', 'no-store');
  if (err.retryAfter !== undefined) reply.header('retry-after', String(err.retryAfter));
  if (err.error === 'invalid_client' && err.status === 401) reply.header('www-authenticate', 'Basic realm="alias"');
  if (err.headers) reply.headers(err.headers);
  return reply.type('application/json; charset=utf-8').send(err.toJSON());
}

export async function sendErrorPage(reply: FastifyReply, status: number, title: string, message: string, hint?: string): Promise<FastifyReply> {
  reply.code(status).header('cache-control', 'no-store');
  // Replies the router makes itself (fastify's frameworkErrors, for undecodable URLs) carry
  // no plugin decorators, so no templates: the same page, written out here.
  if (typeof reply.viewAsync !== 'function') return reply.type('text/html; charset=utf-8').send(plainErrorPage(title, message, hint));
  return renderPage(reply, 'error', { title, message, hint });
}

const escapeHtml = (s: string): string =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

function plainErrorPage(title: string, message: string, hint?: string): string {
  return '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">\n<meta name="referrer" content="no-referrer">\n' +
    `<title>${escapeHtml(title)} · Alias</title>\n<link rel="stylesheet" href="/static/alias.css">\n</head>\n<body>\n<main>\n` +
    `<p class="brand">Alias</p>\n<h1>${escapeHtml(title)}</h1>\n<p role="alert">${escapeHtml(message)}</p>\n` +
    (hint ? `<p class="hint">${escapeHtml(hint)}</p>\n` : '') + '</main>\n</body>\n</html>\n';
}

/** Maps framework errors (bad JSON, body too large, bad content type) to OAuth errors. */
function fromFramework(err: FastifyError): OAuthError {
  const status = err.statusCode ?? 500;
  if (status === 413) return new OAuthError('invalid_request', 'the request body is too large (limit 1 MiB)', { status: 413 });
  if (status === 415) return new OAuthError('invalid_request', 'unsupported content type', { status: 415 });
  if (status === 429) return new OAuthError('too_many_requests', 'too many requests', { status: 429 });
  if (status >= 400 && status < 500) return new OAuthError('invalid_request', 'the request is malformed', { status });
  return new OAuthError('server_error', 'an unexpected error occurred', { status: 500 });
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler(async (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
    if (!(error instanceof OAuthError) && isDatabaseUnavailable(error)) {
      // An outage, not a bug: one line per request, no stack.
      request.log.warn({ error: error.message, code: error.code }, 'database unavailable');
      const oauth = unavailable();
      if (isApiPath(request.url)) return sendOAuthError(reply, oauth);
      reply.header('retry-after', String(oauth.retryAfter));
      return sendErrorPage(reply, 503, 'Alias is temporarily unavailable',
        'Alias cannot complete this request right now.', 'Please try again in a few seconds.');
    }
    const oauth = error instanceof OAuthError ? error : fromFramework(error);
    if (oauth.status >= 500) request.log.error({ err: error }, 'request failed');
    else if (oauth.detail) request.log.info({ error: oauth.error, detail: oauth.detail }, 'request rejected');
    if (isApiPath(request.url)) return sendOAuthError(reply, oauth);
    const title = oauth.status === 413 ? 'Request too large' : oauth.status >= 500 ? 'Something went wrong' : 'Bad request';
    return sendErrorPage(reply, oauth.status, title, oauth.status >= 500 ? 'Alias could not complete this request. Please try again.' : oauth.description);
  });
  app.setNotFoundHandler(async (request, reply) => {
    if (isApiPath(request.url)) return sendOAuthError(reply, new OAuthError('invalid_request', 'no such endpoint', { status: 404 }));
    return sendErrorPage(reply, 404, 'Not found', 'There is no page at this address.');
  });
}
