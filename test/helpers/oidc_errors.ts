// What the independent client (openid-client) reports for an OAuth error response.
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';

/** The error openid-client throws for an OAuth error response (RFC 6749 §5.2). */
export async function oauthError(p: Promise<unknown>): Promise<oidc.ResponseBodyError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof oidc.ResponseBodyError, `expected an OAuth error response, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the request to fail');
}
