// POST /api/oauth2/register (RFC 7591 §3) and GET/PUT/DELETE /api/oauth2/register/CLIENT_ID
// (RFC 7592 §2): JSON in and out, Bearer tokens (an initial access token, or the client's
// registration access token). Every answer carries Cache-Control: no-store (RFC 7591 §3.2.1).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import { OAuthError } from '../oauth/errors.js';
import { noStore } from '../http/api.js';
import { sourceOf } from '../http/context.js';
import { PATHS } from '../http/paths.js';

/** RFC 6750 §2.1: `Authorization: Bearer TOKEN`, or no header at all. */
function bearerOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const m = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(header);
  if (!m) throw new OAuthError('invalid_token', 'the Authorization header must be Bearer and a token', { status: 401 });
  return m[1];
}

function jsonBody(request: FastifyRequest): unknown {
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new OAuthError('invalid_client_metadata', 'the request body must be client metadata as application/json', { status: 400 });
  }
  return request.body;
}

/** RFC 6750 §3: a token problem is also named in WWW-Authenticate. */
async function answering(reply: FastifyReply, run: () => Promise<unknown>): Promise<unknown> {
  noStore(reply);
  try {
    return await run();
  } catch (err) {
    if (err instanceof OAuthError && err.error === 'invalid_token') {
      reply.header('www-authenticate', `Bearer realm="alias", error="invalid_token", error_description="${err.description}"`);
    }
    throw err;
  }
}

export function registrationEndpoints(app: FastifyInstance, s: Services) {
  app.post(PATHS.registration, async (request, reply) => answering(reply, async () => {
    const bearer = bearerOf(request);
    const body = jsonBody(request);
    const info = await s.registration.register(body, { bearer, source: sourceOf(request) });
    return reply.code(201).send(info);
  }));

  const managed = `${PATHS.registration}/:clientId`;
  const clientIdOf = (request: FastifyRequest) => (request.params as { clientId: string }).clientId;
  app.get(managed, async (request, reply) => answering(reply, async () =>
    reply.send(await s.registration.read(clientIdOf(request), { bearer: bearerOf(request), source: sourceOf(request) }))));
  app.put(managed, async (request, reply) => answering(reply, async () => {
    // The token first: nothing about the metadata is judged for a caller without a good one.
    return reply.send(await s.registration.replace(clientIdOf(request), () => jsonBody(request),
      { bearer: bearerOf(request), source: sourceOf(request) }));
  }));
  app.delete(managed, async (request, reply) => answering(reply, async () => {
    await s.registration.remove(clientIdOf(request), { bearer: bearerOf(request), source: sourceOf(request) });
    // RFC 7592 §2.3: 204 No Content.
    return reply.code(204).send();
  }));
}
