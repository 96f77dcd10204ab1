// RFC 9449 at Alias: a DPoP proof checked (oauth/dpop.ts), its nonce (§8, crypto/dpop_nonce.ts)
// and its single use across every node (§11.1, the store's jwt_replays).
import type { Store } from '../store/store.js';
import { OAuthError } from '../oauth/errors.js';
import { DPOP_MAX_AGE_S, dpopHeader, verifyDpopProof, type DpopProof } from '../oauth/dpop.js';
import type { DpopNonces } from '../crypto/dpop_nonce.js';
import { digest } from './opaque.js';

export interface DpopDeps {
  store: Pick<Store, 'jwtReplays'>;
  nonces: DpopNonces;
  now: () => number;
}

export interface DpopChecker {
  /**
   * The token endpoint (§5): undefined without a DPoP header; otherwise a valid proof
   * with a current server nonce (use_dpop_nonce, 400, otherwise). Errors are 400.
   */
  tokenRequest(header: string | string[] | undefined, method: string, url: string): Promise<DpopProof | undefined>;
  /**
   * A protected resource (§7): the proof for `accessToken`. A nonce is not required there,
   * but one that is sent must be current. Errors are 401 (the caller adds WWW-Authenticate).
   */
  resourceRequest(header: string | string[] | undefined, method: string, url: string, accessToken: string): Promise<DpopProof>;
  /** The nonce to send in DPoP-Nonce now. */
  nonce(): string;
}

export function createDpopChecker(deps: DpopDeps): DpopChecker {
  const nonceError = (status: number, why: string) => new OAuthError('use_dpop_nonce', why,
    { status, headers: { 'dpop-nonce': deps.nonces.current() } });

  async function check(proofJwt: string, method: string, url: string, status: number, nonceRequired: boolean,
    accessToken?: string): Promise<DpopProof> {
    const now = deps.now();
    const proof = await verifyDpopProof(proofJwt, { method, url, now, accessToken }, status);
    if (proof.nonce === undefined) {
      if (nonceRequired) throw nonceError(status, 'the authorization server requires a DPoP nonce');
    } else if (!deps.nonces.valid(proof.nonce)) {
      throw nonceError(status, 'the DPoP nonce is invalid or expired');
    }
    // §11.1: a jti is single use while the proof could be accepted. The key names the
    // proof's key too, so nobody can burn another client's jti.
    const until = Math.max(now, proof.iat * 1000) + DPOP_MAX_AGE_S * 1000;
    if (!(await deps.store.jwtReplays.claim(digest(`dpop\n${proof.jkt}\n${proof.jti}`), until, now))) {
      throw new OAuthError('invalid_dpop_proof', 'the DPoP proof was already used', { status });
    }
    return proof;
  }

  return {
    async tokenRequest(header, method, url) {
      const jwt = dpopHeader(header, 400);
      return jwt === undefined ? undefined : check(jwt, method, url, 400, true);
    },
    async resourceRequest(header, method, url, accessToken) {
      const jwt = dpopHeader(header, 401);
      if (jwt === undefined) throw new OAuthError('invalid_dpop_proof', 'a DPoP-bound access token needs a DPoP proof', { status: 401 });
      return check(jwt, method, url, 401, false, accessToken);
    },
    nonce: () => deps.nonces.current(),
  };
}
