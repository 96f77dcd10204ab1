// RFC 6749 §4.4 client credentials grant. Confidential clients only; the token carries
// client-level scopes (registered with `aliasid client create --scope`), never user scopes.
import { OAuthError } from '../oauth/errors.js';
import { single } from '../oauth/params.js';
import { formatList, intersect, parseList } from '../oauth/scopes.js';
import { readTokenResource } from '../oauth/resource.js';
import { jtiDigest, signJwtAccessToken } from '../tokens/jwt_access_token.js';
import { registeredResource } from './resource.js';
import { ACCESS_TOKEN_TTL_S } from '../tokens/issuer.js';
import { digest, mintKeyed } from '../tokens/opaque.js';
import type { GrantHandler } from './types.js';
import { issuedEvent } from './audit.js';

export const clientCredentials: GrantHandler = {
  grantType: 'client_credentials',
  params: ['scope', 'resource'],
  // RFC 6749 §4.4: confidential clients only.
  confidentialOnly: true,
  needsRedirectUri: false,
  async handle(ctx) {
    const { s, client, params } = ctx;
    // RFC 6749 §4.4: the client credentials grant MUST only be used by confidential clients.
    if (client.isPublic) throw new OAuthError('unauthorized_client', 'public clients cannot use client_credentials');
    const requested = single(params, 'scope');
    const resourceUri = readTokenResource(params);
    // RFC 8707 §2: an unknown resource is invalid_target.
    const resource = resourceUri === undefined ? undefined : await registeredResource(s.store, resourceUri);
    // For a resource: the scopes both registered for the client and understood by the API.
    const allowed = resource ? intersect(client.scopes, resource.scopes) : client.scopes;
    // RFC 6749 §3.3: without `scope`, the default is every scope the client may have.
    const scopes = requested === undefined ? allowed : parseList(requested);
    const unknown = scopes.find((x) => !allowed.includes(x));
    if (unknown) {
      throw new OAuthError('invalid_scope', resource ? `scope '${unknown}' is not registered for both this client and the resource`
        : `scope '${unknown}' is not registered for this client`);
    }
    const token = mintKeyed();
    const t = s.now();
    const ttlS = resource ? resource.ttlS : ACCESS_TOKEN_TTL_S;
    const expiresAt = t + ttlS * 1000;
    const jwt = resource?.tokenFormat === 'jwt';
    // RFC 9068 §2.2: sub is the client_id when the token is about no person. Signed before
    // the row is stored: nothing else is in a transaction here.
    const accessToken = jwt ? await signJwtAccessToken(s.keys, {
      alg: client.idTokenSignedResponseAlg, issuer: s.issuer, audience: resource.uri, sub: client.id, clientId: client.id,
      jti: token, scopes, issuedAt: t, expiresAt, ...(ctx.dpopJkt ? { dpopJkt: ctx.dpopJkt } : {}),
    }) : token;
    // The token and its audit event are written atomically, in one statement where the
    // database allows it (a hot path: no extra round trip for the event).
    await s.store.tokenSets.insert({
      access: {
        digest: jwt ? jtiDigest(token) : digest(token), clientId: client.id, userId: null, grantId: null, familyId: null,
        scopes, channels: [], createdAt: t, expiresAt, revokedAt: null,
        ...(ctx.dpopJkt ? { dpopJkt: ctx.dpopJkt } : {}), ...(resource ? { resource: resource.uri } : {}),
      },
      event: issuedEvent(ctx, 'client_credentials', null),
    });
    // RFC 6749 §4.4.3: a refresh token SHOULD NOT be included. RFC 9449 §5: DPoP when bound.
    return { access_token: accessToken, token_type: ctx.dpopJkt ? 'DPoP' : 'Bearer', expires_in: ttlS, scope: formatList(scopes) };
  },
};
