// A minimal browser for driving Alias's pages over HTTP: a cookie jar, manual
// redirects, and form reading. It stops at the client's redirect URI without fetching it.
// Also the sign-in steps the flow tests share (signedInBrowser, signInAndAllow).
import assert from 'node:assert/strict';
export interface Page {
  status: number;
  url: string;
  html: string;
  headers: Headers;
}

export interface FormInfo {
  action: string;
  fields: Record<string, string>;
}

export class Browser {
  readonly cookies = new Map<string, string>();
  constructor(readonly origin: string) {}

  private cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  private store(res: Response) {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (/max-age=0/i.test(line) || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const abs = new URL(url, this.origin).href;
    const headers = new Headers(init.headers);
    if (abs.startsWith(this.origin) && this.cookies.size) headers.set('cookie', this.cookieHeader());
    const res = await fetch(abs, { ...init, headers, redirect: 'manual' });
    if (abs.startsWith(this.origin)) this.store(res);
    return res;
  }

  /**
   * Follows redirects within Alias; returns the final page, or the redirect URL when
   * it leaves Alias (the client's redirect URI).
   */
  async follow(url: string, init: RequestInit = {}): Promise<Page> {
    let res = await this.request(url, init);
    let current = new URL(url, this.origin).href;
    for (let i = 0; i < 10 && res.status >= 300 && res.status < 400; i++) {
      const next = new URL(res.headers.get('location')!, current).href;
      if (!next.startsWith(this.origin + '/')) return { status: res.status, url: next, html: '', headers: res.headers };
      current = next;
      res = await this.request(next);
    }
    return { status: res.status, url: current, html: await res.text(), headers: res.headers };
  }

  /** Reads the first form on the page. */
  static form(html: string): FormInfo {
    const form = /<form[^>]*method="post"[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i.exec(html);
    if (!form) throw new Error('no form on the page:\n' + html.slice(0, 2000));
    const fields: Record<string, string> = {};
    // What a browser would send untouched: hidden inputs and pre-filled text inputs.
    for (const m of form[2]!.matchAll(/<input[^>]*>/g)) {
      const tag = m[0];
      const type = /type="([^"]*)"/.exec(tag)?.[1] ?? 'text';
      const name = /name="([^"]*)"/.exec(tag)?.[1];
      const value = /value="([^"]*)"/.exec(tag)?.[1];
      if (name && value && ['hidden', 'text', 'email'].includes(type)) fields[name] = unescape(value);
    }
    return { action: unescape(form[1]!), fields };
  }

  /** Submits a form with extra fields (arrays repeat the name, as checkboxes do). */
  async submit(page: Page, values: Record<string, string | string[]>): Promise<Page> {
    const form = Browser.form(page.html);
    const body = new URLSearchParams(form.fields);
    for (const [k, v] of Object.entries(values)) {
      body.delete(k);
      for (const item of Array.isArray(v) ? v : [v]) body.append(k, item);
    }
    return this.follow(form.action, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: body.toString(),
    });
  }
}

function unescape(s: string): string {
  return s.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>');
}

/** Checkbox values on a consent page. */
export function checkboxes(html: string, name: string): { value: string; checked: boolean }[] {
  return [...html.matchAll(/<input[^>]*type="checkbox"[^>]*>/g)].map((m) => m[0])
    .filter((tag) => tag.includes(`name="${name}"`))
    .map((tag) => ({ value: /value="([^"]*)"/.exec(tag)![1]!, checked: / checked/.test(tag) }));
}

/** A new browser signed in on /account with a password (asserts it reached the account page). */
export async function signedInBrowser(origin: string, email: string, password: string): Promise<Browser> {
  const browser = new Browser(origin);
  const page = await browser.submit(await browser.follow('/account'), { email, password });
  assert.equal(page.status, 200, page.html);
  assert.match(page.html, /Your Alias account/);
  return browser;
}

/** Allow on a consent page, every offered scope ticked; returns where the browser went (the client's redirect). */
export function allowAll(browser: Browser, consent: Page): Promise<Page> {
  assert.match(consent.html, /name="decision" value="allow"/, 'on the consent page');
  return browser.submit(consent, { decision: 'allow', scope: checkboxes(consent.html, 'scope').map((c) => c.value) });
}

/** Runs an authorization request (`query`) in a new browser: signs in with the password, then allows. */
export async function signInAndAllow(origin: string, query: Record<string, string>, user: { email: string; password: string }):
  Promise<{ browser: Browser; page: Page }> {
  const browser = new Browser(origin);
  const login = await browser.follow('/oauth2/authorize?' + new URLSearchParams(query));
  const consent = await browser.submit(login, { email: user.email, password: user.password });
  return { browser, page: await allowAll(browser, consent) };
}
