// The one way Alias sends mail (account mails and relayed messages): over SMTP when
// ALIAS_SMTP_URL is set, else as .eml files in a mail folder (the embedded default, so
// a fresh clone works end to end without a mail server), else nowhere. DKIM-signed
// whenever a key is configured, whatever the transport.
import nodemailer, { type SendMailOptions, type Transporter } from 'nodemailer';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { DkimConfig } from './dkim.js';

const CONNECT_TIMEOUT_MS = 15_000;
const SOCKET_TIMEOUT_MS = 30_000;

export type MailTransportKind = 'smtp' | 'files' | 'none';

export interface MailTransport {
  readonly kind: MailTransportKind;
  /** Sends (or files) one mail; throws with nodemailer's error on failure. */
  send(mail: SendMailOptions): Promise<void>;
  close(): void;
}

export interface MailTransportOptions {
  smtpUrl?: string;
  /** Folder for .eml files when there is no SMTP URL. */
  mailDir?: string;
  dkim?: DkimConfig;
}

/** SMTP 5xx replies and malformed envelopes will not get better by retrying. */
export function isPermanentMailError(err: unknown): boolean {
  const e = err as { responseCode?: number; code?: string };
  if (typeof e.responseCode === 'number') return e.responseCode >= 500 && e.responseCode < 600;
  return e.code === 'EENVELOPE' || e.code === 'EMESSAGE';
}

/** One line for the outbox's last_error: the SMTP reply code or the error code, then the text. */
export function describeMailError(err: unknown): string {
  const e = err as { responseCode?: number; code?: string; message?: string };
  const text = (e.message ?? String(err)).replace(/\s+/g, ' ').slice(0, 500);
  return e.responseCode ? `SMTP ${e.responseCode}: ${text}` : e.code ? `${e.code}: ${text}` : text;
}

export function createMailTransport(opts: MailTransportOptions): MailTransport {
  const dkim = opts.dkim ? { dkim: { ...opts.dkim } } : {};
  if (opts.smtpUrl) {
    const url = opts.smtpUrl;
    let t: Transporter | undefined;
    const smtp = () => (t ??= nodemailer.createTransport({
      url, connectionTimeout: CONNECT_TIMEOUT_MS, greetingTimeout: CONNECT_TIMEOUT_MS, socketTimeout: SOCKET_TIMEOUT_MS, ...dkim,
    } as Parameters<typeof nodemailer.createTransport>[0]));
    return {
      kind: 'smtp',
      async send(mail) {
        await smtp().sendMail(mail);
      },
      close() {
        t?.close();
        t = undefined;
      },
    };
  }
  if (opts.mailDir) {
    const dir = opts.mailDir;
    const stream = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix', ...dkim });
    let made = false;
    return {
      kind: 'files',
      async send(mail) {
        const info = await stream.sendMail(mail) as unknown as { message: Buffer };
        if (!made) {
          // Mails carry sign-in links: only the operator may read them.
          mkdirSync(dir, { recursive: true, mode: 0o700 });
          chmodSync(dir, 0o700);
          made = true;
        }
        // Sortable by time; the random part keeps two mails of one millisecond apart.
        const name = `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomBytes(4).toString('hex')}.eml`;
        writeFileSync(join(dir, name), info.message, { mode: 0o600, flag: 'wx' });
      },
      close() {},
    };
  }
  return {
    kind: 'none',
    async send() {
      throw Object.assign(new Error('no mail transport: set ALIAS_SMTP_URL (or ALIAS_MAIL_DIR)'), { code: 'ENOTRANSPORT' });
    },
    close() {},
  };
}

/** smtp://user:pass@host:port → smtp://host:port, for printing. */
export function redactSmtp(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}`;
  } catch {
    return 'smtp';
  }
}

/** Where mail goes, for the start banner of serve and worker. */
export function describeMail(opts: { smtpUrl?: string; mailDir?: string }): string {
  if (opts.smtpUrl) return `over SMTP (${redactSmtp(opts.smtpUrl)})`;
  if (opts.mailDir) return `written as .eml files to ${opts.mailDir} (set ALIAS_SMTP_URL to send mail)`;
  return 'not sent: relayed messages reach the inbox only, account mails wait (set ALIAS_SMTP_URL)';
}
