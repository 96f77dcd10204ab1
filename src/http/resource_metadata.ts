// RFC 9728 OAuth 2.0 Protected Resource Metadata for Alias's own protected resource, the
// contact relay API (POST /api/v1/messages). Its resource identifier is the API's URL;
// its metadata URL is that identifier with /.well-known/oauth-protected-resource inserted
// between the host and the path (§3.1). Userinfo is not described here: it is the
// authorization server's own OpenID Connect endpoint, found through discovery.
import { PATHS } from './paths.js';

export const PROTECTED_RESOURCE_WELL_KNOWN = '/.well-known/oauth-protected-resource';

/** RFC 9728 §3.1: where the metadata of the relay API is, as a URL and as Alias's route. */
export function relayResourceMetadata(issuer: string): { resource: string; url: string; route: string } {
  const resource = issuer + PATHS.messages;
  const u = new URL(resource);
  const route = PROTECTED_RESOURCE_WELL_KNOWN + u.pathname;
  return { resource, url: u.origin + route, route };
}

/** RFC 9728 §5.1: the WWW-Authenticate parameter that points a client at the metadata. */
export const resourceMetadataParam = (url: string): string => `resource_metadata="${url}"`;
