// Each client authenticates the way it registered (RFC 7591 §2 token_endpoint_auth_method,
// OIDC Core §9), at every endpoint that authenticates clients: token, introspection,
// revocation and device authorization. Through the HTTP surface, on SQLite and PostgreSQL.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';

const basic = (id: string, secret: string) => 'Basic ' + Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64');
const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';

for (const kind of databaseKinds()) {
  describe(`token_endpoint_auth_method is enforced (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    before(async () => { alias = await startAlias(kind); });
    after(() => alias?.close());

    const post = (path: string, form: Record<string, string>, authorization?: string) => alias.app.inject({
      method: 'POST', url: path, payload: new URLSearchParams(form).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization ? { authorization } : {}) },
    });
    const ENDPOINTS: [string, Record<string, string>][] = [
      ['/api/oauth2/token', { grant_type: 'client_credentials' }],
      ['/api/oauth2/introspect', { token: 'unknown' }],
      ['/api/oauth2/revoke', { token: 'unknown' }],
      ['/api/oauth2/device_authorization', { scope: 'openid' }],
    ];
    const client = (tokenEndpointAuthMethod?: string) => alias.s.clients.create({ name: 'App', redirectUris: [],
      grantTypes: ['client_credentials', DEVICE], tokenEndpointAuthMethod });

    it('the default for a confidential client is client_secret_basic: its secret in the body → 401 invalid_client, at every endpoint', async () => {
      const { client: c, secret } = await client();
      assert.equal(c.tokenEndpointAuthMethod, 'client_secret_basic');
      for (const [path, form] of ENDPOINTS) {
        const refused = await post(path, { ...form, client_id: c.id, client_secret: secret! });
        assert.equal(refused.statusCode, 401, path);
        assert.equal(refused.json().error, 'invalid_client', path);
        assert.match(refused.json().error_description, /registered for client_secret_basic/, path);
        assert.match(String(refused.headers['www-authenticate']), /^Basic/, path);
        const ok = await post(path, form, basic(c.id, secret!));
        assert.equal(ok.statusCode, 200, `${path}: ${ok.body}`);
      }
    });

    it('a client_secret_post client: Basic → 401 invalid_client, the body works, at every endpoint', async () => {
      const { client: c, secret } = await client('client_secret_post');
      for (const [path, form] of ENDPOINTS) {
        const refused = await post(path, form, basic(c.id, secret!));
        assert.equal(refused.statusCode, 401, path);
        assert.equal(refused.json().error, 'invalid_client', path);
        assert.match(refused.json().error_description, /registered for client_secret_post/, path);
        const ok = await post(path, { ...form, client_id: c.id, client_secret: secret! });
        assert.equal(ok.statusCode, 200, `${path}: ${ok.body}`);
      }
    });

    it('openid-client with the registered method gets tokens; with the other one, invalid_client', async () => {
      for (const method of ['client_secret_basic', 'client_secret_post'] as const) {
        const { client: c, secret } = await client(method);
        const auth = method === 'client_secret_basic' ? [oidc.ClientSecretBasic(secret!), oidc.ClientSecretPost(secret!)]
          : [oidc.ClientSecretPost(secret!), oidc.ClientSecretBasic(secret!)];
        const right = await oidc.discovery(new URL(alias.issuer), c.id, undefined, auth[0], { execute: [oidc.allowInsecureRequests] });
        assert.ok((await oidc.clientCredentialsGrant(right)).access_token, method);
        const wrong = await oidc.discovery(new URL(alias.issuer), c.id, undefined, auth[1], { execute: [oidc.allowInsecureRequests] });
        const err = await oidc.clientCredentialsGrant(wrong).then(() => undefined, (e: unknown) => e);
        assert.ok(err, method);
        const status = (err as { status?: number; response?: Response }).status ?? (err as { response?: Response }).response?.status;
        assert.equal(status, 401, method);
      }
    });

    it('a wrong-method attempt is not a guess: 30 of them never lock the client (nothing compared, nothing counted)', async () => {
      const { client: c, secret } = await client();
      for (let i = 0; i < 30; i++) assert.equal((await post('/api/oauth2/token', { grant_type: 'client_credentials', client_id: c.id, client_secret: 'x' })).statusCode, 401);
      assert.equal((await post('/api/oauth2/token', { grant_type: 'client_credentials' }, basic(c.id, secret!))).statusCode, 200);
    });

    it('client_secret_jwt gets a secret (kept sealed, test/flows/client_secret_jwt.test.ts), private_key_jwt needs keys; unknown methods are refused', async () => {
      // RFC 7523 §2.2 client_secret_jwt is an HMAC with the secret itself, kept sealed for such clients only.
      const hmac = await client('client_secret_jwt');
      assert.equal(hmac.client.tokenEndpointAuthMethod, 'client_secret_jwt');
      assert.ok(hmac.secret && hmac.client.secretSealed);
      await assert.rejects(client('private_key_jwt'), /jwks/i);
      await assert.rejects(client('tls_client_auth'), /unknown --token-endpoint-auth-method/);
      await assert.rejects(client('none'), /'none' is for public clients/);
      await assert.rejects(alias.s.clients.create({ name: 'P', isPublic: true, redirectUris: ['https://a.example/cb'],
        tokenEndpointAuthMethod: 'client_secret_post' }), /public client authenticates with 'none'/);
    });

    it('discovery lists exactly the methods a client may register', async () => {
      const doc = (await alias.app.inject('/.well-known/openid-configuration')).json();
      assert.deepEqual(doc.token_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none']);
      assert.deepEqual(doc.introspection_endpoint_auth_methods_supported, ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt']);
    });

    it('the relay API takes a client_secret_post client\'s secret over Basic (its body is JSON, not a form)', async () => {
      const { client: c, secret } = await client('client_secret_post');
      const res = await alias.app.inject({ method: 'POST', url: '/api/v1/messages', headers: { authorization: basic(c.id, secret!),
        'content-type': 'application/json' }, payload: { to: 'nobody', channel: 'x', subject: 's', body: 'b' } });
      assert.notEqual(res.statusCode, 401, res.body);
    });
  });
}
