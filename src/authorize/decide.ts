// Decides what an authorization request needs next: sign-in, account choice, consent,
// or nothing (issue the code). OIDC Core §3.1.2.1 (prompt, max_age), §3.1.2.3–4.
import type { Grant, Session } from '../store/store.js';
import { OAuthError } from '../oauth/errors.js';
import { META_CHANNEL, union } from '../oauth/scopes.js';
import type { AuthorizationRequest } from './request.js';

export type Next =
  | { kind: 'login' }
  | { kind: 'select_account' }
  | { kind: 'consent' }
  | { kind: 'issue'; scopes: string[]; channels: string[] }
  | { kind: 'error'; error: OAuthError };

export interface DecisionContext {
  session?: Session;
  /** The user signed in or chose the account during this very interaction. */
  authenticatedNow: boolean;
  grant?: Grant;
  covered: boolean;
  now: number;
}

export function decide(req: AuthorizationRequest, ctx: DecisionContext): Next {
  const none = req.prompt.includes('none');
  const { session } = ctx;
  const tooOld = session !== undefined && req.maxAge !== undefined && ctx.now - session.authTime > req.maxAge * 1000;
  if (!session || (!ctx.authenticatedNow && (req.prompt.includes('login') || tooOld))) {
    return none ? { kind: 'error', error: new OAuthError('login_required', 'the user must sign in') } : { kind: 'login' };
  }
  if (req.prompt.includes('select_account') && !ctx.authenticatedNow) return { kind: 'select_account' };
  if (req.prompt.includes('consent') || !ctx.covered) {
    return none ? { kind: 'error', error: new OAuthError('consent_required', 'the user must approve this application') } : { kind: 'consent' };
  }
  return { kind: 'issue', ...tokenRights(req, ctx.grant!, req.scopes, req.channels) };
}

/**
 * What the code (and its tokens) carries: what is granted now, plus everything granted
 * before when include_granted_scopes / include_granted_channels ask for it.
 */
export function tokenRights(req: AuthorizationRequest, grant: Grant, scopes: string[], channels: string[]) {
  const s = req.includeGrantedScopes ? union(scopes, grant.scopes) : scopes;
  const c = req.includeGrantedChannels ? union(channels, grant.channels) : channels;
  return {
    scopes: s.filter((x) => grant.scopes.includes(x)),
    channels: s.includes('contact') ? c.filter((x) => x !== META_CHANNEL && grant.channels.includes(x)) : [],
  };
}
