// The consent page's view model, shared by authorization and device requests.
import type { Client } from '../store/types.js';
import { sortScopes } from '../oauth/scopes.js';
import { unqualify } from '../oauth/resource.js';

const SCOPE_TEXT: Record<string, string> = {
  nickname: 'See your nickname',
  contact: 'Send you messages through Alias (your e-mail address stays private)',
  offline_access: 'Keep access while you are not using the app',
};

/**
 * A scope's words: a user scope's sentence, or for a resource's scope (`URI#scope`) the
 * scope with the API's name as the operator registered it (RFC 8707 resources).
 */
export function scopeText(name: string, resourceNames: ReadonlyMap<string, string> = new Map()): string {
  const q = unqualify(name);
  if (q) return `${q.scope} at ${resourceNames.get(q.resource) ?? q.resource}`;
  return SCOPE_TEXT[name] ?? name;
}

export function consentView(client: Client, scopes: string[], channels: string[],
  resourceNames: ReadonlyMap<string, string> = new Map()) {
  return {
    title: `Allow ${client.name}`,
    clientName: client.name,
    // RFC 7591 §2: what the app registered about itself (https URLs, checked at registration).
    logoUri: client.logoUri,
    links: [
      { href: client.clientUri, text: `About ${client.name}` },
      { href: client.policyUri, text: 'Privacy policy' },
      { href: client.tosUri, text: 'Terms of service' },
    ].filter((l): l is { href: string; text: string } => l.href !== null),
    contact: scopes.includes('contact'),
    // The channel list's hint names the contact checkbox by its words, without its aside.
    contactLabel: 'Send you messages through Alias',
    // openid is always included and shown as text, never as a checkbox.
    scopes: sortScopes(scopes.filter((x) => x !== 'openid'))
      .map((name) => ({ name, description: scopeText(name, resourceNames), checked: true })),
    channels: channels.map((name) => ({
      name,
      description: client.channels.find((c) => c.name === name)?.description ?? name,
      checked: true,
    })),
  };
}

/** Ticked checkboxes → what the user approved: openid always, channels only with contact. */
export function approvedFrom(body: Record<string, unknown>, scopes: string[], channels: string[]) {
  const ticked = (v: unknown): string[] =>
    (Array.isArray(v) ? v : v === undefined ? [] : [v]).filter((x): x is string => typeof x === 'string');
  const approvedScopes = ['openid', ...scopes.filter((x) => x !== 'openid' && ticked(body.scope).includes(x))];
  const approvedChannels = approvedScopes.includes('contact') ? channels.filter((c) => ticked(body.channel).includes(c)) : [];
  return { approvedScopes, approvedChannels };
}
