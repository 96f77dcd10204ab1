// The privileged session (ory/kratos's term): actions that hand out or destroy the whole
// account — the data export, deletion, adding or removing a passkey, and later an e-mail change — ask
// for the password again unless the person signed in within the last few minutes. The
// window is measured from the session's `authTime`, the moment the person last proved
// who they are (a sign-in or a re-authentication), never from the last page view.
import type { Session } from '../store/types.js';

export const REAUTH_WINDOW_MS = 10 * 60_000;

/** True when the session's last authentication is at most REAUTH_WINDOW_MS old. */
export function recentlyAuthenticated(session: Pick<Session, 'authTime'>, now: number): boolean {
  return now - session.authTime <= REAUTH_WINDOW_MS && session.authTime <= now + 60_000;
}

/**
 * Where the re-authentication page may send the person afterwards: local paths only, from
 * this fixed list (an open redirect is impossible by construction). Add a path here when
 * a new privileged page needs it.
 */
export const REAUTH_NEXT: readonly string[] = ['/account', '/account/export', '/account/delete', '/account#passkeys', '/account/totp'];

/** `next` when it is one of REAUTH_NEXT, else the account page. */
export function reauthNext(next: unknown): string {
  return typeof next === 'string' && REAUTH_NEXT.includes(next) ? next : '/account';
}
