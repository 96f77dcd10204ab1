// POST /api/v1/messages: the contact relay's client API. An app sends a message to one of
// its users, addressed by alias ID, on one channel. Authorised either by the user's access
// token (Bearer) or by client authentication alone (client_secret_basic, only when the
// user granted offline_access), and always against the user's current grant.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import { readClientCredentials } from '../oauth/client_auth.js';
import { OAuthError } from '../oauth/errors.js';
import { noStore } from '../http/api.js';
import { bearerError } from '../http/bearer.js';
import { activeUserToken } from '../tokens/lookup.js';
import { parseIdempotencyKey, parseMessage, type SendAuth } from '../relay/relay.js';
import type { Client } from '../store/types.js';
import { PATHS } from '../http/paths.js';
import { relayResourceMetadata, resourceMetadataParam } from '../http/resource_metadata.js';
import { checkSenderConstraint, dpopError, readAuthorization } from '../http/sender_constrained.js';

function jsonBody(request: FastifyRequest): unknown {
  const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new OAuthError('invalid_request', 'the request body must be application/json', { status: 415 });
  }
  return request.body;
}

export function messagesEndpoint(app: FastifyInstance, s: Services) {
  const url = s.config.issuer + PATHS.messages;
  // RFC 9728 §5.1: every challenge of this resource names its metadata.
  const metadata = relayResourceMetadata(s.config.issuer).url;
  app.post(PATHS.messages, async (request: FastifyRequest, reply: FastifyReply) => {
    noStore(reply);
    const authorization = request.headers.authorization;
    if (authorization === undefined) {
      reply.header('www-authenticate', `Bearer realm="alias", ${resourceMetadataParam(metadata)}, Basic realm="alias"`);
      throw new OAuthError('invalid_request',
        'authentication is required: a user access token (Bearer) or client authentication (client_secret_basic)', { status: 401 });
    }

    let client: Client;
    let auth: SendAuth;
    let presented: ReturnType<typeof readAuthorization>;
    // RFC 6750 Bearer or RFC 9449 DPoP: a user's access token.
    presented = readAuthorization(authorization);
    if (presented) {
      const token = presented.token;
      if (!token) return bearerError(reply, 'invalid_request', 'malformed Authorization header', metadata);
      const active = await activeUserToken(s, token);
      const owner = active && await s.clients.get(active.token.clientId);
      if (!active || !owner) {
        const why = 'the access token is invalid, expired or revoked';
        return presented.scheme === 'DPoP' ? dpopError(reply, 'invalid_token', why, {}, metadata) : bearerError(reply, 'invalid_token', why, metadata);
      }
      if (!(await checkSenderConstraint(s, request, reply, { scheme: presented.scheme, token }, active.token, url, metadata))) return reply;
      client = owner;
      auth = { kind: 'token', grant: active.grant, scopes: active.scopes, channels: active.channels };
    } else {
      // Only the Authorization header: the body is the message, not a form, so a
      // client_secret_post client presents its secret over Basic here too.
      client = await s.clients.authenticate(readClientCredentials(authorization, {}), request.ip, { basicForAnySecret: true });
      if (client.isPublic) throw new OAuthError('invalid_client', 'client authentication failed', { status: 401 });
      auth = { kind: 'client' };
    }

    const message = parseMessage(jsonBody(request));
    const idempotencyKey = parseIdempotencyKey(request.headers['idempotency-key']);
    try {
      const { message: accepted } = await s.relay.send({ client, auth, message, idempotencyKey });
      return reply.code(202).send({ id: accepted.id, status: 'queued' });
    } catch (err) {
      // RFC 6750 §3.1: a token that lacks the rights gets insufficient_scope in WWW-Authenticate.
      if (err instanceof OAuthError && err.error === 'insufficient_scope' && auth.kind === 'token') {
        if (presented?.scheme === 'DPoP') return dpopError(reply, 'insufficient_scope', err.description, {}, metadata);
        return bearerError(reply, 'insufficient_scope', err.description, metadata);
      }
      throw err;
    }
  });
}
