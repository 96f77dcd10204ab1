// The single-use links Alias mails about an account: e-mail verification, password
// reset, e-mail change and its cancellation. ≥ 128 random bits (here 256), only the
// SHA-256 digest is stored, each link works once and expires.
import { randomToken } from '../crypto/random.js';
import { digest } from '../tokens/opaque.js';
import type { LinkPurpose, LinkToken } from '../store/types.js';
import type { LinkTokenRepo } from '../store/store.js';

export type { LinkPurpose };

/** How long each kind of link works. */
export const LINK_TTL_MS: Record<LinkPurpose, number> = {
  verify_email: 24 * 3_600_000,
  reset_password: 30 * 60_000,
  change_email: 24 * 3_600_000,
  cancel_email_change: 7 * 24 * 3_600_000,
  /** The second sign-in page (issue 15 §2): the code has to come soon after the password. */
  second_factor: 5 * 60_000,
};

export type LinkResult =
  | { ok: true; token: LinkToken }
  | { ok: false; reason: 'unknown' | 'used' | 'expired' };

export interface LinkTokens {
  /** Issues a link token; returns the secret part that goes in the URL. */
  issue(repo: Pick<LinkTokenRepo, 'insert'>, purpose: LinkPurpose, userId: string, data?: Record<string, string>): Promise<string>;
  /** Uses a link once; says why not otherwise (a readable page for each). */
  use(repo: LinkTokenRepo, purpose: LinkPurpose, secret: string): Promise<LinkResult>;
}

/** What a link in a URL may look like: base64url, long enough; anything else is unknown at once. */
const SHAPE = /^[A-Za-z0-9_-]{32,128}$/;

export function createLinkTokens(now: () => number): LinkTokens {
  return {
    async issue(repo, purpose, userId, data = {}) {
      const secret = randomToken(32);
      const t = now();
      await repo.insert({ digest: digest(secret), purpose, userId, data, createdAt: t, expiresAt: t + LINK_TTL_MS[purpose], usedAt: null });
      return secret;
    },
    async use(repo, purpose, secret) {
      if (!SHAPE.test(secret)) return { ok: false, reason: 'unknown' };
      const d = digest(secret);
      const t = now();
      const token = await repo.use(d, purpose, t);
      if (token) return { ok: true, token };
      const seen = await repo.get(d);
      if (!seen || seen.purpose !== purpose) return { ok: false, reason: 'unknown' };
      if (seen.usedAt !== null) return { ok: false, reason: 'used' };
      return { ok: false, reason: 'expired' };
    },
  };
}
