import type { FastifyReply, FastifyRequest } from 'fastify';
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
