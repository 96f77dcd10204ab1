// RFC 6749 §4.3 resource owner password credentials. Off unless the client was given the
// `password` grant; confidential clients only; shares the sign-in page's password check
// and lockout. It may grant openid, nickname, offline_access and client scopes, never
// contact or channels: those need the user's own consent on Alias's pages.
//
// Issue 15 §2: the grant cannot ask for a second factor, so it never stands in for one.
// A client registered with --require-mfa cannot use it at all (unauthorized_client, before
// any password is checked), and an account with TOTP on gets invalid_grant after a right
// password (counted like any sign-in): otherwise anybody holding the password would get
// tokens while the sign-in page asks for the code. The strict choice an operator who
// turned on a second factor expects; the person can still use the app through the
// authorization code flow.
import { OAuthError, invalidGrant } from '../oauth/errors.js';
import { required, single } from '../oauth/params.js';
import { parseList } from '../oauth/scopes.js';
import { newFamilyId } from '../tokens/issuer.js';
import type { GrantHandler } from './types.js';
import { issuedEvent } from './audit.js';
import { PASSWORD_AMR } from '../oauth/acr.js';

const ALLOWED_USER_SCOPES = ['openid', 'nickname', 'offline_access'];

export const password: GrantHandler = {
  grantType: 'password',
  params: ['username', 'password', 'scope'],
  // RFC 6749 §4.3.2: the client authenticates; DESIGN: confidential clients only.
  confidentialOnly: true,
  needsRedirectUri: false,
  async handle(ctx) {
    const { s, client, params, source } = ctx;
    if (client.isPublic) throw new OAuthError('unauthorized_client', 'public clients cannot use the password grant');
    if (client.requireMfa) throw new OAuthError('unauthorized_client', 'this client requires two-step sign-in, which the password grant cannot ask for');
    const username = required(params, 'username');
    const pass = required(params, 'password');
    const scopes = parseList(single(params, 'scope') ?? 'openid');
    const bad = scopes.find((x) => !ALLOWED_USER_SCOPES.includes(x) && !client.scopes.includes(x));
    if (bad) {
      throw new OAuthError('invalid_scope', bad === 'contact'
        ? "'contact' needs the user's consent on Alias's pages; use the authorization code flow"
        : `scope '${bad}' is not available to the password grant`);
    }
    const result = await s.accounts.login(username, pass, source, { clientId: client.id, via: 'password_grant' });
    if (!result.ok) {
      if (result.reason === 'throttled') {
        throw new OAuthError('too_many_requests', 'too many failed sign-ins; try again later', { status: 429, retryAfter: result.retryAfter });
      }
      // RFC 6749 §5.2: invalid resource owner credentials are invalid_grant.
      throw invalidGrant('the username or password is wrong');
    }
    // Issue 14 §2: no tokens before the address is confirmed; the client is not told why.
    if (!result.user.emailVerified) throw invalidGrant('these credentials cannot be used to sign in here');
    if (await s.store.secondFactors.getTotp(result.user.id)) {
      throw invalidGrant('this account signs in with a second factor, which the password grant cannot ask for');
    }
    const authTime = s.now();
    const minted = await s.store.transaction(async (tx) => {
      // Typing the password into this client is the user's consent to these scopes.
      const grant = await s.consent.record({
        userId: result.user.id, clientId: client.id, requestedScopes: [], requestedChannels: [],
        approvedScopes: scopes, approvedChannels: [], source: { ip: source, via: 'password_grant' },
      }, tx);
      const tokens = await s.tokens.forUser(tx, { client, grant, familyId: newFamilyId(authTime), scopes, channels: [], authTime,
        amr: PASSWORD_AMR, dpopJkt: ctx.dpopJkt, event: issuedEvent(ctx, 'password', grant.sub) });
      return tokens;
    });
    return { ...(await s.tokens.complete(minted)) };
  },
};
