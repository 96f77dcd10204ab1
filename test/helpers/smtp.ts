// A real SMTP server (smtp-server) on 127.0.0.1 that keeps every mail it receives,
// parsed with mailparser, so tests assert what actually went over the wire.
import { SMTPServer } from 'smtp-server';
import { simpleParser, type ParsedMail } from 'mailparser';
import { freePort } from './harness.js';

export interface Received {
  envelope: { from: string; to: string[] };
  mail: ParsedMail;
  raw: string;
}

export interface SmtpSink {
  port: number;
  url: string;
  received: Received[];
  /** SMTP reply code to refuse the next recipients with (e.g. 451 or 550); undefined accepts. */
  refuseWith: number | undefined;
  /** Milliseconds to hold each mail before accepting it (a slow server). */
  delayMs: number;
  /** Resolves once at least `n` mails arrived (fails after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<Received[]>;
  close(): Promise<void>;
}

export async function startSmtpSink(port?: number): Promise<SmtpSink> {
  const p = port ?? await freePort();
  const received: Received[] = [];
  const sink: SmtpSink = {
    port: p,
    url: `smtp://127.0.0.1:${p}`,
    received,
    refuseWith: undefined,
    delayMs: 0,
    async waitFor(n, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      while (received.length < n) {
        if (Date.now() > deadline) throw new Error(`expected ${n} mails within ${timeoutMs} ms, got ${received.length}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return received;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    disableReverseLookup: true,
    logger: false,
    onRcptTo(_address, _session, callback) {
      if (sink.refuseWith) {
        const err = new Error(sink.refuseWith >= 500 ? 'mailbox unavailable' : 'try again later') as Error & { responseCode: number };
        err.responseCode = sink.refuseWith;
        return callback(err);
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        simpleParser(raw).then((mail) => {
          received.push({
            envelope: {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              to: session.envelope.rcptTo.map((r) => r.address),
            },
            mail, raw,
          });
          setTimeout(() => callback(), sink.delayMs);
        }, (err: Error) => callback(err));
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(p, '127.0.0.1', () => resolve());
  });
  return sink;
}
