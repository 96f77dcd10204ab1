// `aliasid resource create|list|show|delete` (issue 19 §6, RFC 8707): the operator's
// registry of APIs. Usage errors are one line on stderr with a non-zero exit; --json prints
// one JSON object. SQLite (the commands share the store code that the flow and contract
// suites run on PostgreSQL too).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sqlite, TEST_SECRET, type TestDatabase } from '../helpers/databases.js';
import { aliasid, json, ok, refused } from '../helpers/cli.js';

describe('aliasid resource', () => {
  let db: TestDatabase;
  let env: Record<string, string>;
  before(async () => {
    db = await sqlite.create();
    env = { ...db.env, ALIAS_SECRET: TEST_SECRET };
    // Make the database first, so the read commands below find it.
    ok(await aliasid(['migrate'], env));
  });
  after(() => db.cleanup());

  it('create (--json), list, show, delete; defaults: opaque 30 min, jwt 5 min', async () => {
    const [jwt, opaque] = await Promise.all([
      aliasid(['resource', 'create', '--uri', 'https://api.example/v1', '--scope', 'items.read', '--scope', 'items.write',
        '--name', 'Items API', '--token-format', 'jwt', '--json'], env),
      aliasid(['resource', 'create', '--uri', 'http://localhost:8080/', '--scope', 'local', '--ttl', '10m', '--json'], env),
    ]);
    const j = json(jwt);
    assert.deepEqual({ ...j, created_at: 0 }, { uri: 'https://api.example/v1', name: 'Items API', scopes: ['items.read', 'items.write'],
      token_format: 'jwt', ttl: 300, created_at: 0 });
    assert.equal(typeof j.created_at, 'number');
    const o = json(opaque);
    assert.equal(o.token_format, 'opaque');
    assert.equal(o.ttl, 600);
    assert.equal(o.name, 'localhost:8080', 'the default name is the host');

    const list = JSON.parse(ok(await aliasid(['resource', 'list', '--json'], env)).stdout) as Record<string, unknown>[];
    assert.deepEqual(list.map((r) => r.uri).sort(), ['http://localhost:8080/', 'https://api.example/v1']);
    const text = ok(await aliasid(['resource', 'list'], env)).stdout;
    assert.match(text, /https:\/\/api\.example\/v1\s+jwt\s+Items API/);
    assert.match(ok(await aliasid(['resource', 'show', 'https://api.example/v1'], env)).stdout, /token_format\s+jwt/);
    assert.equal(json(await aliasid(['resource', 'show', 'https://api.example/v1', '--json'], env)).ttl, 300);

    refused(await aliasid(['resource', 'create', '--uri', 'https://api.example/v1', '--scope', 'x'], env), /already exists/);
    assert.match(ok(await aliasid(['resource', 'delete', 'http://localhost:8080/'], env)).stdout, /deleted resource/);
    refused(await aliasid(['resource', 'delete', 'http://localhost:8080/'], env), /no resource 'http:\/\/localhost:8080\/'/);
    refused(await aliasid(['resource', 'show', 'https://nothing.example/'], env), /no resource/);
  });

  it('usage errors: one line naming the problem, non-zero exit, nothing stored', async () => {
    const cases: [string[], RegExp][] = [
      [['--uri', 'https://a.example/#x', '--scope', 's'], /fragment/],
      [['--uri', 'http://a.example/', '--scope', 's'], /http only on a loopback host/],
      [['--uri', 'api', '--scope', 's'], /not an absolute URI/],
      [['--uri', 'ftp://a.example/', '--scope', 's'], /https/],
      [['--uri', 'https://a.example/'], /--scope is required/],
      [['--uri', 'https://a.example/', '--scope', 'openid'], /user scope/],
      [['--uri', 'https://a.example/', '--scope', 'a#b'], /--scope 'a#b'/],
      [['--uri', 'https://a.example/', '--scope', 's', '--token-format', 'paseto'], /--token-format must be opaque or jwt/],
      [['--uri', 'https://a.example/', '--scope', 's', '--ttl', '2h'], /--ttl must be between 10s and 1h/],
      [['--uri', 'https://a.example/', '--scope', 's', '--ttl', 'soon'], /--ttl must be a duration/],
    ];
    const runs = await Promise.all(cases.map(([args]) => aliasid(['resource', 'create', ...args], env)));
    runs.forEach((r, i) => {
      refused(r, cases[i]![1]);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    });
    const list = JSON.parse(ok(await aliasid(['resource', 'list', '--json'], env)).stdout) as Record<string, unknown>[];
    assert.ok(!list.some((r) => String(r.uri).startsWith('https://a.example')), 'nothing stored');
  });
});
