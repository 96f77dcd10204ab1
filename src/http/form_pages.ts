// Readable answers shared by the account pages: a form that cannot be read, a failed
// CSRF check, a mailed link that cannot be used. Each says nothing was changed.
import type { FastifyReply } from 'fastify';
import { sendErrorPage } from './errors.js';

type Body = Record<string, unknown>;

/** A form field: its text ('' when absent), or undefined when repeated, not text, or longer than `max`. */
export function formField(body: unknown, name: string, max: number): string | undefined {
  const v = body && typeof body === 'object' ? (body as Body)[name] : undefined;
  if (v === undefined) return '';
  if (typeof v !== 'string' || v.length > max) return undefined;
  return v;
}

export async function csrfFailed(reply: FastifyReply): Promise<FastifyReply> {
  return sendErrorPage(reply, 403, 'This form has expired', 'The form was not sent from this browser’s Alias page, so nothing was changed.',
    'Go back, reload the page and try again.');
}

export async function malformed(reply: FastifyReply): Promise<FastifyReply> {
  return sendErrorPage(reply, 400, 'This form could not be read', 'A field was missing, repeated or too long, so nothing was changed.',
    'Go back, reload the page and try again.');
}

/** The readable page for a link that cannot be used: 404 unknown, 410 used or expired. */
export async function badLink(reply: FastifyReply, reason: 'unknown' | 'used' | 'expired', what: string, again: string): Promise<FastifyReply> {
  if (reason === 'unknown') return sendErrorPage(reply, 404, 'This link is not valid', `The ${what} link is incomplete or unknown. Nothing was changed.`, again);
  if (reason === 'used') return sendErrorPage(reply, 410, 'This link was already used', `Each ${what} link works once. Nothing was changed.`, again);
  return sendErrorPage(reply, 410, 'This link has expired', `The ${what} link is no longer valid. Nothing was changed.`, again);
}

