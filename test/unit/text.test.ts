// src/oauth/text.ts (issue 16 items 8, 9): the characters refused in text people read
// (PRECIS RFC 8264 §9, UTS #39, Trojan Source).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { unsafeText } from '../../src/oauth/text.js';

describe('unsafeText', () => {
  it('accepts ordinary text in any script, emoji ZWJ sequences and Persian ZWNJ', () => {
    for (const ok of ['Alice', 'Zoë Müller', '山田太郎', 'مرحبا', 'می\u200Cخواهم', '👨\u200D👩\u200D👧', 'a — b “c”']) {
      assert.equal(unsafeText(ok), undefined, ok);
    }
  });
  it('refuses C0 and C1 controls, bidi controls, separators and invisible characters', () => {
    for (const bad of ['a\nb', 'a\rb', 'a\tb', 'a\u0000', 'a\u001b[31m', 'a\u007f', 'a\u0085b', 'a\u009bb', 'admin\u202e\u200b\u2028x',
      'a\u202ab', 'a\u2066b', 'a\u2069', 'a\u200eb', 'a\u200fb', 'a\u061cb', 'a\u2028b', 'a\u2029b', 'a\u200bb', 'a\ufeffb',
      'a\u2060b', 'admin\u200d', '\u200dx', 'ab\u200cc', 'é\u200d\u200dé']) {
      assert.ok(unsafeText(bad), JSON.stringify(bad));
    }
    assert.match(unsafeText('admin\u202ex')!, /U\+202E/);
  });
  it('multiline: tab, LF and CRLF pass; a lone CR, U+0085 and the rest do not', () => {
    assert.equal(unsafeText('Hello,\r\n\tworld\n', { multiline: true }), undefined);
    for (const bad of ['a\rb', 'a\u0085b', 'a\u2028b', 'a\u202eb', 'a\u000bb']) assert.ok(unsafeText(bad, { multiline: true }), JSON.stringify(bad));
  });
});
