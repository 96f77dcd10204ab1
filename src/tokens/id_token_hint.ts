// Verifies an ID token we issued, used as id_token_hint (OIDC RP-Initiated Logout §2, and
// OIDC Core §3.1.2.1 at the authorization endpoint). Expired hints are accepted: the specs
// let the OP take them, and an RP often sends one long after its ID token expired.
// Signature, algorithm and issuer are always checked; `audience`, when given, must be the
// token's audience (the client sending the hint).
import { compactVerify, decodeProtectedHeader, type JWTPayload } from 'jose';
import type { KeyService } from './keys.js';

export async function verifyIdTokenHint(keys: KeyService, issuer: string, token: string,
  opts: { audience?: string } = {}): Promise<JWTPayload | undefined> {
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
    if (opts.audience !== undefined && claims.aud !== opts.audience) return undefined;
    return claims;
  } catch {
    return undefined;
  }
}
