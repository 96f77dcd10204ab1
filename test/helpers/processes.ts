// `aliasid` processes for end-to-end tests: start one, wait for a condition with its
// output at hand when it fails, wait for `serve` to answer, and talk raw HTTP to it.
import assert from 'node:assert/strict';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { spawnCli } from './cli.js';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Proc {
  pid: number;
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** True once the process has ended. */
  done(): boolean;
  kill(signal: NodeJS.Signals): void;
}

export function start(args: string[], env: Record<string, string>): Proc {
  const child = spawnCli(args, env);
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { out += d; });
  let finished = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => { finished = true; resolve({ code, signal }); }));
  return { pid: child.pid!, output: () => out, exited, done: () => finished, kill: (signal) => { if (!finished) child.kill(signal); } };
}

/** Waits until `check` holds, or fails with `what` and the process output. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs: number, proc?: Pick<Proc, 'output'>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what} (after ${timeoutMs} ms)${proc ? `\n${proc.output()}` : ''}`);
    await sleep(25);
  }
}

/** Starts `aliasid serve --port PORT` and waits until /healthz answers 200. */
export async function serve(port: number, env: Record<string, string>, args: string[] = []): Promise<Proc> {
  const proc = start(['serve', '--port', String(port), ...args], env);
  await until(async () => {
    if (proc.done()) assert.fail(`serve exited before listening:\n${proc.output()}`);
    try {
      return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
    } catch {
      return false;
    }
  }, 'serve did not listen', 30_000, proc);
  return proc;
}

/** True when a new TCP connection to the port is refused. */
export async function refused(port: number): Promise<boolean> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/healthz`);
    await res.arrayBuffer();
    return false;
  } catch (err) {
    return /ECONNREFUSED/.test(String((err as { cause?: unknown }).cause ?? err));
  }
}

/**
 * A form POST whose body is sent in two parts: the request is in flight (headers and
 * half the body received) until `finish()` sends the rest.
 */
export function slowPost(port: number, path: string, headers: Record<string, string>, body: string) {
  const bytes = Buffer.from(body);
  const half = Math.floor(bytes.length / 2);
  const req: ClientRequest = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', agent: false,
    headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(bytes.length) } });
  const response = new Promise<{ status: number; headers: IncomingMessage['headers']; body: string }>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
  response.catch(() => undefined); // awaited by the caller; no unhandled-rejection noise meanwhile
  const connected = new Promise<void>((resolve, reject) => {
    req.on('socket', (socket) => socket.once('connect', () => resolve()));
    req.on('error', reject);
  });
  req.flushHeaders();
  req.write(bytes.subarray(0, half));
  return {
    response,
    /** Resolves once the server has had the headers and half the body for a moment. */
    inFlight: connected.then(() => sleep(300)),
    finish() {
      req.end(bytes.subarray(half));
    },
    abort() {
      req.destroy();
    },
  };
}
