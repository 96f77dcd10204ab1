// The `aliasid` command line, run as a child process the way an operator runs it, on
// SQLite and PostgreSQL. What it prints is checked against the database through the
// same services the server uses (a created user can log in, a printed secret
// authenticates, a rotated key is published).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/config.js';
import { createServices, type Services } from '../../src/services.js';
import { databaseKinds, type TestDatabase } from '../helpers/databases.js';
import { aliasid, json, ok, refused } from '../helpers/cli.js';

const LEAF_OPTIONS: Record<string, string[]> = {
  '': ['serve', 'migrate', 'user', 'client', 'keys'],
  serve: ['--port', '--host', '--issuer', '--db', '--demo', '--demo-app-port', '--require-par'],
  migrate: ['--db'],
  'user create': ['--email', '--password', '--nickname', '--json', '--db'],
  'client create': ['--name', '--redirect-uri', '--public', '--grant-type', '--channel', '--scope',
    '--post-logout-redirect-uri', '--id-token-alg', '--dpop-bound-access-tokens', '--require-mfa', '--require-par', '--json', '--db'],
  'client update': ['<id>', '--name', '--channel', '--remove-channel', '--id-token-alg', '--dpop-bound-access-tokens',
    '--no-dpop-bound-access-tokens', '--require-mfa', '--no-require-mfa', '--require-par', '--no-require-par', '--json', '--db'],
  'client list': ['--json', '--db'],
  'client show': ['<id>', '--json', '--db'],
  'client delete': ['<id>', '--db'],
  'client rotate-secret': ['<id>', '--overlap', '--json', '--db'],
  'keys rotate': ['--publish-window', '--now', '--db'],
};

// Every run costs about two seconds of CPU, so each behaviour is run once: what depends
// on the database on both, usage errors on the embedded default only.
describe('aliasid usage', { concurrency: true }, () => {
  for (const [cmd, options] of Object.entries(LEAF_OPTIONS)) {
    it(`aliasid ${cmd ? cmd + ' ' : ''}--help documents ${options.join(' ')}`, async () => {
      const r = ok(await aliasid([...cmd.split(' ').filter(Boolean), '--help']));
      assert.match(r.stdout, new RegExp(`^Usage: aliasid${cmd ? ' ' + cmd : ''} `, 'm'));
      for (const o of options) assert.ok(r.stdout.includes(o), `${cmd} --help mentions ${o}:\n${r.stdout}`);
      assert.equal(r.stderr, '');
    });
  }
  it('an unknown command is refused', async () => {
    refused(await aliasid(['frobnicate']), /unknown command/i);
  });
});

