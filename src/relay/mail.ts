// The e-mail a relayed message becomes: addressed to the user's real address, saying
// which app sent it and on which channel, with an RFC 8058 one-click unsubscribe.
import type { SendMailOptions } from 'nodemailer';
import type { Client, Message, User } from '../store/types.js';
import { META_CHANNEL } from '../oauth/scopes.js';

export interface ComposeInput {
  message: Message;
  user: User;
  client: Client;
  /** Envelope and From address, e.g. alias@example.com. */
  from: string;
  /** Message-ID domain. */
  host: string;
  /** One-click unsubscribe URL; none for `_meta`, which cannot be unsubscribed on its own. */
  unsubscribeUrl?: string;
  /** The user's account page, where every app and channel can be reviewed. */
  accountUrl: string;
}

/** The channel's name as the user saw it on the consent page. */
/**
 * RFC 2047 base64 encoded words of `text`, each at most 75 characters and never splitting
 * a character, separated by folding whitespace (ignored between encoded words on decoding).
 */
export function encodeAsWords(text: string): string {
  const words: string[] = [];
  let chunk = '';
  for (const c of text) {
    // 45 bytes of UTF-8 are 60 base64 characters: with "=?UTF-8?B?" and "?=", 72.
    if (Buffer.byteLength(chunk + c, 'utf8') > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += c;
  }
  if (chunk) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w, 'utf8').toString('base64')}?=`).join('\r\n ');
}

export function channelLabel(client: Client, channel: string): string {
  if (channel === META_CHANNEL) return `notices about your connection with ${client.name}`;
  return client.channels.find((c) => c.name === channel)?.description ?? channel;
}

/** Default From address: alias@ the issuer's host (localhost for IP addresses). */
export function defaultFrom(issuer: string): string {
  const host = new URL(issuer).hostname;
  return `alias@${/^[\d.]+$|:|^\[/.test(host) ? 'localhost' : host}`;
}

export function composeMail(input: ComposeInput): SendMailOptions {
  const { message: m, client, user } = input;
  const label = channelLabel(client, m.channel);
  const footer = [
    '',
    '-- ',
    `Sent by ${client.name} through Alias, on the channel "${label}" (${m.channel}).`,
    `${client.name} does not know your e-mail address; Alias forwarded this message to you.`,
  ];
  if (input.unsubscribeUrl) {
    footer.push('', `Stop "${label}" messages from ${client.name} (one click, nothing else changes):`, input.unsubscribeUrl);
  } else {
    footer.push('', `Notices about your connection come with the permission to contact you; ` +
      `you can take that permission back from ${client.name} on your Alias account page.`);
  }
  footer.push('', `Your apps and what they may do: ${input.accountUrl}`);
  const headers: Record<string, { prepared: true; value: string }> = {
    'X-Alias-Channel': { prepared: true, value: m.channel },
  };
  if (input.unsubscribeUrl) {
    headers['List-Unsubscribe'] = { prepared: true, value: `<${input.unsubscribeUrl}>` };
    headers['List-Unsubscribe-Post'] = { prepared: true, value: 'List-Unsubscribe=One-Click' };
  }
  // A subject that looks like an RFC 2047 encoded word ("=?utf-8?q?…?=") would be sent
  // as it is, ASCII, and decoded by the reader's mail program: it is encoded as text
  // (base64 encoded words of the literal characters) so it reads as typed (issue 16 item 8).
  const literal = /=\?/.test(m.subject);
  if (literal) headers['Subject'] = { prepared: true, value: encodeAsWords(m.subject) };
  return {
    from: { name: `${client.name} via Alias`, address: input.from },
    to: user.email,
    ...(literal ? {} : { subject: m.subject }),
    text: `${m.body}\n${footer.join('\n')}\n`,
    messageId: `<${m.id}@${input.host}>`,
    date: new Date(m.createdAt),
    headers,
    // The envelope sender is Alias, whatever the display name says.
    envelope: { from: input.from, to: user.email },
  };
}
