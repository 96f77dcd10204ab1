// The mails Alias sends about an account (not relayed from an app): plain text plus a
// simple HTML part, from "Alias (HOST)" so the person sees which provider wrote.
export interface AccountMail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface AccountMailInput {
  to: string;
  subject: string;
  /** Paragraphs, plain text. */
  lines: string[];
  /** The one action of the mail, if any. */
  link?: { url: string; label: string };
  /** Paragraphs after the link (why you got this, what to do if it was not you). */
  after?: string[];
}

const escapeHtml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

export function accountMail(input: AccountMailInput, issuer: string): AccountMail {
  const host = new URL(issuer).host;
  const after = [...(input.after ?? []), `Alias at ${host}`];
  const text = [
    ...input.lines,
    ...(input.link ? [`${input.link.label}:\n${input.link.url}`] : []),
    ...after,
  ].join('\n\n') + '\n';
  const p = (s: string) => `<p>${escapeHtml(s)}</p>`;
  const html = [
    '<!doctype html><html><body style="font-family:sans-serif;line-height:1.5;max-width:36em">',
    ...input.lines.map(p),
    ...(input.link ? [`<p><a href="${escapeHtml(input.link.url)}">${escapeHtml(input.link.label)}</a></p>`,
      `<p style="font-size:smaller;color:#555">${escapeHtml(input.link.url)}</p>`] : []),
    ...after.map(p),
    '</body></html>',
  ].join('\n');
  return { to: input.to, subject: input.subject, text, html };
}

/** "Alias (id.example.com)": the From name of every account mail. */
export const accountMailFromName = (issuer: string): string => `Alias (${new URL(issuer).host})`;
