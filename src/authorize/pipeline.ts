// The authorization request (RFC 6749 §4.1, OIDC Core §3.1.2 and §3.2.2) as one pipeline
// of named steps, each in its own module:
//
//   1. validate   pushed.ts: a pushed request (RFC 9126), validated when pushed; else
//                 validate.ts: findClient → checkRedirectUri → checkState →
//                 rejectDuplicates → rejectUnsupported → checkResponseType →
//                 checkResponseMode → checkGrantType → checkImplicit → checkScopes →
//                 checkPrompt → checkMaxAge → checkPkce → checkIdTokenHint
//   2. interact   interaction_policy.ts: needsLogin → needsHintedUser → needsAccountChoice → needsVerifiedEmail →
//                 needsSecondFactor → needsConsent;
//                 a page to show parks the request (park.ts) and the interaction pages
//                 resume it here, at step 2, without validating it again
//   3. consent    recordConsent: the user's decision on the consent page
//   4. issue      issue.ts: a code, or the implicit flow's ID token
//   5. respond    respond.ts + response_modes/: query, fragment or form_post
//
// Nothing here knows about HTTP: endpoints turn the outcomes into replies.
import type { AuthorizeServices } from './services.js';
import type { Client, Grant, Interaction, Session } from '../store/types.js';
import { OAuthError } from '../oauth/errors.js';
import { firstNeed, wantedAcr, type InteractionPage } from './interaction_policy.js';
import { satisfiesAcr } from '../oauth/acr.js';
import { issue, tokenRights, type Rights } from './issue.js';
import { resume } from './park.js';
import { RedirectableError, UntrustedRequestError, type AuthorizationRequest } from './request.js';
import type { AuthorizationResponse } from './response_modes/index.js';
import { errorResponse, successResponse } from './respond.js';
import { validateAuthorizationRequest } from './validate.js';
import { REQUEST_URI_PREFIX, takePushedRequest } from './pushed.js';
import { verifyIdTokenHint } from '../tokens/id_token_hint.js';

/** An answer to the client (a code, an ID token or an error), in its response mode. */
export interface Respond { kind: 'respond'; response: AuthorizationResponse }
/** An error about the client or redirect URI: shown on Alias's own page, never redirected. */
export interface Untrusted { kind: 'untrusted'; error: UntrustedRequestError }
/** The user must see a page first. */
export interface Interact { kind: 'interact'; page: InteractionPage; grant?: Grant }

export type Validated = { kind: 'valid'; request: AuthorizationRequest } | Respond | Untrusted;
export type Outcome = Respond | Interact;

/**
 * Step 1: a request as received at the authorization endpoint, or (RFC 9126 §4) the
 * pushed request its `request_uri` names, validated when it was pushed (pushed.ts).
 */
export async function start(s: AuthorizeServices, params: Record<string, unknown>): Promise<Validated> {
  // Only request_uri values of pushed requests; any other (a request object by reference,
  // RFC 9101) goes through validation, which answers request_uri_not_supported.
  const requestUri = params.request_uri;
  if (Array.isArray(requestUri) || (typeof requestUri === 'string' && requestUri.startsWith(REQUEST_URI_PREFIX))) {
    return validated(() => takePushedRequest(s, params), s.config.issuer);
  }
  const verifyHint = async (token: string, clientId: string) =>
    (await verifyIdTokenHint(s.keys, s.config.issuer, token, { audience: clientId }))?.sub;
  // RFC 9126 §6: for every client (serve --require-par) or those registered to push.
  const requirePushed = (client: Client) => s.config.requirePar || client.requirePushedAuthorizationRequests;
  return validated(() => validateAuthorizationRequest(params, s.clients.get, verifyHint, (uri) => s.store.resources.get(uri), { requirePushed }), s.config.issuer);
}

/** Back to step 2 from the interaction pages: the parked request, its client as registered now. */
export async function resumeParked(s: AuthorizeServices, interaction: Interaction): Promise<Validated> {
  return validated(() => resume(interaction, s.clients.get), s.config.issuer);
}

/** The user's side, as the interaction pages know it. */
export interface User {
  session?: Session;
  /** The user signed in or chose the account during this very interaction. */
  authenticatedNow: boolean;
  /** The address failures and events are recorded against. */
  source: string;
}

/** Steps 2, 4, 5: as far as the request can go without the user. */
export async function proceed(s: AuthorizeServices, req: AuthorizationRequest, user: User): Promise<Outcome> {
  const { session } = user;
  const grant = session ? await s.consent.find(session.userId, req.client.id) : undefined;
  // Looked up only when the session falls short of a wanted level (most requests want none).
  const wanted = wantedAcr(req);
  // A second factor is TOTP or a passkey (with user verification a passkey is two factors).
  const hasSecondFactor = session && wanted && !satisfiesAcr(session.amr, wanted.acr)
    ? (await s.store.secondFactors.getTotp(session.userId)) !== undefined || (await s.store.passkeys.listByUser(session.userId)).length > 0
    : undefined;
  const need = firstNeed(req, { hasSecondFactor,
    session, authenticatedNow: user.authenticatedNow, grant, covered: s.consent.covers(grant, req.scopes, req.channels), now: s.now(),
    notHinted: req.idTokenHintSub !== undefined && session !== undefined && s.pairwise(req.client.id, session.userId) !== req.idTokenHintSub,
    emailVerified: session ? (await s.accounts.get(session.userId))?.emailVerified ?? false : undefined,
  });
  if (!need) return respondWith(s, req, grant!, tokenRights(req, grant!, req.scopes, req.channels), session!, user.source);
  if ('error' in need) return { kind: 'respond', response: errorResponse(s.config.issuer, req, need.error) };
  return { kind: 'interact', page: need.page, grant };
}

export type ConsentDecision = 'deny' | { allow: { approvedScopes: string[]; approvedChannels: string[] } };

/** Step 3, then 4 and 5: the user allowed (some of) the request, or denied it. */
export async function recordConsent(s: AuthorizeServices, req: AuthorizationRequest, session: Session,
  decision: ConsentDecision, source: string): Promise<Respond> {
  if (decision === 'deny') {
    return { kind: 'respond', response: errorResponse(s.config.issuer, req, new OAuthError('access_denied', 'the user denied the request')) };
  }
  const { approvedScopes, approvedChannels } = decision.allow;
  const grant = await s.consent.record({
    userId: session.userId, clientId: req.client.id, requestedScopes: req.scopes,
    requestedChannels: req.scopes.includes('contact') ? req.channels : [], approvedScopes, approvedChannels,
    source: { ip: source, via: 'authorize' },
  });
  return respondWith(s, req, grant, tokenRights(req, grant, approvedScopes, approvedChannels), session, source);
}

/** Steps 4 and 5. */
async function respondWith(s: AuthorizeServices, req: AuthorizationRequest, grant: Grant, rights: Rights,
  session: Session, source: string): Promise<Respond> {
  const credential = await issue(s, req, grant, rights, session, source);
  return { kind: 'respond', response: successResponse(s.config.issuer, req, credential) };
}

async function validated(fn: () => Promise<AuthorizationRequest>, issuer: string): Promise<Validated> {
  try {
    return { kind: 'valid', request: await fn() };
  } catch (err) {
    if (err instanceof UntrustedRequestError) return { kind: 'untrusted', error: err };
    if (err instanceof RedirectableError) return { kind: 'respond', response: errorResponse(issuer, err.target, err.oauth) };
    throw err;
  }
}
