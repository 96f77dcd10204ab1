// The reserved `_meta` channel (DESIGN, "Channels"): never requested explicitly, always
// granted with `contact`, and taken back with it. The one place that rule is written.
import { META_CHANNEL } from './scopes.js';

/**
 * The channels a grant of `scopes` holds when the user chose `channels`: none without
 * `contact`; with it, `_meta` first and then the chosen ones.
 */
export function withMeta(scopes: readonly string[], channels: readonly string[]): string[] {
  const rest = channels.filter((c) => c !== META_CHANNEL);
  return scopes.includes('contact') ? [META_CHANNEL, ...rest] : [];
}
