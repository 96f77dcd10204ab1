// Where `aliasid user create` gets a password without it landing in the shell's history
// or the process list (issue 18 item 9): the first line of standard input
// (--password-stdin), or a prompt on the terminal that does not echo what is typed.
import type { ReadStream } from 'node:tty';
import { UsageError } from './context.js';

/** Far above any password Alias accepts; a file that is not a password ends here. */
const MAX_LINE_BYTES = 64 * 1024;

/** The first line of a stream, without its line ending (`\n` or `\r\n`); what follows is ignored. */
export function readFirstLine(input: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (err?: Error) => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.pause();
      if (err) return reject(err);
      const text = Buffer.concat(chunks).toString('utf8');
      const nl = text.indexOf('\n');
      resolve((nl === -1 ? text : text.slice(0, nl)).replace(/\r$/, ''));
    };
    const onData = (chunk: Buffer | string) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      chunks.push(buf);
      size += buf.length;
      if (buf.includes(0x0a)) return finish();
      if (size > MAX_LINE_BYTES) finish(new UsageError(`--password-stdin: the first line of standard input is longer than ${MAX_LINE_BYTES} bytes`));
    };
    const onEnd = () => finish();
    const onError = (err: Error) => finish(err);
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onError);
    input.resume();
  });
}

/**
 * Asks each question on the terminal with echo off (raw mode: nothing typed is shown, not
 * even stars) and returns the answers. Enter ends an answer (what was typed ahead goes to
 * the next question); Backspace deletes; Ctrl-U clears; Ctrl-C, Ctrl-D on an empty
 * answer, or the end of input cancels.
 */
export function askHidden(questions: string[], input: ReadStream, output: NodeJS.WritableStream): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const answers: string[] = [];
    let value = '';
    let afterCr = false;
    const finish = (err?: Error) => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.setRawMode(false);
      input.pause();
      if (err) {
        output.write('\n');
        reject(err);
      } else {
        resolve(answers);
      }
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        const crlf = afterCr && ch === '\n';
        afterCr = ch === '\r';
        if (crlf) continue;
        if (ch === '\r' || ch === '\n') {
          answers.push(value);
          value = '';
          output.write('\n');
          if (answers.length === questions.length) return finish();
          output.write(questions[answers.length]!);
        } else if (ch === '\u0003' || (ch === '\u0004' && value === '')) {
          return finish(new UsageError('cancelled: no user created'));
        } else if (ch === '\u007f' || ch === '\b') {
          value = Array.from(value).slice(0, -1).join('');
        } else if (ch === '\u0015') {
          value = '';
        } else if (ch >= ' ') {
          // Other control characters (a stray escape key) are not part of a password.
          value += ch;
        }
      }
    };
    const onEnd = () => finish(new UsageError('cancelled: no user created'));
    // Echo off before the prompt shows: someone (or a script) answering the moment the
    // prompt appears must not race the switch and see the password echoed.
    input.setRawMode(true);
    output.write(questions[0]!);
    input.setEncoding('utf8');
    input.on('data', onData);
    input.on('end', onEnd);
    input.resume();
  });
}

export interface PasswordSources {
  password?: string;
  passwordStdin?: boolean;
}

/**
 * `--password P` (kept for scripts written against it: the password stays in the shell's
 * history), `--password-stdin`, or, on a terminal, a prompt asked twice.
 */
export async function passwordFor(opts: PasswordSources, forWhom: string,
  stdin: NodeJS.ReadStream = process.stdin, stderr: NodeJS.WritableStream = process.stderr): Promise<string> {
  if (opts.password !== undefined && opts.passwordStdin) throw new UsageError('give --password or --password-stdin, not both');
  if (opts.password !== undefined) return opts.password;
  if (opts.passwordStdin) return readFirstLine(stdin);
  if (!stdin.isTTY) {
    throw new UsageError('no password: give --password-stdin (the first line of standard input), or run on a terminal to be asked');
  }
  const [first, again] = await askHidden([`Password for ${forWhom}: `, 'The same password again: '], stdin as ReadStream, stderr);
  if (first !== again) throw new UsageError('the two passwords differ: no user created');
  return first!;
}
