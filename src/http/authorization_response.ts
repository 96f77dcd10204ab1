// Turns an authorization response, as its response mode describes it
// (authorize/response_modes), into a fastify reply: a 303 redirect, or the form_post page
// with its Content-Security-Policy (a per-response nonce lets the page's script submit
// the form; form-action allows only the client's origin).
import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { deliver, type AuthorizationResponse } from '../authorize/response_modes/index.js';
import type { UntrustedRequestError } from '../authorize/request.js';
import { sendErrorPage } from './errors.js';
import { renderPage } from './render.js';

export async function sendAuthorizationResponse(reply: FastifyReply, response: AuthorizationResponse): Promise<FastifyReply> {
  reply.header('cache-control', 'no-store');
  const delivery = deliver(response);
  if (delivery.kind === 'redirect') return reply.redirect(delivery.location, 303);
  const nonce = randomBytes(16).toString('base64url');
  reply.header('content-security-policy', [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    "style-src 'self'",
    `form-action ${delivery.formAction}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; '));
  return renderPage(reply, 'form_post', { ...delivery.page, nonce });
}

/**
 * RFC 6749 §4.1.2.1: with a missing, unknown or unregistered client_id or redirect_uri the
 * error MUST NOT be redirected; Alias shows it on its own page.
 */
export async function sendUntrustedPage(reply: FastifyReply, err: UntrustedRequestError): Promise<FastifyReply> {
  return sendErrorPage(reply, 400, 'This sign-in link is not valid', err.description,
    'Go back to the application and try again. If this keeps happening, tell the application’s developers.');
}
