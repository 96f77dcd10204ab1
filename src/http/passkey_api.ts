// What every JSON passkey endpoint shares (endpoints/passkeys.ts, endpoints/passkey_accounts.ts):
// a JSON object body carrying the page's anti-CSRF token from a browser Alias knows, and
// refusals as {error, error_description} with a 4xx status, never a 500.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PageContext } from './context.js';
import { sendOAuthError } from './errors.js';
import { OAuthError } from '../oauth/errors.js';
import type { PasskeyFailure } from '../accounts/passkeys.js';

export type JsonBody = Record<string, unknown>;

const STATUS: Record<Exclude<PasskeyFailure['reason'], 'throttled'>, number> = {
  challenge: 400, invalid: 400, unknown: 400, clone: 403, duplicate: 409, limit: 409,
};

export const fail = (reply: FastifyReply, err: OAuthError) => sendOAuthError(reply, err);

/** A ceremony Alias refused, as its JSON error (429 with Retry-After when throttled). */
export function refused(reply: FastifyReply, f: PasskeyFailure) {
  if (f.reason === 'throttled') {
    return fail(reply, new OAuthError('too_many_requests', `too many failed passkey sign-ins; try again in ${f.retryAfter} seconds`,
      { status: 429, retryAfter: f.retryAfter }));
  }
  return fail(reply, new OAuthError('invalid_request', f.message, { status: STATUS[f.reason] }));
}

/** The JSON body with a valid anti-CSRF token and this browser's id, or an error already sent. */
export function checkedJson(page: PageContext, request: FastifyRequest, reply: FastifyReply): { body: JsonBody; browserId: string } | undefined {
  const body = request.body;
  if (!body || typeof body !== 'object' || Array.isArray(body) || !String(request.headers['content-type'] ?? '').startsWith('application/json')) {
    void fail(reply, new OAuthError('invalid_request', 'the body must be a JSON object'));
    return undefined;
  }
  const browserId = page.existingBrowserId(request);
  if (!browserId || !page.checkCsrf(request, (body as JsonBody).csrf)) {
    void fail(reply, new OAuthError('access_denied', 'the anti-CSRF token is missing or does not belong to this browser', { status: 403 }));
    return undefined;
  }
  return { body: body as JsonBody, browserId };
}

/** A string field of at most `max` characters; undefined when absent; false when it is not a string or too long. */
export function stringField(body: JsonBody, name: string, max: number): string | undefined | false {
  const v = body[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' && v.length <= max ? v : false;
}

/** Sends `{location}` (no-store): where passkeys.js takes the browser next. */
export const goTo = (reply: FastifyReply, location: string) => reply.header('cache-control', 'no-store').send({ location });
