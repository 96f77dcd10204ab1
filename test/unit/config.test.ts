// Configuration of the shared failure counters (ALIAS_REDIS_URL, ALIAS_REDIS_PREFIX).
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
