// Verifies an ID token we issued, used as id_token_hint (OIDC RP-Initiated Logout §2).
// Expired hints are accepted: the spec lets the OP take them, and an RP often logs out
// long after its ID token expired. Signature and issuer are always checked.
import { compactVerify, decodeProtectedHeader, type JWTPayload } from 'jose';
import type { KeyService } from './keys.js';

export async function verifyIdTokenHint(keys: KeyService, issuer: string, token: string): Promise<JWTPayload | undefined> {
  try {
    const { kid } = decodeProtectedHeader(token);
    if (typeof kid !== 'string') return undefined;
    const found = await keys.verificationKey(kid);
    if (!found) return undefined;
    // Only the algorithm of the key the kid names (RS256 or ES256, whichever signed it):
    // a header naming another one is refused, whatever the key would accept.
    const { payload } = await compactVerify(token, found.key, { algorithms: [found.alg] });
    const claims = JSON.parse(new TextDecoder().decode(payload)) as JWTPayload;
    if (claims.iss !== issuer || typeof claims.sub !== 'string' || typeof claims.aud !== 'string') return undefined;
    return claims;
  } catch {
    return undefined;
  }
}
