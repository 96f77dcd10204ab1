// @ts-check
// The relying party's side of OpenID Connect, written with openid-client the way any app
// would use it: discovery, the authorization code flow with PKCE (S256), state and nonce,
// the code exchange, refresh, and a call to Alias's contact relay with the user's access
// token. Nothing here knows Alias's internals: only its discovery document and the
// documented relay API (POST alias_messages_endpoint).
import * as client from 'openid-client';

/**
 * @typedef {object} RelyingPartyOptions
 * @property {URL} issuer Alias's issuer URL.
 * @property {string} clientId
 * @property {string} clientSecret
 * @property {string} redirectUri Registered with Alias, exactly.
 * @property {string} scope Space-separated.
 * @property {string[]} channels Relay channels to ask for (with the contact scope).
 */

/**
 * @typedef {object} PendingSignIn What the browser's session keeps between /login and /callback.
 * @property {string} state
 * @property {string} nonce
 * @property {string} codeVerifier
 * @property {number} createdAt
 */

/**
 * @typedef {object} SignedIn What the app keeps about a signed-in person (server side only).
 * @property {string} sub The alias ID: made for this app, different at every other app.
 * @property {Record<string, unknown>} claims The ID token's claims (validated by openid-client).
 * @property {string} accessToken
 * @property {string | undefined} refreshToken
 * @property {number} expiresAt ms since the epoch.
 * @property {string[]} scopes What the person granted.
 * @property {string[]} channels The relay channels the person granted.
 */

/**
 * @typedef {{ ok: true } | { ok: false, kind: 'refused' | 'rate_limited' | 'invalid' | 'expired' | 'unavailable', message: string }} SendResult
 */

const list = (/** @type {unknown} */ v) => typeof v === 'string' ? v.split(' ').filter(Boolean) : [];

