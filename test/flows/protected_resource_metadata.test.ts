// RFC 9728 OAuth 2.0 Protected Resource Metadata of Alias's relay API, with oauth4webapi's
// resource discovery as the independent client, on SQLite and PostgreSQL: the metadata
// document at the path-specific well-known URL (§3.1), its members (§2), and the
// resource_metadata parameter in every WWW-Authenticate challenge of the relay (§5.1).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as oauth from 'oauth4webapi';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';

const INSECURE = { [oauth.allowInsecureRequests]: true } as const;

for (const kind of databaseKinds()) {
  describe(`protected resource metadata (${kind.name})`, { skip: kind.skip }, () => {
    let alias: Alias;
    let resource: URL;
    let metadataUrl: string;
    before(async () => {
      alias = await startAlias(kind);
      resource = new URL(`${alias.issuer}/api/v1/messages`);
      metadataUrl = `${resource.origin}/.well-known/oauth-protected-resource/api/v1/messages`;
    });
    after(() => alias?.close());

    /** The auth-params of the first challenge of a WWW-Authenticate header with `scheme`. */
    function challenge(header: string | null, scheme: string): Record<string, string> {
      assert.ok(header, 'a WWW-Authenticate header');
      const at = header.search(new RegExp(`(^|, )${scheme} `, 'i'));
      assert.ok(at >= 0, `a ${scheme} challenge in ${header}`);
      const params: Record<string, string> = {};
      for (const m of header.slice(at).replace(/^, /, '').slice(scheme.length).matchAll(/\s*([a-z_]+)="([^"]*)",?/gy)) params[m[1]!] = m[2]!;
      return params;
    }

    it('oauth4webapi discovers the relay API\'s metadata and its authorization server (RFC 9728 §3, §2)', async () => {
      const res = await oauth.resourceDiscoveryRequest(resource, INSECURE);
      assert.equal(res.url, metadataUrl, '§3.1: the well-known segment goes between the host and the path');
      const rs = await oauth.processResourceDiscoveryResponse(resource, res);
      assert.equal(rs.resource, resource.href, '§3.3: resource is the identifier the URL was formed from');
      assert.deepEqual(rs.authorization_servers, [alias.issuer]);
      assert.deepEqual(rs.bearer_methods_supported, ['header']);
      assert.deepEqual(rs.scopes_supported, ['contact']);
      assert.deepEqual(rs.dpop_signing_alg_values_supported, ['ES256', 'PS256', 'RS256', 'EdDSA']);
      assert.equal(rs.dpop_bound_access_tokens_required, false);
      assert.equal(rs.resource_name, 'Alias contact relay');
      // §7.6: the authorization server it names is discoverable and is Alias.
      const issuer = new URL(rs.authorization_servers![0]!);
      const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, INSECURE));
      assert.equal(as.issuer, alias.issuer);
    });

    it('any origin may read it (a browser client discovers it too)', async () => {
      const res = await fetch(metadataUrl, { headers: { origin: 'https://agent.example' } });
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
    });

    it('only the path-specific document: the bare well-known URL would name the issuer as a resource', async () => {
      const bare = await fetch(`${alias.issuer}/.well-known/oauth-protected-resource`);
      assert.equal(bare.status, 404);
      assert.match(bare.headers.get('content-type') ?? '', /application\/json/);
      const other = await fetch(`${alias.issuer}/.well-known/oauth-protected-resource/api/oauth2/userinfo`);
      assert.equal(other.status, 404);
    });

    it('every 401 of the relay names the metadata in WWW-Authenticate (RFC 9728 §5.1)', async () => {
      const body = JSON.stringify({ to: 'x', channel: 'news', subject: 's', body: 'b' });
      const headers = { 'content-type': 'application/json' };
      // No credentials at all (RFC 6750 §3.1: no error code).
      const none = await fetch(resource, { method: 'POST', headers, body });
      assert.equal(none.status, 401);
      assert.equal(challenge(none.headers.get('www-authenticate'), 'Bearer').resource_metadata, metadataUrl);
      // An unknown Bearer token, through oauth4webapi: the challenge it parses carries the URL.
      let parsed: oauth.WWWAuthenticateChallenge[] | undefined;
      try {
        await oauth.protectedResourceRequest('not-a-token', 'POST', resource, new Headers(headers), body, INSECURE);
      } catch (err) {
        if (err instanceof oauth.WWWAuthenticateChallengeError) parsed = err.cause;
        else throw err;
      }
      assert.equal(parsed?.[0]?.scheme, 'bearer');
      assert.equal(parsed?.[0]?.parameters.error, 'invalid_token');
      assert.equal(parsed?.[0]?.parameters.resource_metadata, metadataUrl);
      // The DPoP scheme (RFC 9449 §7.1) and a malformed header.
      const dpop = await fetch(resource, { method: 'POST', headers: { ...headers, authorization: 'DPoP not-a-token' }, body });
      assert.equal(dpop.status, 401);
      const d = challenge(dpop.headers.get('www-authenticate'), 'DPoP');
      assert.equal(d.error, 'invalid_token');
      assert.equal(d.resource_metadata, metadataUrl);
      const malformed = await fetch(resource, { method: 'POST', headers: { ...headers, authorization: 'Bearer ' }, body });
      assert.equal(challenge(malformed.headers.get('www-authenticate'), 'Bearer').resource_metadata, metadataUrl);
    });

    it('userinfo is the authorization server\'s own endpoint: its challenges name no resource metadata', async () => {
      const res = await fetch(`${alias.issuer}/api/oauth2/userinfo`, { headers: { authorization: 'Bearer nope' } });
      assert.equal(res.status, 401);
      assert.doesNotMatch(res.headers.get('www-authenticate') ?? '', /resource_metadata/);
    });
  });
}
