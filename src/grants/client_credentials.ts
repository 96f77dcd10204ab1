// RFC 6749 §4.4 client credentials grant. Confidential clients only; the token carries
// client-level scopes (registered with `aliasid client create --scope`), never user scopes.
import { OAuthError } from '../oauth/errors.js';
import { single } from '../oauth/params.js';
import { formatList, parseList } from '../oauth/scopes.js';
import { ACCESS_TOKEN_TTL_S } from '../tokens/issuer.js';
import { digest, mintKeyed } from '../tokens/opaque.js';
import type { GrantHandler } from './types.js';
import { issuedEvent } from './audit.js';

export const clientCredentials: GrantHandler = {
  grantType: 'client_credentials',
  params: ['scope'],
  // RFC 6749 §4.4: confidential clients only.
  confidentialOnly: true,
  needsRedirectUri: false,
  async handle(ctx) {
    const { s, client, params } = ctx;
    // RFC 6749 §4.4: the client credentials grant MUST only be used by confidential clients.
    if (client.isPublic) throw new OAuthError('unauthorized_client', 'public clients cannot use client_credentials');
    const requested = single(params, 'scope');
    // RFC 6749 §3.3: without `scope`, the default is every scope registered for the client.
    const scopes = requested === undefined ? client.scopes : parseList(requested);
    const unknown = scopes.find((x) => !client.scopes.includes(x));
    if (unknown) throw new OAuthError('invalid_scope', `scope '${unknown}' is not registered for this client`);
    const token = mintKeyed();
    const t = s.now();
    // The token and its audit event are written atomically, in one statement where the
    // database allows it (a hot path: no extra round trip for the event).
    await s.store.accessTokens.insertWithEvent({
      digest: digest(token), clientId: client.id, userId: null, grantId: null, familyId: null, scopes, channels: [],
      createdAt: t, expiresAt: t + ACCESS_TOKEN_TTL_S * 1000, revokedAt: null,
      ...(ctx.dpopJkt ? { dpopJkt: ctx.dpopJkt } : {}),
    }, issuedEvent(ctx, 'client_credentials', null));
    // RFC 6749 §4.4.3: a refresh token SHOULD NOT be included. RFC 9449 §5: DPoP when bound.
    return { access_token: token, token_type: ctx.dpopJkt ? 'DPoP' : 'Bearer', expires_in: ACCESS_TOKEN_TTL_S, scope: formatList(scopes) };
  },
};
