// Pure helpers of the audit log: `--since` parsing and the detail text.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSince } from '../../src/audit/since.js';
import { detail } from '../../src/audit/audit.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');

describe('aliasid audit --since', () => {
  it('takes durations back from now', () => {
    assert.equal(parseSince('90s', NOW), NOW - 90_000);
    assert.equal(parseSince('30m', NOW), NOW - 30 * 60_000);
    assert.equal(parseSince('12h', NOW), NOW - 12 * 3_600_000);
    assert.equal(parseSince('7d', NOW), NOW - 7 * 86_400_000);
    assert.equal(parseSince('2w', NOW), NOW - 14 * 86_400_000);
  });

  it('takes ISO dates (UTC midnight) and date-times with a zone', () => {
    assert.equal(parseSince('2026-01-31', NOW), Date.UTC(2026, 0, 31));
    assert.equal(parseSince('2024-02-29', NOW), Date.UTC(2024, 1, 29));
    assert.equal(parseSince('2026-01-31T08:00:00Z', NOW), Date.UTC(2026, 0, 31, 8));
    assert.equal(parseSince('2026-01-31T08:00+02:00', NOW), Date.UTC(2026, 0, 31, 6));
  });

  it('refuses anything else with a message saying what it takes', () => {
    for (const bad of ['', '7', '1y', '-1d', '7 d', 'yesterday', '2026-02-30', '2026-13-01', '2026-01-31T08:00',
      '2026-01-31T25:00Z', '99999999999d']) {
      const r = parseSince(bad, NOW);
      assert.equal(typeof r, 'object', `'${bad}' refused`);
      assert.match((r as { error: string }).error, /--since takes a duration/);
    }
  });
});

describe('audit detail text', () => {
  it('is key=value pairs, lists comma-joined, empty values left out', () => {
    assert.equal(detail({ scopes: ['openid', 'nickname'], channels: [], via: 'account', other: undefined }),
      'scopes=openid,nickname via=account');
    assert.equal(detail({}), '');
  });
});
