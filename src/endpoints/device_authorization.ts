// POST /api/oauth2/device_authorization (RFC 8628 §3.1–3.2).
import type { FastifyInstance } from 'fastify';
import type { Services } from '../services.js';
import { OAuthError } from '../oauth/errors.js';
import { single } from '../oauth/params.js';
import { formatUserCode, newUserCode } from '../oauth/user_code.js';
import { parseUserScopes } from '../authorize/requested_scopes.js';
import { digest, mintOpaque } from '../tokens/opaque.js';
import { UniqueViolation } from '../store/store.js';
import { clientForm } from '../http/api.js';

export const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
export const DEVICE_CODE_TTL_S = 600;
/** RFC 8628 §3.2: the minimum polling interval; DESIGN: 5 s. */
export const DEVICE_INTERVAL_S = 5;

export function deviceAuthorizationEndpoint(app: FastifyInstance, s: Services) {
  app.post('/api/oauth2/device_authorization', async (request, reply) => {
    // RFC 8628 §3.1: confidential clients authenticate; public ones send client_id.
    const { client, body } = await clientForm(s, request, reply);
    if (!client.grantTypes.includes(DEVICE_GRANT)) {
      throw new OAuthError('unauthorized_client', 'this client may not use the device authorization grant');
    }
    const { scopes, channels } = parseUserScopes(client, single(body, 'scope'), single(body, 'channels'));
    const deviceCode = mintOpaque();
    const t = s.now();
    // A user code collision is vanishingly rare; try again rather than fail.
    for (let attempt = 0; ; attempt++) {
      const userCode = newUserCode();
      try {
        await s.store.deviceCodes.insert({
          deviceDigest: digest(deviceCode), userCode, clientId: client.id, scopes, channels, status: 'pending',
          userId: null, grantId: null, approvedScopes: null, approvedChannels: null, authTime: null,
          intervalS: DEVICE_INTERVAL_S, lastPolledAt: null, createdAt: t, expiresAt: t + DEVICE_CODE_TTL_S * 1000, consumedAt: null,
        });
        const verificationUri = `${s.config.issuer}/device`;
        return reply.send({
          device_code: deviceCode,
          user_code: formatUserCode(userCode),
          verification_uri: verificationUri,
          verification_uri_complete: `${verificationUri}?user_code=${formatUserCode(userCode)}`,
          expires_in: DEVICE_CODE_TTL_S,
          interval: DEVICE_INTERVAL_S,
        });
      } catch (err) {
        if (!(err instanceof UniqueViolation) || attempt >= 3) throw err;
      }
    }
  });
}
