// After a right password (issue 15 §2): a person with TOTP on is not signed in yet. The
// password check leaves a pending sign-in: a single-use token (accounts/link_tokens.ts,
// purpose `second_factor`, 5 minutes, stored as a digest) bound to this browser's
// `alias_browser` cookie and naming where to go on (the parked authorization request, the
// account page, a device approval). The second page posts it back with the code
// (endpoints/second_factor.ts); only then does the session start, exactly as a one-step
// sign-in would have started it.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../services.js';
import type { PageContext } from './context.js';
import type { User } from '../store/types.js';
import { renderPage } from './render.js';
import { digest } from '../tokens/opaque.js';

export interface SignInTarget {
  /** The parked authorization request the sign-in belongs to. */
  interactionId?: string;
  /** A local path to go on to. */
  next: string;
}

export const SECOND_FACTOR_ACTION = '/login/second-factor';

export interface SecondFactorView {
  action: string;
  csrf: string;
  pending?: string;
  clientName?: string;
  error?: string;
  status?: number;
  /** Step-up: the person is signed in, and the app asks for more. */
  stepUp?: boolean;
  /** The code form is shown (the account has TOTP); true unless said otherwise. */
  totp?: boolean;
  /** Step-up with a passkey (passkeys.js): the interaction it continues and the scripts. */
  passkey?: { interaction: string; scripts: string[] };
}

/** The page that asks for the code (or a recovery code). */
export async function secondFactorPage(reply: FastifyReply, view: SecondFactorView) {
  reply.code(view.status ?? 200).header('cache-control', 'no-store');
  return renderPage(reply, 'second_factor', { title: 'Two-step sign-in', ...view, totp: view.totp ?? true });
}

/**
 * The password was right: starts the session (then goes on to `target.next`), or, when
 * the account has a second factor, asks for it first.
 */
export async function afterPassword(s: Services, page: PageContext, request: FastifyRequest, reply: FastifyReply,
  user: User, target: SignInTarget, clientName?: string) {
  const browser = page.browserId(request, reply);
  // The session is stored only if the account has no TOTP, in the same statement.
  if (await page.startPasswordSession(request, reply, user.id, { interaction: target.interactionId })) {
    return reply.redirect(target.next, 303);
  }
  const data: Record<string, string> = { browser: digest(browser), next: target.next };
  if (target.interactionId) data.interaction = target.interactionId;
  const pending = await s.links.issue(s.store.linkTokens, 'second_factor', user.id, data);
  return secondFactorPage(reply, { action: SECOND_FACTOR_ACTION, csrf: page.csrfToken(browser), pending, clientName });
}

/** What the second-factor page says after a failed check. */
export function secondFactorError(result: { reason: 'invalid' | 'throttled' | 'not_enrolled'; retryAfter?: number }): { status: number; error: string } {
  if (result.reason === 'throttled') {
    return { status: 429, error: `Too many wrong codes. Try again in ${result.retryAfter} second${result.retryAfter === 1 ? '' : 's'}.` };
  }
  return { status: 401, error: 'That code is not right, or was already used. Enter the code your app shows now.' };
}
