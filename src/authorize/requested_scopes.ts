// Scope and channel rules shared by every request a user consents to (authorization
// and device requests): openid required, user scopes only, channels only with contact.
import type { Client } from '../store/types.js';
import { OAuthError } from '../oauth/errors.js';
import { isUserScope, META_CHANNEL, parseList } from '../oauth/scopes.js';

export function parseUserScopes(client: Client, scope: string | undefined, channelsParam: string | undefined) {
  const scopes = parseList(scope);
  if (!scopes.includes('openid')) throw new OAuthError('invalid_scope', "the 'openid' scope is required");
  const unknown = scopes.filter((s) => !isUserScope(s));
  if (unknown.length) throw new OAuthError('invalid_scope', `unknown scope '${unknown[0]}'`);
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
