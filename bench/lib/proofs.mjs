// Client-side JWTs for the key-based scenarios: DPoP proofs (RFC 9449 §4.2) and
// private_key_jwt client assertions (RFC 7523 §3, OIDC Core §9). Signing costs client
// CPU, so they are made before each timed run, by this one code path for every target,
// and the load generator only sends them: the measured window holds no client signing
// for any target, and each target gets the same number made the same way.
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { request } from './http.mjs';

const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');

/** ES256 (P-256): the one algorithm both servers accept for proofs and assertions by default. */
function es256Key(kid) {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { kty, crv, x, y } = publicKey.export({ format: 'jwk' });
  return { privateKey, jwk: { kty, crv, x, y, ...(kid ? { kid, alg: 'ES256', use: 'sig' } : {}) } };
}

/** A compact JWS, ES256 (JWS §3.4: r‖s, not DER). */
function jws(header, payload, privateKey) {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
}

/** The bench client's signing key for private_key_jwt (its public half is registered as `jwks`). */
export const CLIENT_KEY = es256Key(`bench-${randomBytes(6).toString('base64url')}`);
export const CLIENT_JWKS = { keys: [CLIENT_KEY.jwk] };
/** The DPoP key the client-credentials tokens are bound to (one key, as one client instance has). */
const DPOP_KEY = es256Key();
export const DPOP_JKT = createHash('sha256')
  .update(JSON.stringify({ crv: DPOP_KEY.jwk.crv, kty: DPOP_KEY.jwk.kty, x: DPOP_KEY.jwk.x, y: DPOP_KEY.jwk.y }))
  .digest('base64url');

const jti = () => randomBytes(16).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);

/** `n` DPoP proofs for POST `htu`, each with its own `jti`, and the server's nonce. */
export function dpopProofs(n, htu, nonce) {
  const header = { typ: 'dpop+jwt', alg: 'ES256', jwk: DPOP_KEY.jwk };
  const iat = now();
  return Array.from({ length: n }, () => jws(header, { jti: jti(), htm: 'POST', htu, iat, ...(nonce ? { nonce } : {}) }, DPOP_KEY.privateKey));
}

/** `n` client assertions (RFC 7523 §3: iss = sub = client_id, aud = the issuer, exp, unique jti). */
export function clientAssertions(n, clientId, audience) {
  const header = { alg: 'ES256', kid: CLIENT_KEY.jwk.kid, typ: 'JWT' };
  const iat = now();
  // exp: 4 minutes, under Alias's 5-minute limit; the run uses them within seconds.
  return Array.from({ length: n }, () =>
    jws(header, { iss: clientId, sub: clientId, aud: audience, jti: jti(), iat, exp: iat + 240 }, CLIENT_KEY.privateKey));
}

/**
 * The token endpoint URL a target expects in `htu`, and its current DPoP nonce (both
 * require one at the token endpoint): a proof without a nonce is answered
 * `use_dpop_nonce` with the nonce in the DPoP-Nonce header (RFC 9449 §8).
 */
export async function dpopSetup(t) {
  const tried = [];
  // Alias names its URLs after its issuer (localhost); oidc-provider after the request's
  // Host (127.0.0.1, what the load generator sends). Probe rather than assume.
  for (const htu of [t.tokenEndpointUrl, t.url + t.endpoints.token]) {
    const res = await request(t.url + t.endpoints.token, {
      method: 'POST',
      headers: { authorization: t.dpopClient.basic, 'content-type': 'application/x-www-form-urlencoded', dpop: dpopProofs(1, htu)[0] },
      body: 'grant_type=client_credentials&scope=reports%3Aread',
    });
    const nonce = res.headers['dpop-nonce'];
    tried.push(`${htu}: ${res.status} ${res.text.slice(0, 120)}`);
    if (res.status === 400 && /use_dpop_nonce/.test(res.text) && typeof nonce === 'string') {
      const check = await request(t.url + t.endpoints.token, {
        method: 'POST',
        headers: { authorization: t.dpopClient.basic, 'content-type': 'application/x-www-form-urlencoded', dpop: dpopProofs(1, htu, nonce)[0] },
        body: 'grant_type=client_credentials&scope=reports%3Aread',
      });
      if (check.status === 200 && JSON.parse(check.text).token_type === 'DPoP') return { htu, nonce };
      tried.push(`${htu} with nonce: ${check.status} ${check.text.slice(0, 120)}`);
    }
  }
  throw new Error(`${t.name}: no DPoP-bound client_credentials token:\n  ${tried.join('\n  ')}`);
}
