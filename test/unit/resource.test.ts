// The RFC 8707 rules of src/oauth/resource.ts: what a resource indicator may be, how a
// resource's scopes are kept inside a grant, and which resource a token request gets.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OAuthError } from '../../src/oauth/errors.js';
import {
  pickResource, qualify, readResources, readTokenResource, resourceScopeProblem, resourceUriProblem, scopesOf, unqualify,
  withoutResourceScopes,
} from '../../src/oauth/resource.js';
import { accessTokenDigest, jtiDigest } from '../../src/tokens/jwt_access_token.js';
import { digest } from '../../src/tokens/opaque.js';

const target = (fn: () => unknown) => assert.throws(fn, (e: unknown) => e instanceof OAuthError && e.error === 'invalid_target');

describe('resource indicators (RFC 8707)', () => {
  it('§2: absolute URI, no fragment; https, or http on loopback only; no credentials', () => {
    for (const ok of ['https://api.example/', 'https://api.example/v1?x=1', 'http://localhost:8080/', 'http://127.0.0.1/a', 'http://[::1]/']) {
      assert.equal(resourceUriProblem(ok), undefined, ok);
    }
    for (const bad of ['api', '/v1', 'https://api.example/#f', 'https://api.example/#', 'http://api.example/', 'ftp://a.example/',
      'urn:x:y', 'https://u:p@api.example/', 'https://api.example/a b', 'x'.repeat(3000)]) {
      assert.notEqual(resourceUriProblem(bad), undefined, bad);
    }
  });

  it('resource scopes: scope-tokens, not user scopes, no #', () => {
    assert.equal(resourceScopeProblem('calendar.read'), undefined);
    assert.equal(resourceScopeProblem('reports:read'), undefined);
    for (const bad of ['openid', 'contact', 'a#b', 'a b', 'a"b', '']) assert.notEqual(resourceScopeProblem(bad), undefined, bad);
  });

  it('a resource scope is kept as URI#scope; the first # splits it (a URI has no fragment)', () => {
    const q = qualify('https://a.example/x?y=1', 'read');
    assert.deepEqual(unqualify(q), { resource: 'https://a.example/x?y=1', scope: 'read' });
    assert.equal(unqualify('openid'), undefined);
    const granted = ['openid', q, qualify('https://b.example/', 'read'), qualify('https://a.example/x?y=1', 'write')];
    assert.deepEqual(scopesOf(granted, 'https://a.example/x?y=1'), ['read', 'write']);
    assert.deepEqual(withoutResourceScopes(granted), ['openid']);
  });

  it('authorization endpoint: repeated values collapse; malformed or too many → invalid_target', () => {
    assert.deepEqual(readResources({ resource: ['https://a.example/', 'https://a.example/', 'https://b.example/'] }),
      ['https://a.example/', 'https://b.example/']);
    assert.deepEqual(readResources({}), []);
    target(() => readResources({ resource: 'https://a.example/#x' }));
    target(() => readResources({ resource: '' }));
    target(() => readResources({ resource: { a: 1 } }));
    target(() => readResources({ resource: Array.from({ length: 11 }, (_, i) => `https://a${i}.example/`) }));
  });

  it('§2.2 token endpoint: one resource per request; it must be granted; without one, the only one granted', () => {
    target(() => readTokenResource({ resource: ['https://a.example/', 'https://b.example/'] }));
    assert.equal(readTokenResource({}), undefined);
    assert.equal(pickResource(undefined, []), undefined);
    assert.equal(pickResource(undefined, ['https://a.example/']), 'https://a.example/');
    assert.equal(pickResource('https://b.example/', ['https://a.example/', 'https://b.example/']), 'https://b.example/');
    target(() => pickResource(undefined, ['https://a.example/', 'https://b.example/']));
    target(() => pickResource('https://c.example/', ['https://a.example/']));
    target(() => pickResource('https://a.example/', []));
  });

  it('a JWT access token is looked up by its jti digest; anything else by its own digest', () => {
    const payload = Buffer.from(JSON.stringify({ jti: 'abc' })).toString('base64url');
    assert.equal(accessTokenDigest(`eyJhbGciOiJFUzI1NiJ9.${payload}.sig`), jtiDigest('abc'));
    for (const other of ['opaque-token', 'a.b.c', 'x'.repeat(9000)]) assert.equal(accessTokenDigest(other), digest(other));
  });
});
