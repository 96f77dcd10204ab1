// The JSON passkey API as the tests call it (test/flows/passkey*.test.ts): a POST with a
// JSON body through the test browser, its answer parsed, and the shape of a JSON error.
import assert from 'node:assert/strict';
import type { Browser } from './browser.js';

export interface Answer { status: number; body: any; headers: Headers }

/** The page's anti-CSRF token: the hidden input, or a passkey block's data-csrf. */
export const csrfOf = (html: string): string => /name="csrf" value="([^"]+)"/.exec(html)?.[1] ?? /data-csrf="([^"]+)"/.exec(html)![1]!;

export async function api(b: Browser, path: string, body: unknown, contentType = 'application/json'): Promise<Answer> {
  const r = await b.request(path, { method: 'POST', headers: { 'content-type': contentType },
    body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await r.text();
  let parsed: unknown;
  try { parsed = JSON.parse(text); } catch { parsed = text; }
  return { status: r.status, body: parsed, headers: r.headers };
}

/** A 4xx answer with exactly {error, error_description} in JSON. */
export function jsonError(a: Answer, status: number, error: string, description?: RegExp) {
  assert.equal(a.status, status, JSON.stringify(a.body));
  assert.match(a.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(Object.keys(a.body).sort(), ['error', 'error_description']);
  assert.equal(a.body.error, error);
  if (description) assert.match(a.body.error_description, description);
}
