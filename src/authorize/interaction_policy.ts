// What the user must do before an authorization request can finish: the checks run in
// order and the first that applies wins (a page to show, or under prompt=none an error
// for the client). OIDC Core §3.1.2.1 (prompt, max_age), §3.1.2.3–4.
// A new requirement (a verified e-mail, step-up with acr_values) is one more check here.
import type { Grant, Session } from '../store/types.js';
import { OAuthError } from '../oauth/errors.js';
import type { AuthorizationRequest } from './request.js';
import { ACR_MFA, ACR_VALUES_SUPPORTED, satisfiesAcr, type Acr } from '../oauth/acr.js';

export type InteractionPage = 'login' | 'select_account' | 'confirm_address' | 'second_factor' | 'mfa_setup' | 'consent';

/** What is known about the user when the checks run. */
export interface UserState {
  session?: Session;
  /** The user signed in or chose the account during this very interaction. */
  authenticatedNow: boolean;
  /** The user's grant to this client, if any. */
  grant?: Grant;
  /** The grant already covers every requested scope and channel. */
  covered: boolean;
  now: number;
  /** The request carries a verified id_token_hint naming somebody else than the session's user. */
  notHinted?: boolean;
  /** The signed-in user proved their e-mail address (issue 14 §2); undefined without a session. */
  emailVerified?: boolean;
  /** The signed-in user has a second factor to step up with (issue 15 §3); undefined when not looked up. */
  hasSecondFactor?: boolean;
}

export type Need = { page: InteractionPage } | { error: OAuthError };

export interface InteractionCheck {
  name: string;
  check(req: AuthorizationRequest, user: UserState): Need | undefined;
}

/** Shows the page, or under prompt=none sends the error back to the client instead. */
const pageOr = (req: AuthorizationRequest, page: InteractionPage, error: () => OAuthError): Need =>
  req.prompt.includes('none') ? { error: error() } : { page };

/** No session, or prompt=login / max_age ask for a fresh sign-in (unless it just happened). */
export const needsLogin: InteractionCheck = {
  name: 'login',
  check(req, { session, authenticatedNow, now }) {
    const tooOld = session !== undefined && req.maxAge !== undefined && now - session.authTime > req.maxAge * 1000;
    if (session && (authenticatedNow || (!req.prompt.includes('login') && !tooOld))) return undefined;
    return pageOr(req, 'login', () => new OAuthError('login_required', 'the user must sign in'));
  },
};

/**
 * OIDC Core §3.1.2.1 id_token_hint: the client expects the person its hint names. Someone
 * else signed in: the sign-in page (login_required under prompt=none). Someone else signed
 * in during this very interaction: login_required to the client, since "If the End-User
 * identified by the ID Token is [not] logged in or is [not] logged in by the request",
 * the OP SHOULD return an error such as login_required.
 */
export const needsHintedUser: InteractionCheck = {
  name: 'id_token_hint',
  check(req, { notHinted, authenticatedNow }) {
    if (!notHinted) return undefined;
    const error = () => new OAuthError('login_required', 'the signed-in user is not the one id_token_hint names');
    return authenticatedNow ? { error: error() } : pageOr(req, 'login', error);
  },
};

/** prompt=select_account: the account chooser, unless the user just chose or signed in. */
export const needsAccountChoice: InteractionCheck = {
  name: 'select_account',
  check(req, { authenticatedNow }) {
    return req.prompt.includes('select_account') && !authenticatedNow ? { page: 'select_account' } : undefined;
  },
};

/**
 * Issue 14 §2: a person who has not opened their verification link yet may sign in but
 * not finish an authorization request: the "confirm your address" page (with a resend
 * button), or interaction_required under prompt=none (the client learns nothing more).
 */
export const needsVerifiedEmail: InteractionCheck = {
  name: 'email_verified',
  check(req, { session, emailVerified }) {
    if (!session || emailVerified !== false) return undefined;
    return pageOr(req, 'confirm_address', () => new OAuthError('interaction_required', 'the user must complete an action on Alias first'));
  },
};

/**
 * The level the request needs, if any: a client registered with --require-mfa always
 * needs urn:alias:acr:mfa; an essential `acr` claim (OIDC Core §5.5.1.1) needs the weakest
 * of its values (any of them meets it); acr_values (§3.1.2.1) asks, voluntarily, for its
 * first value Alias knows (the client's preference).
 */
export function wantedAcr(req: AuthorizationRequest): { acr: Acr; required: boolean } | undefined {
  if (req.client.requireMfa) return { acr: ACR_MFA, required: true };
  if (req.acrEssential?.length) {
    const weakest = ACR_VALUES_SUPPORTED.find((a) => req.acrEssential!.includes(a))!;
    return { acr: weakest, required: true };
  }
  return req.acrValues.length ? { acr: req.acrValues[0]!, required: false } : undefined;
}

/**
 * Step-up (issue 15 §3): the session's methods do not reach the wanted level. A person
 * with a second factor is asked for it; one without is shown how to set it up when the
 * level is required, while a merely requested level (acr_values) is answered with the
 * level reached: the request is voluntary (OIDC Core §3.1.2.1) and the ID token's `acr`
 * tells the client what happened. Under prompt=none no page can be shown, so any unmet
 * level is interaction_required (§3.1.2.6): the client may then ask interactively.
 */
export const needsSecondFactor: InteractionCheck = {
  name: 'acr',
  check(req, { session, hasSecondFactor }) {
    const wanted = wantedAcr(req);
    if (!session || !wanted || satisfiesAcr(session.amr, wanted.acr)) return undefined;
    const error = () => new OAuthError('interaction_required', 'the user must sign in with a second factor');
    if (hasSecondFactor) return pageOr(req, 'second_factor', error);
    if (req.prompt.includes('none')) return { error: error() };
    return wanted.required ? { page: 'mfa_setup' } : undefined;
  },
};

/** prompt=consent, or the remembered grant does not cover the request. */
export const needsConsent: InteractionCheck = {
  name: 'consent',
  check(req, { covered }) {
    if (!req.prompt.includes('consent') && covered) return undefined;
    return pageOr(req, 'consent', () => new OAuthError('consent_required', 'the user must approve this application'));
  },
};

/** In order: each check may assume the ones before it passed (a session, then its user). */
export const INTERACTION_CHECKS: readonly InteractionCheck[] = [needsLogin, needsHintedUser, needsAccountChoice, needsVerifiedEmail,
  needsSecondFactor, needsConsent];

/** The first need, or undefined when the request can be answered now. */
export function firstNeed(req: AuthorizationRequest, user: UserState): Need | undefined {
  for (const c of INTERACTION_CHECKS) {
    const need = c.check(req, user);
    if (need) return need;
  }
  return undefined;
}
