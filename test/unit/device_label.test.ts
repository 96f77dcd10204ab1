// The session label in the data export: browser family and system only, never a version
// or the raw User-Agent (it would be a fingerprint).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deviceLabel } from '../../src/http/device_label.js';

describe('device label', () => {
  it('names the browser family and the system', () => {
    const cases: [string, string][] = [
      ['Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0', 'Firefox on Linux'],
      ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0', 'Edge on Windows'],
      ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15', 'Safari on macOS'],
      ['Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0 Mobile/15E148 Safari/604.1', 'Chrome on iOS'],
      ['Mozilla/5.0 (Linux; Android 15) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36', 'Chrome on Android'],
      ['curl/8.5.0', 'curl'],
      ['', 'an unknown browser'],
    ];
    for (const [ua, label] of cases) assert.equal(deviceLabel(ua), label, ua);
    assert.equal(deviceLabel(undefined), 'an unknown browser');
  });

  it('keeps no version and no other part of the User-Agent', () => {
    const label = deviceLabel('Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.85 Safari/537.36');
    assert.doesNotMatch(label, /\d/);
  });
});
