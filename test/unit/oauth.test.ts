// Pure protocol helpers, tested against the RFC rules they implement.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkChallenge, s256, verifyS256 } from '../../src/oauth/pkce.js';
import { matchRedirectUri, registrationProblem } from '../../src/oauth/redirect_uri.js';
import { readClientCredentials } from '../../src/oauth/client_auth.js';
import { parseList } from '../../src/oauth/scopes.js';
import { formatUserCode, newUserCode, normaliseUserCode } from '../../src/oauth/user_code.js';
import { single, flag } from '../../src/oauth/params.js';
import { OAuthError } from '../../src/oauth/errors.js';
import { withMeta } from '../../src/oauth/channels.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof OAuthError ? err.error : 'other';
  }
  return 'none';
};

describe('PKCE (RFC 7636)', () => {
  it('§4.6 / Appendix B: S256 of the RFC example verifier', () => {
    const verifier = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk';
    assert.equal(s256(verifier), 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM');
    assert.ok(verifyS256(verifier, 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'));
    assert.ok(!verifyS256(verifier + 'x', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'));
  });
  it('§4.1: verifiers shorter than 43 characters never verify', () => {
    assert.ok(!verifyS256('short', s256('short')));
  });
  it('§4.3: the default method is plain, which is refused; S256 only', () => {
    assert.equal(code(() => checkChallenge('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', undefined)), 'invalid_request');
    assert.equal(code(() => checkChallenge('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', 'plain')), 'invalid_request');
    assert.equal(code(() => checkChallenge('E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', 'S256')), 'none');
    assert.equal(code(() => checkChallenge('tooshort', 'S256')), 'invalid_request');
  });
});

describe('redirect URIs (RFC 6749 §3.1.2, RFC 9700 §4.1.3, RFC 8252 §7.3)', () => {
  it('registration: https, loopback http, reverse-domain schemes; no fragments or credentials', () => {
    assert.equal(registrationProblem('https://app.example/cb'), undefined);
    assert.equal(registrationProblem('http://127.0.0.1:8080/cb'), undefined);
    assert.equal(registrationProblem('http://[::1]/cb'), undefined);
    assert.equal(registrationProblem('http://localhost/cb'), undefined);
    assert.equal(registrationProblem('com.example.app:/cb'), undefined);
    assert.ok(registrationProblem('http://app.example/cb'));
    assert.ok(registrationProblem('https://app.example/cb#x'));
    assert.ok(registrationProblem('https://u:p@app.example/cb'));
    assert.ok(registrationProblem('javascript:alert(1)'));
    assert.ok(registrationProblem('/relative'));
  });
  it('matching is exact string equality', () => {
    const reg = ['https://app.example/cb'];
    assert.ok(matchRedirectUri(reg, 'https://app.example/cb', false));
    assert.ok(!matchRedirectUri(reg, 'https://app.example/cb/', false));
    assert.ok(!matchRedirectUri(reg, 'https://app.example/cb?x=1', false));
    assert.ok(!matchRedirectUri(reg, 'https://APP.example/cb', false));
  });
  it('loopback redirects of native clients match on any port, and only then', () => {
    const reg = ['http://127.0.0.1/cb'];
    assert.ok(matchRedirectUri(reg, 'http://127.0.0.1:51004/cb', true));
    assert.ok(!matchRedirectUri(reg, 'http://127.0.0.1:51004/cb', false));
    assert.ok(!matchRedirectUri(reg, 'http://127.0.0.1:51004/other', true));
    assert.ok(!matchRedirectUri(reg, 'http://[::1]:51004/cb', true));
  });
});

describe('client authentication (RFC 6749 §2.3)', () => {
  const basic = (s: string) => 'Basic ' + Buffer.from(s).toString('base64');
  it('§2.3.1: both parts of Basic are form-url-decoded', () => {
    const c = readClientCredentials(basic('my%20client:a+b%2Bc'), {});
    assert.deepEqual(c, { method: 'client_secret_basic', clientId: 'my client', clientSecret: 'a b+c' });
  });
  it('malformed, empty or undecodable Basic is invalid_client', () => {
    for (const h of ['Basic', 'Basic !!!', basic('nocolon'), basic(':secret'), basic('id:'), basic('id:%zz')]) {
      assert.equal(code(() => readClientCredentials(h, {})), 'invalid_client', h);
    }
  });
  it('§2.3: more than one method is invalid_request', () => {
    assert.equal(code(() => readClientCredentials(basic('a:b'), { client_secret: 'b' })), 'invalid_request');
  });
  it('client_secret_post and none', () => {
    assert.deepEqual(readClientCredentials(undefined, { client_id: 'a', client_secret: 'b' }),
      { method: 'client_secret_post', clientId: 'a', clientSecret: 'b' });
    assert.deepEqual(readClientCredentials(undefined, { client_id: 'a' }), { method: 'none', clientId: 'a' });
    assert.equal(readClientCredentials(undefined, {}), undefined);
  });
});

describe('parameters and scopes (RFC 6749 §3.1, §3.3)', () => {
  it('repeated parameters are invalid_request; empty means omitted', () => {
    assert.equal(code(() => single({ a: ['1', '2'] }, 'a')), 'invalid_request');
    assert.equal(single({ a: '' }, 'a'), undefined);
  });
  it('flags are true or false', () => {
    assert.equal(flag({ f: 'true' }, 'f'), true);
    assert.equal(flag({}, 'f'), false);
    assert.equal(code(() => flag({ f: 'yes' }, 'f')), 'invalid_request');
  });
  it('scope tokens: space-delimited, duplicates dropped, quotes refused', () => {
    assert.deepEqual(parseList('openid  nickname openid'), ['openid', 'nickname']);
    assert.equal(code(() => parseList('open"id')), 'invalid_scope');
  });
});

describe('user codes (RFC 8628 §6.1)', () => {
  it('8 characters from 20 consonants, shown with a dash, typed in any case', () => {
    for (let i = 0; i < 50; i++) {
      const c = newUserCode();
      assert.match(c, /^[BCDFGHJKLMNPQRSTVWXZ]{8}$/);
      assert.equal(normaliseUserCode(formatUserCode(c).toLowerCase()), c);
    }
    assert.equal(normaliseUserCode('AEIO-UUUU'), undefined, 'vowels are never in a code');
    assert.equal(normaliseUserCode('BCD'), undefined);
  });
});

describe('the reserved _meta channel (DESIGN, "Channels")', () => {
  it('comes with contact, first, and only once', () => {
    assert.deepEqual(withMeta(['openid', 'contact'], ['news', '_meta', 'alerts']), ['_meta', 'news', 'alerts']);
    assert.deepEqual(withMeta(['openid', 'contact'], []), ['_meta']);
  });
  it('goes with contact: no channel at all without it', () => {
    assert.deepEqual(withMeta(['openid'], ['news', '_meta']), []);
  });
});
