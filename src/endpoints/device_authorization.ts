// POST /api/oauth2/device_authorization (RFC 8628 §3.1–3.2).
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import { OAuthError } from '../oauth/errors.js';
import { single } from '../oauth/params.js';
import { formatUserCode } from '../oauth/user_code.js';
import { parseUserScopes } from '../authorize/requested_scopes.js';
import { DEVICE_GRANT } from '../device/device_flow.js';
import { clientForm } from '../http/api.js';

export function deviceAuthorizationEndpoint(app: FastifyInstance, s: Services) {
  app.post('/api/oauth2/device_authorization', async (request, reply) => {
    // RFC 8628 §3.1: confidential clients authenticate; public ones send client_id.
    const { client, body } = await clientForm(s, request, reply);
    if (!client.grantTypes.includes(DEVICE_GRANT)) {
      throw new OAuthError('unauthorized_client', 'this client may not use the device authorization grant');
    }
    const { scopes, channels } = parseUserScopes(client, single(body, 'scope'), single(body, 'channels'));
    const started = await s.deviceFlow.start(client.id, scopes, channels);
    const verificationUri = `${s.config.issuer}/device`;
    return reply.send({
      device_code: started.deviceCode,
      user_code: formatUserCode(started.userCode),
      verification_uri: verificationUri,
      verification_uri_complete: `${verificationUri}?user_code=${formatUserCode(started.userCode)}`,
      expires_in: started.expiresIn,
      interval: started.interval,
    });
  });
}
