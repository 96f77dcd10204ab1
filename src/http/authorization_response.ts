// Sends an authorization response in its response mode. form_post (OAuth 2.0 Form Post
// Response Mode §2) is an HTML page that posts the parameters to the redirect URI: a
// script submits it (allowed by a per-response CSP nonce), a button does for browsers
// without JavaScript.
import { randomBytes } from 'node:crypto';
import type { FastifyReply } from 'fastify';
import { fragmentRedirect, queryRedirect, type AuthorizationResponse } from '../authorize/response_modes/index.js';
import { renderPage } from './render.js';

export async function sendAuthorizationResponse(reply: FastifyReply, response: AuthorizationResponse): Promise<FastifyReply> {
  reply.header('cache-control', 'no-store');
  if (response.mode === 'query') return reply.redirect(queryRedirect(response.redirectUri, response.params), 303);
  if (response.mode === 'fragment') return reply.redirect(fragmentRedirect(response.redirectUri, response.params), 303);
  const nonce = randomBytes(16).toString('base64url');
  const target = new URL(response.redirectUri);
  reply.header('content-security-policy', [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    "style-src 'self'",
    `form-action ${target.origin}`,
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join('; '));
  const fields = Object.entries(response.params)
    .filter((e): e is [string, string] => e[1] !== undefined)
    .map(([name, value]) => ({ name, value }));
  return renderPage(reply, 'form_post', { title: 'Returning to the application', action: response.redirectUri, fields, nonce });
}
