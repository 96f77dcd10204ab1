// Runs an authorization request as far as it can go without the user: to the code, to
// an error for the client, or to the page the user must see next.
import type { Services } from '../services.js';
import type { Grant, Session } from '../store/store.js';
import type { OAuthError } from '../oauth/errors.js';
import { decide, tokenRights } from './decide.js';
import { issueCode } from './issue_code.js';
import type { AuthorizationRequest, ReplyTarget } from './request.js';
import type { AuthorizationResponse } from './response_modes/index.js';
import { signIdToken } from '../tokens/id_token.js';

export type Outcome =
  | { kind: 'respond'; response: AuthorizationResponse }
  | { kind: 'page'; page: 'login' | 'select_account' | 'consent'; grant?: Grant };

/** RFC 6749 §4.1.2.1 error response, with `iss` (RFC 9207). */
export function errorResponse(issuer: string, target: ReplyTarget, err: OAuthError): AuthorizationResponse {
  return {
    mode: target.responseMode,
    redirectUri: target.redirectUri,
    params: { error: err.error, error_description: err.description, state: target.state, iss: issuer },
  };
}

/**
 * The success response, with `iss` (RFC 9207): a code (RFC 6749 §4.1.2), or for
 * response_type=id_token an ID token (OIDC Core §3.2.2.5), which has no at_hash since no
 * access token is issued through the front channel.
 */
export async function successResponse(s: Services, req: AuthorizationRequest, grant: Grant,
  rights: { scopes: string[]; channels: string[] }, session: Session, source: string): Promise<AuthorizationResponse> {
  const base = { mode: req.responseMode, redirectUri: req.redirectUri };
  if (req.responseType === 'id_token') {
    const nickname = rights.scopes.includes('nickname') ? (await s.store.users.get(grant.userId))?.nickname : null;
    const idToken = await signIdToken(s.keys, {
      alg: req.client.idTokenSignedResponseAlg, issuer: s.config.issuer, clientId: req.client.id, sub: grant.sub,
      authTime: session.authTime, nonce: req.nonce, nickname, now: s.now(),
    });
    await s.store.grants.touch(grant.id, s.now());
    await s.audit.record({ type: 'token.issued', clientId: req.client.id, sub: grant.sub, ip: source, detail: 'grant_type=implicit' });
    return { ...base, params: { id_token: idToken, state: req.state, iss: s.config.issuer } };
  }
  const code = await issueCode(s.store, s.now(), req, grant, rights, session.authTime);
  return { ...base, params: { code, state: req.state, iss: s.config.issuer } };
}

export async function proceed(s: Services, req: AuthorizationRequest, session: Session | undefined,
  authenticatedNow: boolean, source: string): Promise<Outcome> {
  const grant = session ? await s.consent.find(session.userId, req.client.id) : undefined;
  const next = decide(req, {
    session, authenticatedNow, grant, covered: s.consent.covers(grant, req.scopes, req.channels), now: s.now(),
  });
  switch (next.kind) {
    case 'error':
      return { kind: 'respond', response: errorResponse(s.config.issuer, req, next.error) };
    case 'issue':
      return { kind: 'respond', response: await successResponse(s, req, grant!, next, session!, source) };
    default:
      return { kind: 'page', page: next.kind, grant };
  }
}

export { tokenRights };
