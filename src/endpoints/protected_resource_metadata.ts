// GET /.well-known/oauth-protected-resource/api/v1/messages (RFC 9728 §3): the protected
// resource metadata of the contact relay API. Only the path-specific document is served:
// the bare /.well-known/oauth-protected-resource would describe a resource whose
// identifier is the issuer itself (§3.3: `resource` MUST equal the identifier the URL was
// formed from), and the issuer is the authorization server, not an API (docs/endpoints.md).
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import { DPOP_SIGNING_ALGS } from '../oauth/dpop.js';
import { relayResourceMetadata } from '../http/resource_metadata.js';

export function protectedResourceMetadataEndpoints(app: FastifyInstance, s: Services) {
  const { resource, route } = relayResourceMetadata(s.config.issuer);
  const doc = {
    resource,
    authorization_servers: [s.config.issuer],
    // RFC 6750 §2.1 only: the body is the message (JSON), and tokens never go in a URL.
    bearer_methods_supported: ['header'],
    // A user's access token sends only with `contact` (and the channels granted with it).
    scopes_supported: ['contact'],
    // RFC 9449 §7: DPoP-bound tokens are accepted with a proof (and plain Bearer ones).
    dpop_signing_alg_values_supported: [...DPOP_SIGNING_ALGS],
    dpop_bound_access_tokens_required: false,
    resource_name: 'Alias contact relay',
  };
  app.get(route, async (_request, reply) => {
    reply.header('cache-control', 'public, max-age=300');
    return reply.send(doc);
  });
}
