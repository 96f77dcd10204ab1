// Issues an authorization code: single use, 60 s, bound to the client, the redirect URI
// and the PKCE challenge (RFC 6749 §4.1.2, RFC 7636 §4.4).
import type { Store } from '../store/store.js';
import type { Grant, Session } from '../store/types.js';

/** When and how the person signed in: what the ID token's auth_time, amr and acr say. */
export type SignIn = Pick<Session, 'authTime' | 'amr'>;
import { CODE_TTL_S, newFamilyId } from '../tokens/issuer.js';
import { digest, mintKeyed } from '../tokens/opaque.js';
import type { AuthorizationRequest } from './request.js';

export async function issueCode(store: Store, now: number, req: AuthorizationRequest, grant: Grant,
  rights: { scopes: string[]; channels: string[] }, signIn: SignIn): Promise<string> {
  const code = mintKeyed();
  await store.codes.insert({
    digest: digest(code),
    clientId: req.client.id,
    userId: grant.userId,
    grantId: grant.id,
    familyId: newFamilyId(now),
    redirectUri: req.redirectUri,
    codeChallenge: req.codeChallenge ?? null,
    scopes: rights.scopes,
    channels: rights.channels,
    nonce: req.nonce ?? null,
    authTime: signIn.authTime,
    amr: signIn.amr,
    createdAt: now,
    expiresAt: now + CODE_TTL_S * 1000,
    consumedAt: null,
    ...(req.dpopJkt ? { dpopJkt: req.dpopJkt } : {}),
    ...(req.resources.length ? { resources: req.resources } : {}),
  });
  return code;
}
