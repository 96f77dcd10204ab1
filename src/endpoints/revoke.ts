// POST /api/oauth2/revoke (RFC 7009). Revoking a refresh token revokes every token of
// its family. Another client's token is a silent no-op, answered like an unknown one,
// so revocation cannot probe other clients' tokens; both count as misses against the
// caller (src/tokens/scanning.ts). The caller's own token, even one already revoked or
// expired, is not a miss.
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import { required, single } from '../oauth/params.js';
import { findToken } from '../tokens/lookup.js';
import { revokeOwnToken } from '../tokens/revocation.js';
import { clientForm } from '../http/api.js';
import { sourceOf } from '../http/context.js';
import { countMiss, refuseWhileBlocked, scanCounter } from '../tokens/scanning.js';

export function revocationEndpoint(app: FastifyInstance, s: Services) {
  app.post('/api/oauth2/revoke', async (request, reply) => {
    const { client, body } = await clientForm(s, request, reply);
    const scan = scanCounter(client, sourceOf(request));
    await refuseWhileBlocked(s.throttle, scan);
    const token = required(body, 'token');
    const found = await findToken(s, token, single(body, 'token_type_hint'));
    // Another client's token is a silent no-op, and a miss like an unknown one.
    if (!(await revokeOwnToken(s, found, { clientId: client.id, ip: request.ip }))) await countMiss(s.throttle, scan);
    // RFC 7009 §2.2: 200 whether or not the token was valid; no body.
    return reply.code(200).send();
  });
}
