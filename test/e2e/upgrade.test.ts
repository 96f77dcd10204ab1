// Upgrading a database from before ES256 (migrations up to 006, one RSA key, clients
// without an ID token algorithm): the next `serve` start migrates it and adds an ES256
// key; existing clients keep RS256 ID tokens (OIDC Dynamic Client Registration §2
// default) until `aliasid client update --id-token-alg ES256`, which a running server
// follows at the next token. ID tokens are checked by openid-client against JWKS.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { Migrator } from 'kysely';
import * as oidc from 'openid-client';
import { decodeProtectedHeader } from 'jose';
import { databaseKinds, TEST_SECRET } from '../helpers/databases.js';
import { freePort } from '../helpers/harness.js';
import { aliasid, json } from '../helpers/cli.js';
import { openDatabase } from '../../src/store/db.js';
import { migrationProvider } from '../../src/store/migrations/index.js';
import { createSecrets } from '../../src/crypto/secrets.js';
import { digest } from '../../src/tokens/opaque.js';
import { loadConfig } from '../../src/config/config.js';
import { startServer } from '../../src/main.js';

for (const kind of databaseKinds()) {
  describe(`upgrading a database from before ES256 (${kind.name})`, { skip: kind.skip }, () => {
    it('serve migrates it and adds an ES256 key; the old client stays RS256 until client update --id-token-alg ES256', async () => {
      const t = await kind.create();
      const env = { ...t.env, ALIAS_SECRET: TEST_SECRET };
      const clientId = `old-${randomBytes(4).toString('hex')}`;
      const secret = randomBytes(32).toString('base64url');
      let rsaKid: string;
      {
        // What the previous version left: its schema, its one RSA key and a client.
        const old = openDatabase(t.location, { schema: t.schema });
        try {
          const migrator = new Migrator({ db: old.kysely, provider: migrationProvider, migrationTableSchema: t.schema });
          const { error } = await migrator.migrateTo('006_token_indexes');
          assert.equal(error, undefined);
          const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
          rsaKid = randomBytes(12).toString('base64url');
          await old.kysely.insertInto('signing_keys').values({
            kid: rsaKid, alg: 'RS256', status: 'active', created_at: Date.now() - 3_600_000, retired_at: null,
            public_jwk: JSON.stringify({ ...publicKey.export({ format: 'jwk' }), kid: rsaKid, alg: 'RS256', use: 'sig' }),
            private_key_enc: createSecrets(TEST_SECRET).seal(privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()),
          }).execute();
          await old.kysely.insertInto('settings').values({ key: 'first_signing_key', value: 'claimed' }).execute();
          await old.kysely.insertInto('clients').values({
            id: clientId, name: 'Old app', secret_digest: digest(secret), previous_secret_digest: null,
            previous_secret_expires_at: null, is_public: 0, redirect_uris: '["https://old.example/cb"]',
            post_logout_redirect_uris: '[]', grant_types: '["password"]', scopes: '[]', channels: '[]',
            backchannel_logout_uri: null, created_at: Date.now() - 3_600_000, updated_at: Date.now() - 3_600_000,
          } as never).execute();
        } finally {
          await old.close();
        }
      }

      const port = await freePort();
      const issuer = `http://127.0.0.1:${port}`;
      const lines: string[] = [];
      const running = await startServer(loadConfig({ db: t.env.ALIAS_DB, port, issuer }, { ...env, ALIAS_LOG_LEVEL: 'silent' }),
        (line) => lines.push(line));
      try {
        assert.match(lines.join('\n'), /created the first ES256 signing key/, lines.join('\n'));
        const jwks = await (await fetch(`${issuer}/oauth2/jwks`)).json() as { keys: { kid: string; alg: string }[] };
        assert.deepEqual(jwks.keys.map((k) => k.alg).sort(), ['ES256', 'RS256']);
        assert.equal(jwks.keys.find((k) => k.alg === 'RS256')?.kid, rsaKid, 'the RSA key is kept');

        const user = await running.services.accounts.create({ email: 'upgraded@example.com', password: 'a long enough password' });
        const idToken = async (alg: 'RS256' | 'ES256') => {
          const config = await oidc.discovery(new URL(issuer), clientId, { client_secret: secret, id_token_signed_response_alg: alg },
            oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests] });
          oidc.enableNonRepudiationChecks(config);
          const tokens = await oidc.genericGrantRequest(config, 'password',
            { username: user.email, password: 'a long enough password', scope: 'openid' });
          return decodeProtectedHeader(tokens.id_token!);
        };
        const before = await idToken('RS256');
        assert.deepEqual([before.alg, before.kid], ['RS256', rsaKid], 'the old client gets RS256 ID tokens, from the old key');

        const updated = json(await aliasid(['client', 'update', clientId, '--id-token-alg', 'ES256', '--json'], env));
        assert.equal(updated.id_token_signed_response_alg, 'ES256');
        assert.equal((await idToken('ES256')).alg, 'ES256', 'the running server signs its next ID token ES256');
      } finally {
        await running.stop();
        await t.cleanup();
      }
    });
  });
}
