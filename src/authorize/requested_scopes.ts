// Scope and channel rules shared by every request a user consents to (authorization
// and device requests): openid required, user scopes only, channels only with contact.
import type { Client, Resource } from '../store/types.js';
import { qualify } from '../oauth/resource.js';
import { OAuthError } from '../oauth/errors.js';
import { isUserScope, META_CHANNEL, parseList } from '../oauth/scopes.js';

export function parseUserScopes(client: Client, scope: string | undefined, channelsParam: string | undefined,
  resources: readonly Resource[] = []) {
  const requested = parseList(scope);
  if (!requested.includes('openid')) throw new OAuthError('invalid_scope', "the 'openid' scope is required");
  // RFC 8707: a scope that is not a user scope must be one of a requested resource's; it
  // is kept qualified by that resource's URI (oauth/resource.ts), once per resource using it.
  const scopes: string[] = [];
  for (const x of requested) {
    if (isUserScope(x)) {
      scopes.push(x);
      continue;
    }
    const owners = resources.filter((r) => r.scopes.includes(x));
    if (!owners.length) throw new OAuthError('invalid_scope', `unknown scope '${x}'`);
    scopes.push(...owners.map((r) => qualify(r.uri, x)));
  }
  let channels: string[] = [];
  if (scopes.includes('contact')) {
    channels = parseList(channelsParam, 'channels');
    if (channels.includes(META_CHANNEL)) throw new OAuthError('invalid_scope', `'${META_CHANNEL}' cannot be requested; it comes with contact`);
    checkChannelsKnown(client, channels);
  }
  return { scopes, channels };
}

/** Every requested channel is one the client defines. */
export function checkChannelsKnown(client: Client, channels: string[]): void {
  const bad = channels.find((c) => !client.channels.some((x) => x.name === c));
  if (bad) throw new OAuthError('invalid_scope', `unknown channel '${bad}'`);
}
