// The command line of issue 19 §1–2 and issue 18 item 9: client create/update
// --token-endpoint-auth-method, update --redirect-uri/--remove-redirect-uri, and
// registration-token create. SQLite (the commands share the store code that the flow
// suites run on PostgreSQL too).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sqlite, TEST_SECRET, type TestDatabase } from '../helpers/databases.js';
import { aliasid, json, ok, refused } from '../helpers/cli.js';
import { loadConfig } from '../../src/config/config.js';
import { createServices, type Services } from '../../src/services.js';

describe('aliasid: authentication methods, redirect URIs, registration tokens', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  let s: Services;
  before(async () => {
    db = await sqlite.create();
    env = { ...db.env, ALIAS_SECRET: TEST_SECRET };
    s = await createServices(loadConfig({ db: db.location }, { ALIAS_SECRET: TEST_SECRET, ALIAS_LOG_LEVEL: 'silent' }));
  });
  after(async () => { await s?.close(); await db.cleanup(); });

  it('client create/update --token-endpoint-auth-method: stored, in --json and show; the assertion methods and public clients refused clearly', async () => {
    const [post, dflt, jwt, pub, unknown] = await Promise.all([
      aliasid(['client', 'create', '--name', 'Post app', '--redirect-uri', 'https://app.example/cb', '--token-endpoint-auth-method', 'client_secret_post', '--json'], env),
      aliasid(['client', 'create', '--name', 'Basic app', '--redirect-uri', 'https://app.example/cb', '--json'], env),
      aliasid(['client', 'create', '--name', 'Jwt app', '--redirect-uri', 'https://app.example/cb', '--token-endpoint-auth-method', 'private_key_jwt'], env),
      aliasid(['client', 'create', '--name', 'Pub', '--public', '--redirect-uri', 'https://app.example/cb', '--token-endpoint-auth-method', 'client_secret_basic'], env),
      aliasid(['client', 'create', '--name', 'X', '--redirect-uri', 'https://app.example/cb', '--token-endpoint-auth-method', 'magic'], env),
    ]);
    const p = json(post);
    assert.equal(p.token_endpoint_auth_method, 'client_secret_post');
    assert.equal(json(dflt).token_endpoint_auth_method, 'client_secret_basic', 'the default (provider documentation: HTTP basic auth)');
    // private_key_jwt is registrable since the assertions are verified (issue 19 §3), but only with the client's public keys.
    refused(jwt, /private_key_jwt needs the client's public keys: --jwks or --jwks-uri/);
    refused(pub, /public client authenticates with 'none'/);
    refused(unknown, /unknown --token-endpoint-auth-method 'magic'/);
    const id = p.client_id as string;
    const [moved, toNone, show] = await Promise.all([
      aliasid(['client', 'update', id, '--token-endpoint-auth-method', 'client_secret_basic', '--json'], env),
      aliasid(['client', 'update', id, '--token-endpoint-auth-method', 'none'], env),
      aliasid(['client', 'show', id], env),
    ]);
    assert.equal(json(moved).token_endpoint_auth_method, 'client_secret_basic');
    refused(toNone, /cannot become 'none'/);
    assert.match(ok(show).stdout, /auth_method\s+client_secret_(post|basic)/);
    assert.equal((await s.clients.get(id))!.tokenEndpointAuthMethod, 'client_secret_basic');
    assert.equal((await s.store.audit.query({ clientId: id, limit: 5 })).some((e) => /auth_method=client_secret_basic/.test(e.detail ?? '')), true);
  });

  it('client update --redirect-uri adds, --remove-redirect-uri removes, with the rules of create (issue 18 item 9)', async () => {
    const c = json(await aliasid(['client', 'create', '--name', 'App', '--redirect-uri', 'https://app.example/a', '--json'], env));
    const id = c.client_id as string;
    const changed = json(await aliasid(['client', 'update', id, '--redirect-uri', 'https://app.example/b', '--redirect-uri', 'http://127.0.0.1:9/cb',
      '--remove-redirect-uri', 'https://app.example/a', '--json'], env));
    assert.deepEqual(changed.redirect_uris, ['https://app.example/b', 'http://127.0.0.1:9/cb']);
    const [bad, missing, last] = await Promise.all([
      aliasid(['client', 'update', id, '--redirect-uri', 'http://app.example/insecure'], env),
      aliasid(['client', 'update', id, '--remove-redirect-uri', 'https://app.example/nope'], env),
      aliasid(['client', 'update', id, '--remove-redirect-uri', 'https://app.example/b', '--remove-redirect-uri', 'http://127.0.0.1:9/cb'], env),
    ]);
    refused(bad, /loopback/);
    refused(missing, /no redirect URI 'https:\/\/app\.example\/nope'/);
    refused(last, /need at least one --redirect-uri/);
    assert.deepEqual((await s.clients.get(id))!.redirectUris, ['https://app.example/b', 'http://127.0.0.1:9/cb'], 'refusals changed nothing');
    // Display links: set, then removed with ''.
    const linked = json(await aliasid(['client', 'update', id, '--logo-uri', 'https://app.example/logo.png', '--json'], env));
    assert.equal(linked.logo_uri, 'https://app.example/logo.png');
    refused(await aliasid(['client', 'update', id, '--tos-uri', 'http://app.example/tos'], env), /--tos-uri .* must be an https URL/);
    const unlinked = json(await aliasid(['client', 'update', id, '--logo-uri', '', '--json'], env));
    assert.equal(unlinked.logo_uri, undefined);
  });

  it('registration-token create --json prints {token, expires_at}; the token registers as many clients as --uses; only its digest is stored', async () => {
    const before = Math.floor(Date.now() / 1000);
    const [made, bad, badUses] = await Promise.all([
      aliasid(['registration-token', 'create', '--expires-in', '10m', '--uses', '2', '--json'], env),
      aliasid(['registration-token', 'create', '--expires-in', 'soon'], env),
      aliasid(['registration-token', 'create', '--uses', '0'], env),
    ]);
    const t = json(made);
    assert.equal(typeof t.token, 'string');
    assert.ok((t.token as string).length >= 43);
    assert.ok(Math.abs((t.expires_at as number) - (before + 600)) < 30, `expires_at ${t.expires_at}`);
    refused(bad, /--expires-in must be a duration/);
    refused(badUses, /--uses must be a whole number from 1/);
    const { digest } = await import('../../src/tokens/opaque.js');
    assert.equal((await s.store.registrationTokens.get(digest(t.token as string)))!.usesLeft, 2);
    const meta = { client_name: 'Agent', redirect_uris: ['https://agent.example/cb'] };
    await s.registration.register(meta, { bearer: t.token as string, source: '192.0.2.1' });
    await s.registration.register(meta, { bearer: t.token as string, source: '192.0.2.1' });
    await assert.rejects(s.registration.register(meta, { bearer: t.token as string, source: '192.0.2.1' }), /invalid_token/);
  });
});