/** @param {RelyingPartyOptions} opts */
export function createRelyingParty(opts) {
  /** @type {Promise<client.Configuration> | undefined} */
  let configuration;
  /** Discovery, once; retried on the next request if Alias was not reachable. */
  function config() {
    if (!configuration) {
      configuration = client.discovery(opts.issuer, opts.clientId, undefined, client.ClientSecretBasic(opts.clientSecret),
        // openid-client refuses plain HTTP unless told: a local Alias (http://localhost) is
        // the one case where that is right. An https issuer keeps the default.
        opts.issuer.protocol === 'http:' ? { execute: [client.allowInsecureRequests] } : undefined);
      configuration.catch(() => { configuration = undefined; });
    }
    return configuration;
  }

  /**
   * @param {client.TokenEndpointResponse & client.TokenEndpointResponseHelpers} tokens
   * @param {SignedIn | undefined} previous kept fields a refresh does not return (the ID token)
   * @returns {SignedIn}
   */
  function signedIn(tokens, previous) {
    return {
      // A refresh brings no new ID token (Alias, like the provider it models): keep the first one's.
      sub: previous?.sub ?? String(tokens.claims()?.sub ?? ''),
      claims: previous?.claims ?? { ...tokens.claims() },
      accessToken: tokens.access_token,
      // RFC 6749 §6: a refresh may return a new refresh token (Alias rotates them).
      refreshToken: tokens.refresh_token ?? previous?.refreshToken,
      expiresAt: Date.now() + (tokens.expires_in ?? 0) * 1000,
      scopes: tokens.scope !== undefined ? list(tokens.scope) : previous?.scopes ?? [],
      // Alias lists the granted channels in the token response (only with contact).
      channels: list(tokens.channels),
    };
  }

  return {
    /** Starts a sign-in: the authorization URL, and what the callback must find again. */
    async start() {
      const c = await config();
      /** @type {PendingSignIn} */
      const pending = {
        state: client.randomState(),
        nonce: client.randomNonce(),
        codeVerifier: client.randomPKCECodeVerifier(),
        createdAt: Date.now(),
      };
      const url = client.buildAuthorizationUrl(c, {
        redirect_uri: opts.redirectUri,
        scope: opts.scope,
        ...(opts.channels.length ? { channels: opts.channels.join(' ') } : {}),
        state: pending.state,
        nonce: pending.nonce,
        // RFC 7636 §4.2: only S256.
        code_challenge: await client.calculatePKCECodeChallenge(pending.codeVerifier),
        code_challenge_method: 'S256',
      });
      return { url, pending };
    },

    /**
     * Finishes a sign-in at the redirect URI. Throws openid-client's errors: an
     * AuthorizationResponseError when Alias sent an error (the person chose "Deny"), a
     * ResponseBodyError when the code was refused (expired, already used).
     * @param {URL} callbackUrl the full URL the browser arrived at
     * @param {PendingSignIn} pending
     */
    async finish(callbackUrl, pending) {
      const tokens = await client.authorizationCodeGrant(await config(), callbackUrl, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
      return signedIn(tokens, undefined);
    },

    /** @param {SignedIn} user  New tokens for the same person (the refresh token rotates). */
    async refresh(user) {
      if (!user.refreshToken) throw new Error('no refresh token');
      return signedIn(await client.refreshTokenGrant(await config(), user.refreshToken), user);
    },

    /**
     * Asks Alias to send the signed-in person a message (the contact relay), with their
     * access token. A token that expired is refreshed once and the send repeated.
     * @param {SignedIn} user
     * @param {{ channel: string, subject: string, body: string }} message
     * @param {string} idempotencyKey one per filled-in form: a double submit sends once
     * @returns {Promise<{ result: SendResult, user: SignedIn }>}
     */
    async sendMessage(user, message, idempotencyKey) {
      const c = await config();
      const endpoint = c.serverMetadata().alias_messages_endpoint;
      if (typeof endpoint !== 'string') {
        return { user, result: { ok: false, kind: 'unavailable', message: 'Alias does not advertise a messages endpoint (alias_messages_endpoint).' } };
      }
      let current = user;
      if (current.refreshToken && current.expiresAt - 30_000 < Date.now()) current = await this.refresh(current);
      for (let attempt = 0; ; attempt++) {
        try {
          const res = await client.fetchProtectedResource(c, current.accessToken, new URL(endpoint), 'POST',
            JSON.stringify({ to: current.sub, ...message }),
            new Headers({ 'content-type': 'application/json', 'idempotency-key': idempotencyKey }));
          if (res.status === 202) return { user: current, result: { ok: true } };
          const body = /** @type {{ error?: string, error_description?: string }} */ (await res.json().catch(() => ({})));
          if (res.status === 429) {
            return { user: current, result: { ok: false, kind: 'rate_limited',
              message: `Alias limits how many messages an app may send. Try again in ${res.headers.get('retry-after') ?? 60} seconds.` } };
          }
          return { user: current, result: { ok: false, kind: 'invalid', message: body.error_description ?? `Alias answered ${res.status}.` } };
        } catch (err) {
          if (!(err instanceof client.WWWAuthenticateChallengeError)) throw err;
          const error = err.cause.find((ch) => ch.scheme === 'bearer')?.parameters.error;
          // RFC 6750 §3.1: invalid_token is an expired or revoked token: refresh once.
          if (error === 'invalid_token' && attempt === 0 && current.refreshToken) {
            current = await this.refresh(current);
            continue;
          }
          if (error === 'invalid_token') {
            return { user: current, result: { ok: false, kind: 'expired', message: 'Your sign-in with this app has expired. Sign in again.' } };
          }
          return { user: current, result: { ok: false, kind: 'refused',
            message: 'Alias refused: you have not allowed this app to send you messages on this channel (or you revoked it on your account page). Sign in again to allow it.' } };
        }
      }
    },
  };
}

/** openid-client's error types, for the app's error pages. */
export const { AuthorizationResponseError, ResponseBodyError } = client;
