import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { Client } from '../store/types.js';
import { readClientCredentials } from '../oauth/client_auth.js';
import { repeated } from '../oauth/params.js';
import { OAuthError } from '../oauth/errors.js';

/** RFC 6749 §5.1: token responses MUST NOT be cached. */
export function noStore(reply: FastifyReply): void {
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}

/** The body of an endpoint that takes application/x-www-form-urlencoded (RFC 6749 §3.2). */
export function formBody(request: FastifyRequest): Record<string, unknown> {
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new OAuthError('invalid_request', 'the request body must be application/x-www-form-urlencoded');
  }
  const body = request.body;
  return body && typeof body === 'object' ? { ...(body as Record<string, unknown>) } : {};
}

/**
 * The common start of every client-authenticated form endpoint (token, introspection,
 * revocation, device authorization): no-store, a form body, client authentication
 * (RFC 6749 §2.3), then no repeated parameters (RFC 6749 §3.2) but the `repeatable` ones
 * (RFC 8707 §2.2 `resource`, which the grant reads).
 */
export async function clientForm(s: Services, request: FastifyRequest, reply: FastifyReply,
  opts: { confidentialOnly?: string; repeatable?: readonly string[] } = {}): Promise<{ client: Client; body: Record<string, unknown> }> {
  noStore(reply);
  const body = formBody(request);
  const client = await s.clients.authenticate(readClientCredentials(request.headers.authorization, body), request.ip);
  if (opts.confidentialOnly && client.isPublic) throw new OAuthError('invalid_client', opts.confidentialOnly, { status: 401 });
  const dupes = repeated(body).filter((n) => !opts.repeatable?.includes(n));
  if (dupes.length) throw new OAuthError('invalid_request', `parameter '${dupes[0]}' is repeated`);
  return { client, body };
}
