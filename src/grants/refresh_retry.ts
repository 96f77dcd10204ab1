// A retry after a lost answer (issue 16; docs/security.md, "A retry after a lost answer").
// A client whose token response was lost in the network holds only the refresh token it
// sent, which Alias has already rotated; sending it again would look like reuse and end
// the person's sign-in (RFC 9700 §4.14.2). Inside a short grace window after the rotation
// the same client may repeat the request once: the answer it never got is taken back (its
// refresh token is spent and its access token revoked) and a new one is issued, so the
// family still has exactly one current refresh token. If that answer was used, or the
// window has passed, it is a reuse as before. Authorization codes get no such window
// (RFC 6749 §4.1.2: a code MUST NOT be used more than once).
import { invalidGrant } from '../oauth/errors.js';
import type { MintedTokens } from '../tokens/issuer.js';
import type { Store } from '../store/store.js';
import type { RefreshToken } from '../store/types.js';
import type { GrantContext } from './types.js';

/** Rolls the retry's transaction back: the answer it would take back was used. */
class AnswerWasUsed extends Error {}

/**
 * `rec` is the client's own rotated, unrevoked token. Answers the new tokens; 'reuse' when
 * this is a reuse (revoke the family); 'answered-already' when the one retry inside the
 * window was answered before, or a parallel retry won (refuse, revoke nothing: both are
 * the client repeating itself, and the family already has one current token).
 */
export async function retryLostAnswer(ctx: GrantContext, rec: RefreshToken,
  refresh: (tx: Store, claimed: RefreshToken) => Promise<MintedTokens>): Promise<MintedTokens | 'reuse' | 'answered-already'> {
  const { s } = ctx;
  const grace = s.refreshReuseGraceMs;
  const now = s.now();
  if (grace <= 0 || rec.rotatedAt === null || !rec.nextDigest || now - rec.rotatedAt >= grace) return 'reuse';
  if (rec.retriedAt != null) return 'answered-already';
  try {
    return await s.store.transaction(async (tx) => {
      // The single winner among parallel retries (one conditional UPDATE); the others stop here.
      const claimed = await tx.refreshTokens.claimRetry(rec.digest, now, now - grace + 1);
      if (!claimed?.nextDigest) return 'answered-already' as const;
      // The same request again: with the DPoP key (or none) the lost answer was bound to (RFC 9449 §5).
      const lostAccess = claimed.nextAccessDigest ? await tx.accessTokens.get(claimed.nextAccessDigest) : undefined;
      if ((lostAccess?.dpopJkt ?? undefined) !== ctx.dpopJkt) {
        throw invalidGrant('a retry must use the DPoP key of the request it repeats');
      }
      // Take the lost answer back, only if nobody used it: spending its refresh token here
      // races its use on one row, so exactly one of the two wins.
      if (!await tx.refreshTokens.supersede(claimed.nextDigest, now)) throw new AnswerWasUsed();
      if (claimed.nextAccessDigest) await tx.accessTokens.revoke(claimed.nextAccessDigest, now);
      // Everything else as a first use: client, expiry, grant, scope (same or narrower).
      return refresh(tx, claimed);
    });
  } catch (err) {
    if (err instanceof AnswerWasUsed) return 'reuse';
    throw err;
  }
}
