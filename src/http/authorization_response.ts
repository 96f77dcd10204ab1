// Turns an authorization response, as its response mode describes it
// (authorize/response_modes), into a fastify reply: a 303 redirect, or the form_post page
// with its Content-Security-Policy (a per-response nonce lets the page's script submit
// the form; form-action allows only the client's origin).
import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { deliver, type AuthorizationResponse } from '../authorize/response_modes/index.js';
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
