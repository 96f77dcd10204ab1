// Runs an authorization request as far as it can go without the user: to the code, to
// an error for the client, or to the page the user must see next.
import type { Services } from '../services.js';
import type { Grant, Session } from '../store/store.js';
import type { OAuthError } from '../oauth/errors.js';
import { decide, tokenRights } from './decide.js';
import { issueCode } from './issue_code.js';
import type { AuthorizationRequest, ReplyTarget } from './request.js';
import { queryRedirect } from './response_modes/query.js';

export type Outcome =
  | { kind: 'redirect'; url: string }
  | { kind: 'page'; page: 'login' | 'select_account' | 'consent'; grant?: Grant };

/** RFC 6749 §4.1.2.1 error response, with `iss` (RFC 9207). */
export function errorRedirect(issuer: string, target: ReplyTarget, err: OAuthError): string {
  return queryRedirect(target.redirectUri, {
    error: err.error, error_description: err.description, state: target.state, iss: issuer,
  });
}

/** RFC 6749 §4.1.2 success response, with `iss` (RFC 9207). */
export async function codeRedirect(s: Services, req: AuthorizationRequest, grant: Grant,
  rights: { scopes: string[]; channels: string[] }, session: Session): Promise<string> {
  const code = await issueCode(s.store, s.now(), req, grant, rights, session.authTime);
  return queryRedirect(req.redirectUri, { code, state: req.state, iss: s.config.issuer });
}

export async function proceed(s: Services, req: AuthorizationRequest, session: Session | undefined,
  authenticatedNow: boolean): Promise<Outcome> {
  const grant = session ? await s.consent.find(session.userId, req.client.id) : undefined;
  const next = decide(req, {
    session, authenticatedNow, grant, covered: s.consent.covers(grant, req.scopes, req.channels), now: s.now(),
  });
  switch (next.kind) {
    case 'error':
      return { kind: 'redirect', url: errorRedirect(s.config.issuer, req, next.error) };
    case 'issue':
      return { kind: 'redirect', url: await codeRedirect(s, req, grant!, next, session!) };
    default:
      return { kind: 'page', page: next.kind, grant };
  }
}

export { tokenRights };
