// Configuration: the shared failure counters (ALIAS_REDIS_URL, ALIAS_REDIS_PREFIX), mail, and pushed authorization requests (ALIAS_REQUIRE_PAR).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, DEFAULT_REDIS_PREFIX, loadConfig } from '../../src/config/config.js';

describe('config: Redis', () => {
  it('is off by default; the prefix defaults to alias:', () => {
    const c = loadConfig({}, {});
    assert.equal(c.redisUrl, undefined);
    assert.equal(c.redisPrefix, DEFAULT_REDIS_PREFIX);
    assert.equal(DEFAULT_REDIS_PREFIX, 'alias:');
  });

  it('takes redis:// and rediss:// URLs and a prefix from the environment', () => {
    for (const url of ['redis://127.0.0.1:6379', 'rediss://user:pw@redis.example:6380/2']) {
      assert.equal(loadConfig({}, { ALIAS_REDIS_URL: url }).redisUrl, url);
    }
    assert.equal(loadConfig({}, { ALIAS_REDIS_URL: 'redis://h', ALIAS_REDIS_PREFIX: 'prod-eu:' }).redisPrefix, 'prod-eu:');
    assert.equal(loadConfig({}, { ALIAS_REDIS_URL: '' }).redisUrl, undefined, 'empty means unset');
  });

  it('refuses other URLs and bad prefixes, naming the variable', () => {
    for (const url of ['http://127.0.0.1:6379', '127.0.0.1:6379', 'redis://']) {
      assert.throws(() => loadConfig({}, { ALIAS_REDIS_URL: url }), (e: unknown) => e instanceof ConfigError && /ALIAS_REDIS_URL/.test(e.message), url);
    }
    for (const prefix of ['', 'has space', 'x'.repeat(65)]) {
      assert.throws(() => loadConfig({}, { ALIAS_REDIS_PREFIX: prefix }), (e: unknown) => e instanceof ConfigError && /ALIAS_REDIS_PREFIX/.test(e.message), prefix);
    }
  });
});

describe('config: mail', () => {
  it('files mail beside the SQLite database by default; ALIAS_MAIL_DIR moves it; SMTP or PostgreSQL alone have no folder', () => {
    assert.equal(loadConfig({ db: '/srv/alias/alias.db' }, {}).mailDir, '/srv/alias/mail');
    assert.equal(loadConfig({ db: '/srv/alias/alias.db' }, { ALIAS_MAIL_DIR: '/var/mail/alias' }).mailDir, '/var/mail/alias');
    assert.equal(loadConfig({ db: '/srv/alias/alias.db' }, { ALIAS_SMTP_URL: 'smtp://127.0.0.1:25' }).mailDir, undefined);
    const pg = { ALIAS_SECRET: 'x'.repeat(32) };
    assert.equal(loadConfig({ db: 'postgres://h/db' }, pg).mailDir, undefined);
    assert.equal(loadConfig({ db: 'postgres://h/db' }, { ...pg, ALIAS_MAIL_DIR: '/m' }).mailDir, '/m');
  });

  it('DKIM needs all three variables and a readable private key, naming what is wrong', () => {
    assert.equal(loadConfig({}, {}).dkim, undefined);
    const partial = [{ ALIAS_DKIM_DOMAIN: 'example.com' }, { ALIAS_DKIM_DOMAIN: 'example.com', ALIAS_DKIM_SELECTOR: 's' },
      { ALIAS_DKIM_KEY: '/k.pem' }];
    for (const env of partial) {
      assert.throws(() => loadConfig({}, env), (e: unknown) => e instanceof ConfigError && /all of ALIAS_DKIM_DOMAIN/.test(e.message));
    }
    assert.throws(() => loadConfig({}, { ALIAS_DKIM_DOMAIN: 'example.com', ALIAS_DKIM_SELECTOR: 's', ALIAS_DKIM_KEY: '/nonexistent/k.pem' }),
      (e: unknown) => e instanceof ConfigError && /cannot read ALIAS_DKIM_KEY/.test(e.message));
  });
});

describe('ALIAS_REFRESH_REUSE_GRACE (docs/security.md, a retry after a lost answer)', () => {
  it('defaults to 10 s, takes 0 to turn it off, units ms/s/m, at most 60 s', async () => {
    const { parseRefreshReuseGrace } = await import('../../src/config/config.js');
    assert.equal(parseRefreshReuseGrace(undefined), 10_000);
    assert.equal(parseRefreshReuseGrace('0'), 0);
    assert.equal(parseRefreshReuseGrace('15'), 15_000);
    assert.equal(parseRefreshReuseGrace('1500ms'), 1500);
    assert.equal(parseRefreshReuseGrace('1m'), 60_000);
    for (const bad of ['61s', '2m', '-1', '10h', 'ten', '1.5s']) assert.throws(() => parseRefreshReuseGrace(bad), ConfigError, bad);
    assert.equal(loadConfig({ refreshReuseGrace: '5s' }, {}).refreshReuseGraceMs, 5000);
    assert.equal(loadConfig({}, { ALIAS_REFRESH_REUSE_GRACE: '0' }).refreshReuseGraceMs, 0);
  });
});

describe('config: pushed authorization requests (RFC 9126 §6)', () => {
  it('--require-par or ALIAS_REQUIRE_PAR turn it on; unset, empty or false leave it off; anything else names the variable', () => {
    assert.equal(loadConfig({}, {}).requirePar, false);
    assert.equal(loadConfig({ requirePar: true }, {}).requirePar, true);
    for (const on of ['1', 'true', 'YES', 'on']) assert.equal(loadConfig({}, { ALIAS_REQUIRE_PAR: on }).requirePar, true, on);
    for (const off of ['', '0', 'false', 'no', 'off']) assert.equal(loadConfig({}, { ALIAS_REQUIRE_PAR: off }).requirePar, false, off);
    assert.throws(() => loadConfig({}, { ALIAS_REQUIRE_PAR: 'always' }), (e: unknown) => e instanceof ConfigError && /ALIAS_REQUIRE_PAR/.test(e.message));
  });
});
