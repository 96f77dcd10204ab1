// Shared pieces of the real-browser tests: Debian's chromium launched through
// playwright-core, a watch for Content-Security-Policy problems in the console, and a
// client's callback server on a loopback address that records what the browser brings.
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type ConsoleMessage, type Page } from 'playwright-core';

export const CHROMIUM = process.env.ALIAS_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Why the browser tests are skipped here, or undefined when Chromium is installed. */
export const chromiumMissing = existsSync(CHROMIUM) ? undefined : `no Chromium at ${CHROMIUM} (apt-get install chromium)`;
if (chromiumMissing && process.env.CI) throw new Error(`${chromiumMissing}; CI must run the browser tests`);
if (chromiumMissing) process.stderr.write(`\n!!! SKIPPING browser tests: ${chromiumMissing}.\n\n`);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: 30_000,
  });
}

/** A new context with the tests' default timeout, and its first page. */
export async function openPage(browser: Browser, options: BrowserContextOptions = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext(options);
  context.setDefaultTimeout(15_000);
  return { context, page: await context.newPage() };
}

/**
 * Console messages about the Content-Security-Policy (a refused resource, script or
 * form action, or a policy the browser cannot parse) and page errors. Other console
 * errors (the 401 of a failed sign-in, a missing favicon) are expected.
 */
export function watchCsp(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m: ConsoleMessage) => {
    if (/Content.Security.Policy|Refused to/i.test(m.text())) {
      problems.push(`${m.type()}: ${m.text()} (${m.location().url || page.url()})`);
    }
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  return problems;
}

/** A request the browser made to the callback server. */
export interface Arrival {
  method: string;
  url: URL;
  /** The query string. */
  query: URLSearchParams;
  contentType: string;
  /** The body, parsed as a form (empty for a GET). */
  form: URLSearchParams;
}

export interface Callbacks {
  /** e.g. http://127.0.0.1:41234 */
  origin: string;
  url(path: string): string;
  /** The next request to this path (in arrival order), or undefined after timeoutMs. */
  next(path: string, timeoutMs?: number): Promise<Arrival | undefined>;
  /** Requests to this path that arrived and nobody has taken yet. */
  waiting(path: string): number;
  close(): Promise<void>;
}

/**
 * A client's web server on a loopback address: it answers every GET and POST with a
 * small page and records each request (but /favicon.ico) per path. Rejects when the
 * address is not available (no IPv6 loopback, say).
 */
export async function startCallbacks(host = '127.0.0.1'): Promise<Callbacks> {
  const arrived = new Map<string, Arrival[]>();
  const waiters = new Map<string, ((a: Arrival) => void)[]>();
  const queue = <T>(map: Map<string, T[]>, path: string) => {
    let list = map.get(path);
    if (!list) map.set(path, list = []);
    return list;
  };
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', `http://${req.headers.host ?? host}`);
      const contentType = req.headers['content-type'] ?? '';
      const body = Buffer.concat(chunks).toString('utf8');
      const arrival: Arrival = {
        method: req.method ?? 'GET', url, query: url.searchParams, contentType,
        form: contentType.startsWith('application/x-www-form-urlencoded') ? new URLSearchParams(body) : new URLSearchParams(),
      };
      if (url.pathname !== '/favicon.ico') {
        const waiter = queue(waiters, url.pathname).shift();
        if (waiter) waiter(arrival);
        else queue(arrived, url.pathname).push(arrival);
      }
      res.writeHead(url.pathname === '/favicon.ico' ? 404 : 200, { 'content-type': 'text/html; charset=utf-8' })
        .end('<!doctype html><title>App</title><p>Back at the app.</p>');
    });
  };
  const server: Server = createServer(onRequest);
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
  const origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    origin,
    url: (path) => origin + path,
    next(path, timeoutMs = 10_000) {
      const ready = queue(arrived, path).shift();
      if (ready) return Promise.resolve(ready);
      return new Promise<Arrival | undefined>((resolve) => {
        const waiter = (a: Arrival) => { clearTimeout(timer); resolve(a); };
        const timer = setTimeout(() => {
          const list = queue(waiters, path);
          list.splice(list.indexOf(waiter), 1);
          resolve(undefined);
        }, timeoutMs);
        timer.unref();
        queue(waiters, path).push(waiter);
      });
    },
    waiting: (path) => queue(arrived, path).length,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
