// POST /api/oauth2/revoke (RFC 7009). Revoking a refresh token revokes every token of
// its family. Another client's token is a silent no-op, answered like an unknown one,
// so revocation cannot probe other clients' tokens; both count as misses against the
// caller (src/tokens/scanning.ts). The caller's own token, even one already revoked or
// expired, is not a miss.
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import { required, single } from '../oauth/params.js';
import { findToken } from '../tokens/lookup.js';
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
    if (found && found.rec.clientId === client.id) {
      const { kind, rec } = found;
      const now = s.now();
      await s.store.transaction(async (tx) => {
        if (kind === 'refresh_token') await tx.families.revoke(rec.familyId, now);
        else await tx.accessTokens.revoke(rec.digest, now);
        // Revoking a revoked token changes nothing, and is no event.
        if (rec.revokedAt === null) {
          await s.audit.record({ type: 'token.revoked', clientId: client.id, userId: rec.userId, ip: request.ip,
            detail: `token_type=${kind}` }, tx);
        }
      });
    } else {
      await countMiss(s.throttle, scan);
    }
    // RFC 7009 §2.2: 200 whether or not the token was valid; no body.
    return reply.code(200).send();
  });
}
