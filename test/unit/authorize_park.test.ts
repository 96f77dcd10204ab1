// The parked authorization request: what the interaction pages resume is exactly what
// was validated, and a client changed meanwhile ends the request as validation would.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Store } from '../../src/store/store.js';
import type { Client, Interaction } from '../../src/store/types.js';
import { park, resume } from '../../src/authorize/park.js';
import { CLIENT_METADATA_DEFAULTS } from '../../src/clients/registry.js';
import { validateAuthorizationRequest } from '../../src/authorize/validate.js';
import { RedirectableError, UntrustedRequestError } from '../../src/authorize/request.js';

const CB = 'https://app.example/cb';
const client = (over: Partial<Client> = {}): Client => ({
  id: 'c1', name: 'App', secretDigest: null, previousSecretDigest: null, previousSecretExpiresAt: null, isPublic: true,
  redirectUris: [CB], postLogoutRedirectUris: [], grantTypes: ['authorization_code', 'implicit'], scopes: [],
  channels: [{ name: 'news', description: 'News' }] as Client['channels'], backchannelLogoutUri: null,
  idTokenSignedResponseAlg: 'RS256', ...CLIENT_METADATA_DEFAULTS, tokenEndpointAuthMethod: 'none', createdAt: 0, updatedAt: 0, ...over,
});
const CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM';

async function parkedRow(params: Record<string, string>): Promise<Interaction> {
  const rows: Interaction[] = [];
  const store = { interactions: { insert: async (i: Interaction) => { rows.push(i); } } } as unknown as Store;
  const req = await validateAuthorizationRequest(params, async () => client());
  await park(store, 1000, req, 'b'.repeat(43));
  return rows[0]!;
}

describe('parked authorization request', () => {
  const cases: Record<string, string>[] = [
    { client_id: 'c1', redirect_uri: CB, response_type: 'code', scope: 'openid nickname', code_challenge: CHALLENGE, code_challenge_method: 'S256' },
    { client_id: 'c1', redirect_uri: CB, response_type: 'code', response_mode: 'query', scope: 'openid contact', channels: 'news',
      state: 's t', nonce: 'n', prompt: 'login consent', max_age: '0', include_granted_scopes: 'true', include_granted_channels: 'false',
      code_challenge: CHALLENGE, code_challenge_method: 'S256' },
    { client_id: 'c1', redirect_uri: CB, response_type: 'id_token', response_mode: 'form_post', scope: 'openid', nonce: 'n', prompt: 'none' },
  ];
  for (const params of cases) {
    it(`resumes what was validated: ${params.response_type} ${params.prompt ?? ''}`, async () => {
      const validated = await validateAuthorizationRequest(params, async () => client());
      const resumed = await resume(await parkedRow(params), async () => client());
      assert.deepEqual(resumed, validated);
    });
    it(`reads a row parked as received by the previous version: ${params.response_type}`, async () => {
      const validated = await validateAuthorizationRequest(params, async () => client());
      const row = { ...(await parkedRow(params)), params: { ...params, state: params.state ?? '', ignored: 'x' } };
      assert.deepEqual(await resume(row, async () => client()), validated);
    });
  }

  // Issue 15 §3: acr_values and an essential acr claim survive parking (the step-up check runs on the resumed request).
  it('resumes acr_values (known values, in order) and an essential acr claim', async () => {
    const params = { client_id: 'c1', redirect_uri: CB, response_type: 'code', scope: 'openid', code_challenge: CHALLENGE, code_challenge_method: 'S256',
      acr_values: 'urn:other:x urn:alias:acr:mfa urn:alias:acr:password',
      claims: JSON.stringify({ id_token: { acr: { essential: true, values: ['urn:alias:acr:mfa', 'urn:other:y'] } }, userinfo: null }) };
    const validated = await validateAuthorizationRequest(params, async () => client());
    assert.deepEqual(validated.acrValues, ['urn:alias:acr:mfa', 'urn:alias:acr:password']);
    assert.deepEqual(validated.acrEssential, ['urn:alias:acr:mfa']);
    assert.deepEqual(await resume(await parkedRow(params), async () => client()), validated);
  });

  it('re-checks the client as registered now, in validation order', async () => {
    const row = await parkedRow(cases[1]!);
    await assert.rejects(resume(row, async () => undefined),
      (e) => e instanceof UntrustedRequestError && e.error === 'invalid_client');
    await assert.rejects(resume(row, async () => client({ redirectUris: ['https://app.example/other'] })),
      (e) => e instanceof UntrustedRequestError && e.error === 'invalid_request');
    await assert.rejects(resume(row, async () => client({ grantTypes: ['implicit'], channels: [] })),
      (e) => e instanceof RedirectableError && e.oauth.error === 'unauthorized_client' && e.target.state === 's t');
    await assert.rejects(resume(row, async () => client({ channels: [] })),
      (e) => e instanceof RedirectableError && e.oauth.error === 'invalid_scope');
    const confidential = { ...cases[0]! };
    delete confidential.code_challenge;
    delete confidential.code_challenge_method;
    const req = await validateAuthorizationRequest(confidential, async () => client({ isPublic: false }));
    const rows: Interaction[] = [];
    await park({ interactions: { insert: async (i: Interaction) => { rows.push(i); } } } as unknown as Store, 1000, req, 'b'.repeat(43));
    assert.deepEqual(await resume(rows[0]!, async () => client({ isPublic: false })), req);
    await assert.rejects(resume(rows[0]!, async () => client()),
      (e) => e instanceof RedirectableError && e.oauth.error === 'invalid_request' && /PKCE/.test(e.oauth.description));
  });
});