for (const kind of databaseKinds()) {
  describe(`aliasid admin commands (${kind.name})`, { skip: kind.skip, concurrency: true }, () => {
    const embedded = kind.name === 'sqlite';
    let db: TestDatabase;
    let s: Services;
    const run = (...args: string[]) => aliasid(args, db.env);
    const openServices = () => createServices(
      loadConfig({ db: db.location }, db.env.ALIAS_SECRET ? { ALIAS_SECRET: db.env.ALIAS_SECRET } : {}),
      { schema: db.schema, migrate: false });

    before(async () => {
      db = await kind.create();
      const r = ok(await run('migrate'));
      assert.match(r.stdout, /applied/);
      // The same database, opened in-process, to check what the commands did.
      s = await openServices();
    });
    after(async () => {
      await s?.close();
      await db?.cleanup();
    });

    it('client create --require-par and client update --no-require-par (RFC 9126 §6 require_pushed_authorization_requests)', async () => {
      const c = json(await run('client', 'create', '--name', 'Pushy', '--redirect-uri', 'https://app.example/cb', '--require-par', '--json'));
      assert.equal(c.require_pushed_authorization_requests, true);
      assert.equal((await s.clients.get(c.client_id as string))?.requirePushedAuthorizationRequests, true);
      const u = json(await run('client', 'update', c.client_id as string, '--no-require-par', '--json'));
      assert.equal(u.require_pushed_authorization_requests, false);
      assert.equal((await s.clients.get(c.client_id as string))?.requirePushedAuthorizationRequests, false);
    });

    it('user create --json prints the user, who can sign in; a duplicate e-mail is refused', async () => {
      const u = json(await run('user', 'create', '--email', 'Ann@Example.com', '--password', 'a long password 1',
        '--nickname', 'Ann', '--json'));
      assert.equal(typeof u.id, 'string');
      assert.ok((u.id as string).length > 0);
      assert.equal(u.email, 'ann@example.com');
      assert.equal(u.nickname, 'Ann');
      assert.equal(JSON.stringify(u).includes('a long password'), false, 'no password in the output');
      assert.equal(JSON.stringify(u).includes('argon2'), false, 'no password hash in the output');
      const login = await s.accounts.login('ann@example.com', 'a long password 1', '127.0.0.1');
      assert.ok(login.ok, 'the new user can sign in');
      assert.equal(login.ok && login.user.id, u.id);

      refused(await run('user', 'create', '--email', 'ANN@example.com', '--password', 'another password', '--json'),
        /exist|already|taken/i);
      const again = await s.accounts.login('ann@example.com', 'a long password 1', '127.0.0.1');
      assert.ok(again.ok, 'the first user keeps their password');
    });

    it('client create --json prints RFC 7591 client information; list, show, delete', async () => {
      const c = json(await run('client', 'create', '--name', 'News app',
        '--redirect-uri', 'https://app.example/cb', '--redirect-uri', 'http://127.0.0.1:8080/cb',
        '--grant-type', 'authorization_code', '--grant-type', 'refresh_token',
        '--channel', 'news:News', '--scope', 's1', '--json'));
      const id = c.client_id as string;
      assert.equal(typeof id, 'string');
      assert.equal(typeof c.client_secret, 'string');
      assert.ok((c.client_secret as string).length >= 32, 'a strong secret');
      assert.deepEqual(c.redirect_uris, ['https://app.example/cb', 'http://127.0.0.1:8080/cb']);
      assert.deepEqual([...(c.grant_types as string[])].sort(), ['authorization_code', 'refresh_token']);
      assert.ok(['client_secret_basic', 'client_secret_post'].includes(c.token_endpoint_auth_method as string));
      assert.equal(c.client_name, 'News app');
      assert.equal(c.scope, 's1');
      if (c.client_secret_expires_at !== undefined) assert.equal(c.client_secret_expires_at, 0);
      assert.equal(typeof c.client_id_issued_at, 'number');
      const stored = await s.clients.get(id);
      assert.ok(stored);
      assert.equal(stored.isPublic, false);
      assert.deepEqual(stored.channels.map((ch) => [ch.name, ch.description]), [['news', 'News']]);
      assert.deepEqual(stored.scopes, ['s1']);
      const authed = await s.clients.authenticate({ method: 'client_secret_basic', clientId: id,
        clientSecret: c.client_secret as string });
      assert.equal(authed.id, id, 'the printed secret authenticates the client');

      const [list, shown, listJson, text] = await Promise.all([
        run('client', 'list'), run('client', 'show', id, '--json'),
        ...(embedded ? [run('client', 'list', '--json'), run('client', 'show', id)] : []),
      ]);
      const line = ok(list!).stdout.split('\n').find((l) => l.includes(id));
      assert.ok(line, `client list names ${id}:\n${list!.stdout}`);
      assert.match(line, /News app/);
      assert.ok(!list!.stdout.includes(c.client_secret as string), 'list never shows a secret');
      const info = json(shown!);
      assert.equal(info.client_id, id);
      assert.equal(info.client_name, 'News app');
      assert.deepEqual(info.redirect_uris, c.redirect_uris);
      assert.deepEqual(info.grant_types, c.grant_types);
      assert.equal(info.token_endpoint_auth_method, c.token_endpoint_auth_method);
      assert.equal(info.client_secret, undefined, 'the secret is shown only once, at creation');
      if (listJson) {
        const all = JSON.parse(ok(listJson).stdout) as Record<string, unknown>[];
        assert.ok(Array.isArray(all));
        assert.ok(all.some((x) => x.client_id === id));
        assert.ok(all.every((x) => x.client_secret === undefined), 'list --json never shows a secret');
      }
      if (text) {
        assert.match(ok(text).stdout, new RegExp(id));
        assert.match(text.stdout, /News app/);
        assert.match(text.stdout, /news/);
        assert.ok(!text.stdout.includes(c.client_secret as string));
      }

      const del = ok(await run('client', 'delete', id));
      assert.match(del.stdout, new RegExp(id));
      assert.equal(await s.clients.get(id), undefined);
      refused(await run('client', 'show', id, '--json'), new RegExp(id));
    });

    it('client create --public gives no secret and token_endpoint_auth_method none', async () => {
      const c = json(await run('client', 'create', '--name', 'SPA', '--public',
        '--redirect-uri', 'http://localhost:5173/cb', '--json'));
      assert.equal(c.client_secret, undefined);
      assert.equal(c.client_secret_expires_at, undefined);
      assert.equal(c.token_endpoint_auth_method, 'none');
      assert.deepEqual(c.grant_types, ['authorization_code']);
      const stored = await s.clients.get(c.client_id as string);
      assert.equal(stored?.isPublic, true);
      assert.equal(stored?.secretDigest, null);
    });

    it('client create/update --[no-]dpop-bound-access-tokens sets dpop_bound_access_tokens (RFC 9449 §5.2), false by default', async () => {
      const c = json(await run('client', 'create', '--name', 'Agent', '--grant-type', 'client_credentials', '--dpop-bound-access-tokens', '--json'));
      const id = c.client_id as string;
      assert.equal(c.dpop_bound_access_tokens, true, 'in the RFC 7591 client information response');
      assert.equal((await s.clients.get(id))?.dpopBoundAccessTokens, true);
      const off = json(await run('client', 'update', id, '--no-dpop-bound-access-tokens', '--json'));
      assert.equal(off.dpop_bound_access_tokens, false);
      assert.equal(off.client_name, 'Agent', 'nothing else changes');
      assert.equal((await s.clients.get(id))?.dpopBoundAccessTokens, false);
      assert.match(ok(await run('client', 'show', id)).stdout, /^dpop_bound\s+no$/m);
      const plain = json(await run('client', 'create', '--name', 'Plain', '--redirect-uri', 'https://plain.example/cb', '--json'));
      assert.equal(plain.dpop_bound_access_tokens, false);
    });

    it('client create/update --id-token-alg sets id_token_signed_response_alg (OIDC Dynamic Client Registration §2), RS256 by default', async () => {
      const [es, plain] = await Promise.all([
        run('client', 'create', '--name', 'EC app', '--redirect-uri', 'https://ec.example/cb', '--id-token-alg', 'ES256', '--json'),
        run('client', 'create', '--name', 'Default app', '--redirect-uri', 'https://default.example/cb', '--json'),
      ]);
      const c = json(es);
      const id = c.client_id as string;
      assert.equal(c.id_token_signed_response_alg, 'ES256', 'in the RFC 7591 client information response');
      assert.equal((await s.clients.get(id))?.idTokenSignedResponseAlg, 'ES256');
      // DCR §2: "The default, if omitted, is RS256"; said explicitly in the client information.
      const d = json(plain);
      assert.equal(d.id_token_signed_response_alg, 'RS256');
      assert.equal((await s.clients.get(d.client_id as string))?.idTokenSignedResponseAlg, 'RS256');

      const [shown, text] = await Promise.all([run('client', 'show', id, '--json'), run('client', 'show', id)]);
      assert.equal(json(shown).id_token_signed_response_alg, 'ES256');
      assert.match(ok(text).stdout, /^id_token_alg\s+ES256$/m);

      const updated = json(await run('client', 'update', id, '--id-token-alg', 'RS256', '--json'));
      assert.equal(updated.id_token_signed_response_alg, 'RS256');
      assert.equal(updated.client_name, 'EC app', 'nothing else changes');
      assert.deepEqual(updated.redirect_uris, ['https://ec.example/cb']);
      assert.equal((await s.clients.get(id))?.idTokenSignedResponseAlg, 'RS256');
      const events = await s.store.audit.query({ clientId: id, limit: 10 });
      assert.ok(events.some((e) => e.type === 'admin.client.updated' && e.detail === 'id_token_alg=RS256 via=cli'), 'audited');
    });

    it('client create/update --require-mfa / --no-require-mfa (issue 15 §3): shown in --json and in show, audited', async () => {
      const created = json(await run('client', 'create', '--name', 'Bank', '--redirect-uri', 'https://bank.example/cb', '--require-mfa', '--json'));
      const id = created.client_id as string;
      assert.equal(created.require_mfa, true);
      assert.equal((await s.clients.get(id))?.requireMfa, true);
      assert.match(ok(await run('client', 'show', id)).stdout, /^require_mfa\s+yes/m);
      const off = json(await run('client', 'update', id, '--no-require-mfa', '--json'));
      assert.equal(off.require_mfa, false);
      assert.equal(off.client_name, 'Bank', 'nothing else changes');
      assert.equal((await s.clients.get(id))?.requireMfa, false);
      const on = json(await run('client', 'update', id, '--require-mfa', '--json'));
      assert.equal(on.require_mfa, true);
      const events = await s.store.audit.query({ clientId: id, limit: 10 });
      assert.ok(events.some((e) => e.type === 'admin.client.updated' && e.detail === 'require_mfa=false via=cli'), 'audited');
      const plain = json(await run('client', 'create', '--name', 'Plain', '--redirect-uri', 'https://plain.example/cb', '--json'));
      assert.equal(plain.require_mfa, false, 'off by default');
    });

    it('keys rotate publishes a new key per algorithm (RS256, ES256) and keeps the previous ones; --publish-window and --now', async () => {
      const fresh0 = await openServices();
      const before = (await fresh0.keys.jwks()).keys.map((k) => k.kid as string);
      await fresh0.close();
      const r = ok(await run('keys', 'rotate'));
      const kid = /key (\S+?):?\s/.exec(r.stdout)?.[1];
      assert.ok(kid, `rotate names the new key:\n${r.stdout}`);
      // Issue 18 item 6: longer than the JWKS cool-downs of jose (30 s) and oauth4webapi (60 s).
      assert.match(r.stdout, /published now, used for signing in 120 s$/m, 'the default publish window');
      const printed = [...r.stdout.matchAll(/^new signing key (\S+) \((RS256|ES256)\)/gm)].map((m) => ({ kid: m[1]!, alg: m[2]! }));
      assert.deepEqual(printed.map((p) => p.alg), ['RS256', 'ES256'], `one line per algorithm, RS256 first:\n${r.stdout}`);
      assert.equal(printed[0]!.kid, kid);
      for (const p of printed) assert.ok(!before.includes(p.kid), 'a new key');
      // A fresh service instance (no cache) sees the new keys and the older ones.
      const fresh = await openServices();
      try {
        const jwks = (await fresh.keys.jwks()).keys;
        const kids = jwks.map((k) => k.kid as string);
        for (const p of printed) {
          assert.deepEqual(jwks.find((k) => k.kid === p.kid)?.alg, p.alg, `the rotated ${p.alg} key is published with its alg`);
        }
        for (const k of before) assert.ok(kids.includes(k), 'previous keys stay in JWKS');
        // The private keys decrypt with the configured secret.
        assert.ok((await fresh.keys.signingKey('RS256')).privateKey);
        assert.ok((await fresh.keys.signingKey('ES256')).privateKey);
        // The audit log names each new key.
        const events = await fresh.store.audit.query({ limit: 1000 });
        for (const p of printed) {
          assert.ok(events.some((e) => e.type === 'admin.keys.rotated' && e.detail === `kid=${p.kid} alg=${p.alg} via=cli`),
            `an admin.keys.rotated event for ${p.alg}`);
        }
      } finally {
        await fresh.close();
      }

      // In the same test: --now deletes every other key, which a concurrent test would see.
      refused(await run('keys', 'rotate', '--publish-window', '3s'), /at least 4s.*--now/);
      refused(await run('keys', 'rotate', '--publish-window', 'soon'), /--publish-window must be a duration/);
      refused(await run('keys', 'rotate', '--publish-window', '2d'), /at most 1d/);
      refused(await run('keys', 'rotate', '--now', '--publish-window', '10s'), /not both/);
      assert.match(ok(await run('keys', 'rotate', '--publish-window', '10m')).stdout, /used for signing in 600 s$/m);
      const now = ok(await run('keys', 'rotate', '--now'));
      const kids = [...now.stdout.matchAll(/^new signing key (\S+) \((?:RS256|ES256)\): signing now/gm)].map((m) => m[1]!);
      assert.equal(kids.length, 2, now.stdout);
      const after = await openServices();
      try {
        assert.deepEqual((await after.keys.jwks()).keys.map((k) => k.kid as string).sort(), kids.sort(), 'only the new keys are published');
        for (const alg of ['RS256', 'ES256'] as const) {
          assert.ok(kids.includes((await after.keys.signingKey(alg)).kid), `${alg}: a new key signs at once`);
        }
      } finally {
        await after.close();
      }
    });

    if (!embedded) return;

    it('migrate is idempotent', async () => {
      assert.match(ok(await run('migrate')).stdout, /up to date/);
    });

    it('user create without --json prints a line; without --nickname there is none', async () => {
      const r = ok(await run('user', 'create', '--email', 'plain@example.com', '--password', 'a long password 2'));
      assert.match(r.stdout, /plain@example\.com/);
      const u = await s.store.users.getByEmail('plain@example.com');
      assert.ok(u);
      assert.equal(u.nickname, null);
    });

    it('client create --public refuses refresh_token, client_credentials and password', async () => {
      const kinds = ['refresh_token', 'client_credentials', 'password'];
      const results = await Promise.all(kinds.map((g) =>
        run('client', 'create', '--name', `Public ${g}`, '--public', '--redirect-uri', 'http://127.0.0.1:9/cb',
          '--grant-type', 'authorization_code', '--grant-type', g, '--json')));
      for (const [i, g] of kinds.entries()) refused(results[i]!, new RegExp(g));
      const names = (await s.clients.list()).map((c) => c.name);
      assert.ok(!names.some((n) => n.startsWith('Public ')), 'nothing was registered');
    });

    it('client create refuses a non-loopback http redirect URI, an unknown grant type, a missing --name', async () => {
      const cases: [string[], RegExp][] = [
        [['--name', 'Bad', '--redirect-uri', 'http://example.com/cb'], /http:\/\/example\.com\/cb/],
        [['--name', 'Bad', '--redirect-uri', 'https://app.example/cb', '--grant-type', 'magic'], /magic/],
        [['--redirect-uri', 'https://app.example/cb'], /--name/],
      ];
      const results = await Promise.all(cases.map(([args]) => run('client', 'create', ...args, '--json')));
      for (const [i, [args, message]] of cases.entries()) {
        try {
          refused(results[i]!, message);
        } catch (err) {
          (err as Error).message = `client create ${args.join(' ')}: ${(err as Error).message}`;
          throw err;
        }
      }
      assert.ok(!(await s.clients.list()).some((c) => c.name === 'Bad'), 'nothing was registered');
    });

    it('an ID token algorithm Alias does not sign with is a usage error (exit 1, message, nothing changed)', async () => {
      const id = json(await run('client', 'create', '--name', 'Alg app', '--redirect-uri', 'https://alg.example/cb', '--json')).client_id as string;
      const [lower, none, hmac, update, missing] = await Promise.all([
        // JWA algorithm names are case-sensitive (RFC 7515 §4.1.1).
        run('client', 'create', '--name', 'Bad alg', '--redirect-uri', 'https://alg.example/cb', '--id-token-alg', 'es256', '--json'),
        run('client', 'create', '--name', 'Bad alg', '--redirect-uri', 'https://alg.example/cb', '--id-token-alg', 'none', '--json'),
        run('client', 'create', '--name', 'Bad alg', '--redirect-uri', 'https://alg.example/cb', '--id-token-alg', 'HS256'),
        run('client', 'update', id, '--id-token-alg', 'PS256', '--json'),
        run('client', 'update', id, '--id-token-alg'),
      ]);
      refused(lower, /unsupported ID token signing algorithm 'es256' \(supported: RS256, ES256\)/);
      refused(none, /'none'.*RS256, ES256/);
      refused(hmac, /'HS256'.*RS256, ES256/);
      refused(update, /'PS256'.*RS256, ES256/);
      refused(missing, /--id-token-alg/);
      assert.ok(!(await s.clients.list()).some((c) => c.name === 'Bad alg'), 'nothing was registered');
      const stored = await s.clients.get(id);
      assert.equal(stored?.idTokenSignedResponseAlg, 'RS256', 'the client is unchanged');
      assert.equal(stored?.updatedAt, stored?.createdAt);
    });

    it('user create refuses a missing --email and a short password', async () => {
      const [missing, short] = await Promise.all([
        run('user', 'create', '--password', 'a long password', '--json'),
        run('user', 'create', '--email', 'short@example.com', '--password', 'short', '--json'),
      ]);
      refused(missing, /--email/);
      refused(short, /password/i);
      assert.equal(await s.store.users.getByEmail('short@example.com'), undefined);
    });
  });
}

describe('aliasid with a database it cannot reach', () => {
  it('exits non-zero quickly with a message naming the database', async () => {
    const started = Date.now();
    const r = await aliasid(['user', 'create', '--email', 'x@example.com', '--password', 'a long password', '--json'],
      { ALIAS_DB: 'postgres://postgres@127.0.0.1:1/none', ALIAS_SECRET: 'x'.repeat(40) });
    refused(r, /database/i);
    assert.ok(Date.now() - started < 15_000, 'fails fast');
  });

  it('migrate names the database it cannot reach (exit 1)', async () => {
    const r = await aliasid(['migrate'], { ALIAS_DB: 'postgres://postgres@127.0.0.1:1/none', ALIAS_SECRET: 'x'.repeat(40) });
    refused(r, /cannot reach the database postgres:\/\/postgres@127\.0\.0\.1:1\/none/);
  });
});
