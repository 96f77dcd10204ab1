// Text that people read (nicknames, message subjects and bodies, client names, channel
// descriptions): no characters that hide, reorder or break lines behind the reader's back
// (issue 16 items 8, 9). Following PRECIS (RFC 8264 §9: controls are disallowed in every
// string class) and UTS #39 / Trojan Source (CVE-2021-42574): controls, bidi overrides and
// isolates, line and paragraph separators, and invisible characters are refused.
// Imports nothing of Alias's, so every layer may use it.

/** C0 and C1 controls and DEL; tab, LF and CR are judged separately. */
const CONTROLS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/u;
/**
 * Bidi embeddings, overrides and isolates (U+202A–202E, U+2066–2069), the directional marks
 * (U+200E, U+200F, U+061C), line and paragraph separators (U+2028, U+2029), the zero-width
 * space, word joiner and invisible operators (U+200B, U+2060–2064), the BOM (U+FEFF) and the
 * interlinear annotation characters (U+FFF9–FFFB).
 */
const INVISIBLE = /[\u061C\u200B\u200E\u200F\u2028\u2029\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF\uFFF9-\uFFFB]/u;
/**
 * Zero-width joiner and non-joiner (U+200C, U+200D) are needed inside some scripts and emoji
 * sequences, so they are allowed only between two non-ASCII characters (never at an end,
 * next to Latin letters, digits or spaces, or twice in a row).
 */
const JOINER = /[\u200C\u200D]/u;

const hex = (c: string) => 'U+' + c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');

/**
 * Why `value` is not acceptable text, naming the first offending character (e.g. "the
 * control character U+000A"), or undefined when it is. `multiline`: tab, LF and CRLF
 * are allowed (a message body); otherwise every control is refused (one line).
 */
export function unsafeText(value: string, opts: { multiline?: boolean } = {}): string | undefined {
  const chars = [...value];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '\t' || c === '\n' || c === '\r') {
      if (!opts.multiline) return `the control character ${hex(c)}`;
      if (c === '\r' && chars[i + 1] !== '\n') return `a carriage return (U+000D) not followed by a line feed`;
      continue;
    }
    if (CONTROLS.test(c)) return `the control character ${hex(c)}`;
    if (INVISIBLE.test(c)) return `the invisible or direction-changing character ${hex(c)}`;
    if (JOINER.test(c)) {
      const before = chars[i - 1];
      const after = chars[i + 1];
      const ok = before !== undefined && after !== undefined && before.codePointAt(0)! > 0x7F && after.codePointAt(0)! > 0x7F &&
        !JOINER.test(before) && !JOINER.test(after);
      if (!ok) return `the invisible character ${hex(c)} out of place`;
    }
  }
  return undefined;
}
