// RFC 6750 §3 error answers for Bearer-protected resources (userinfo, the relay API).
import type { FastifyReply } from 'fastify';

export type BearerError = 'invalid_request' | 'invalid_token' | 'insufficient_scope';
const STATUS: Record<BearerError, number> = { invalid_request: 400, invalid_token: 401, insufficient_scope: 403 };

/**
 * RFC 6750 §3: the error goes in WWW-Authenticate; no error code when no token was sent.
 * `resourceMetadata`: the resource's RFC 9728 metadata URL (§5.1 resource_metadata).
 */
export function bearerError(reply: FastifyReply, error: BearerError | undefined, description?: string, resourceMetadata?: string) {
  const params = ['realm="alias"'];
  if (error) params.push(`error="${error}"`, `error_description="${description ?? error}"`);
  if (resourceMetadata) params.push(`resource_metadata="${resourceMetadata}"`);
  reply.code(error ? STATUS[error] : 401).header('www-authenticate', `Bearer ${params.join(', ')}`)
    .header('cache-control', 'no-store');
  // §3.1: a request without any token gets no error information, in the header or the body.
  return error ? reply.send({ error, error_description: description }) : reply.send();
}

