// The one list of grant types (src/grants/index.ts) and everything derived from it:
// the token endpoint's handlers, discovery's grant_types_supported, and the client
// registry's checks. The expected values are what each place listed by hand before.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENT_GRANT_TYPES, grants } from '../../src/grants/index.js';
import { discoveryDocument } from '../../src/endpoints/discovery.js';
import { ClientInputError, validateClient } from '../../src/clients/registry.js';

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const names = (pick: (g: (typeof CLIENT_GRANT_TYPES)[number]) => boolean) =>
  CLIENT_GRANT_TYPES.filter(pick).map((g) => g.grantType).sort();

describe('grant types', () => {
  it('the token endpoint handles every grant type but implicit (a response type)', () => {
    assert.deepEqual([...grants.keys()].sort(),
      ['authorization_code', 'client_credentials', 'password', 'refresh_token', DEVICE].sort());
    for (const [name, g] of grants) {
      assert.equal(g.grantType, name);
      assert.ok(g.params.length > 0, `${name} lists its parameters`);
    }
  });

  it('discovery advertises them all, in the order it always has', () => {
    assert.deepEqual(discoveryDocument('https://id.example').grant_types_supported,
      ['authorization_code', 'refresh_token', 'client_credentials', 'password', 'implicit', DEVICE]);
  });

  it('refresh_token, client_credentials and password are for confidential clients only', () => {
    assert.deepEqual(names((g) => g.confidentialOnly), ['client_credentials', 'password', 'refresh_token']);
    for (const g of ['refresh_token', 'client_credentials', 'password']) {
      assert.throws(() => validateClient({ name: 'x', isPublic: true, grantTypes: [g] }),
        (err) => err instanceof ClientInputError && err.message === `a public client cannot use the '${g}' grant type`);
    }
    assert.doesNotThrow(() => validateClient({ name: 'x', isPublic: true, grantTypes: [DEVICE] }));
  });

  it('authorization_code and implicit need a redirect URI', () => {
    assert.deepEqual(names((g) => g.needsRedirectUri), ['authorization_code', 'implicit']);
    for (const g of ['authorization_code', 'implicit']) {
      assert.throws(() => validateClient({ name: 'x', grantTypes: [g] }), (err) => err instanceof ClientInputError &&
        err.message === 'the authorization_code and implicit grant types need at least one --redirect-uri');
    }
  });

  it('an unknown grant type is refused, naming the known ones', () => {
    assert.throws(() => validateClient({ name: 'x', grantTypes: ['magic'] }), (err) => err instanceof ClientInputError &&
      err.message === `unknown grant type 'magic' (known: ${CLIENT_GRANT_TYPES.map((g) => g.grantType).join(', ')})`);
  });
});
