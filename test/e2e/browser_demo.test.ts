// Issue 18, "the first hour": the demo tour in a real browser (Debian's chromium through
// playwright-core). `serve --demo` (the composition root, in this process) starts Alias
// and two demo apps (examples/demo-app, a relying party on openid-client). A person opens
// the first app, signs in with Alias, allows, sees the alias ID the app got, has the app
// send a message through the relay, and reads it in the inbox on /account; the second app
// gets a different alias ID for the same person (OIDC Core §8.1, pairwise). The app's
// error pages (denied consent, a code that is refused, an answer it did not ask for, a
// form without its CSRF token) are readable pages, and what Alias sends is escaped.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { sqlite, TEST_SECRET, type TestDatabase } from '../helpers/databases.js';
import { freePort, freePortPair } from '../helpers/harness.js';
import { chromiumMissing, launchChromium, openPage, watchCsp } from '../helpers/chromium.js';
import { loadConfig } from '../../src/config/config.js';
import { startServer, type Running } from '../../src/main.js';
import { DEMO } from '../../src/demo.js';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const WIDTHS = [{ width: 1280, height: 900 }, { width: 390, height: 844 }];

/** axe-core's WCAG 2.2 A/AA violations on the page (evaluated through DevTools: the pages' CSP allows no script). */
async function axeViolations(page: Page): Promise<string[]> {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => (window as unknown as { axe: { run(ctx: unknown, opts: unknown): Promise<{
    violations: { id: string; help: string; nodes: { target: unknown }[] }[] }> } }).axe.run(document,
    { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } }));
  return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => JSON.stringify(n.target)).join(', ')})`);
}

const NO_CSP_ERRORS = 'no Content-Security-Policy errors in the console';

describe('the demo tour in a real browser', { skip: chromiumMissing }, () => {
  let db: TestDatabase;
  let running: Running;
  let browser: Browser;
  let issuer: string;
  let app1: string;
  let app2: string;
  const banner: string[] = [];

  before(async () => {
    db = await sqlite.create();
    const port = await freePort();
    const demoAppPort = await freePortPair();
    const config = loadConfig({ port, db: db.location, demo: true, demoAppPort },
      { ALIAS_SECRET: TEST_SECRET, ALIAS_LOG_LEVEL: 'silent' });
    running = await startServer(config, (line) => banner.push(line));
    issuer = config.issuer;
    app1 = `http://localhost:${demoAppPort}`;
    app2 = `http://localhost:${demoAppPort + 1}`;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await running?.stop();
    await db?.cleanup();
  });

  /**
   * From the app's start page through Alias's pages back to the app: the sign-in form when
   * this browser has no session at Alias, the consent page unless a remembered grant covers it.
   */
  async function signInThroughApp(page: Page, appUrl: string, opts: { decision?: 'Allow' | 'Deny' } = {}) {
    await page.goto(appUrl);
    await page.getByRole('link', { name: 'Sign in with Alias' }).click();
    await page.waitForURL((u) => u.href.startsWith(issuer + '/'));
    if (await page.getByRole('heading', { name: 'Sign in', exact: true }).isVisible()) {
      await page.getByLabel('E-mail').fill(DEMO.email);
      await page.getByLabel('Password').fill(DEMO.password);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    }
    const backAtApp = page.waitForURL((u) => u.href.startsWith(appUrl + '/'));
    const consent = page.getByRole('button', { name: opts.decision ?? 'Allow', exact: true });
    await Promise.race([backAtApp, consent.waitFor()]);
    if (!page.url().startsWith(appUrl + '/')) {
      await consent.click();
      await backAtApp;
    }
  }

  const aliasIdOn = async (page: Page) => (await page.getByTestId('alias-id').textContent())!.trim();
  const userId = async () => (await running.services.store.users.getByEmail(DEMO.email))!.id;

  it('the banner says what to open, how to sign in and what to try', () => {
    const text = banner.join('\n');
    assert.match(text, new RegExp(`open\\s+${app1}\\b`));
    assert.ok(text.includes(`${DEMO.email} / ${DEMO.password}`), text);
    assert.match(text, /Send me a message/);
    assert.ok(text.includes(`${issuer}/account`), 'names the inbox');
    assert.match(text, new RegExp(`compare\\s+${app2}\\b`));
    assert.match(text, /docs\/demo\.md/);
  });

  it('denying consent gets a readable page with a way to try again', async () => {
    const { context: other, page: p } = await openPage(browser);
    const problems = watchCsp(p);
    try {
      await signInThroughApp(p, app1, { decision: 'Deny' });
      await p.getByRole('heading', { name: 'You did not sign in' }).waitFor();
      assert.match(await p.getByRole('alert').innerText(), /You chose not to let Demo app sign you in/);
      await p.getByRole('link', { name: 'Try signing in again' }).waitFor();
      assert.deepEqual(problems, [], NO_CSP_ERRORS);
    } finally {
      await other.close();
    }
  });

  let context: BrowserContext;
  let page: Page;
  let firstId: string;
  it('sign in to the demo app → allow → the app shows the alias ID, nickname, scopes, channels and claims', async () => {
    ({ context, page } = await openPage(browser));
    const problems = watchCsp(page);
    await page.goto(app1);
    await page.getByRole('heading', { name: 'Welcome to Demo app' }).waitFor();
    await signInThroughApp(page, app1);
    await page.getByRole('heading', { name: 'You are signed in with Alias' }).waitFor();
    firstId = await aliasIdOn(page);
    // The oracle: Alias's own pairwise subject for this person at this client.
    assert.equal(firstId, running.services.pairwise('demo-client', await userId()), 'the alias ID is the pairwise sub');
    const facts = await page.locator('dl.facts').innerText();
    assert.match(facts, /Nickname\s+Demo/);
    for (const s of ['openid', 'nickname', 'contact', 'offline_access']) assert.ok(facts.includes(s), `granted scope ${s}:\n${facts}`);
    assert.match(facts, /Granted channels\s+news/);
    const claims = await page.locator('table').innerText();
    assert.match(claims, new RegExp(`iss\\s+${issuer}`));
    assert.match(claims, /aud\s+demo-client/);
    assert.ok(claims.includes(firstId), 'sub among the claims');
    assert.match(claims, /nonce\s+\S+/);
    assert.deepEqual(problems, [], NO_CSP_ERRORS);
  });

  it('"Send me a message" → the relay accepts it → it is in the inbox on /account', async () => {
    assert.ok(page, 'signed in before');
    const subject = `Tour message ${Date.now()}`;
    await page.getByLabel('Subject').fill(subject);
    await page.getByLabel('Message').fill('Delivered to my alias ID, not my address.');
    await page.getByRole('button', { name: 'Send me a message' }).click();
    await page.getByRole('status').filter({ hasText: 'Sent.' }).waitFor();
    await page.getByRole('link', { name: 'Open your inbox on Alias' }).click();
    await page.waitForURL(`${issuer}/account`);
    await page.getByRole('heading', { name: 'Your Alias account' }).waitFor();
    const message = page.locator('article.message').filter({ hasText: subject });
    assert.equal(await message.count(), 1, 'the message is in the inbox once');
    assert.match(await message.innerText(), /Demo app · Product news/);
    assert.match(await message.innerText(), /Delivered to my alias ID, not my address\./);
  });

  it('the second demo app sees a different alias ID for the same person', async () => {
    await signInThroughApp(page, app2);
    await page.getByRole('heading', { name: 'You are signed in with Alias' }).waitFor();
    const secondId = await aliasIdOn(page);
    assert.notEqual(secondId, firstId);
    assert.equal(secondId, running.services.pairwise('demo-client-2', await userId()));
    // Each app keeps its own session although both live on localhost.
    await page.goto(app1);
    assert.equal(await aliasIdOn(page), firstId);
  });

  it('taken back on Alias: a revoked channel is refused with a readable message; a disconnected app signs the person out', async () => {
    const uid = await userId();
    const grant = (await running.services.consent.find(uid, 'demo-client'))!;
    // What the account page's "Revoke" and "Disconnect" buttons do (browser_account tests drive those).
    assert.ok(await running.services.consent.revokeChannel(uid, grant.id, 'news'));
    await page.goto(app1);
    await page.getByLabel('Subject').fill('After revoking');
    await page.getByRole('button', { name: 'Send me a message' }).click();
    assert.match(await page.getByRole('alert').innerText(), /Alias refused: you have not allowed this app to send you messages/);
    assert.equal(await page.getByLabel('Subject').inputValue(), 'After revoking', 'what the person typed is kept');

    assert.ok(await running.services.consent.revokeApp(uid, grant.id));
    await page.getByRole('button', { name: 'Send me a message' }).click();
    await page.getByRole('heading', { name: 'Alias no longer lets this app act for you' }).waitFor();
    await page.goto(app1);
    await page.getByRole('link', { name: 'Sign in with Alias' }).waitFor();
  });

  it('the start page and the demo app\'s pages have no WCAG 2.2 A/AA violations (axe-core), at 1280 and 390 px', async () => {
    for (const viewport of WIDTHS) {
      const { context: other, page: p } = await openPage(browser, { viewport });
      try {
        const seen: Record<string, string[]> = {};
        await p.goto(`${issuer}/`);
        seen['start page'] = await axeViolations(p);
        await p.goto(app1);
        seen['app, signed out'] = await axeViolations(p);
        await signInThroughApp(p, app1);
        await p.getByRole('heading', { name: 'You are signed in with Alias' }).waitFor();
        seen['app, signed in'] = await axeViolations(p);
        await p.getByRole('button', { name: 'Send me a message' }).click();
        await p.getByRole('status').waitFor();
        seen['app, message sent'] = await axeViolations(p);
        await p.goto(`${app1}/callback?code=x&state=unknown`);
        seen['app, error page'] = await axeViolations(p);
        await p.goto(`${issuer}/`);
        seen['start page, signed in'] = await axeViolations(p);
        for (const [name, violations] of Object.entries(seen)) assert.deepEqual(violations, [], `${name} at ${viewport.width} px`);
        // WCAG 2.2 §2.5.8: the app's buttons and button-links are at least 24 px high.
        await p.goto(app1);
        for (const box of await Promise.all((await p.locator('button, a.button').all()).map((b) => b.boundingBox()))) {
          assert.ok(box && box.height >= 24, `a target ${box?.height} px high at ${viewport.width} px`);
        }
      } finally {
        await other.close();
      }
    }
  });

  it('a form without its CSRF token sends nothing and says so', async () => {
    const before = (await running.services.relay.inbox(await userId(), 100)).length;
    const res = await page.request.post(`${app1}/message`, { form: { subject: 'forged', body: 'forged', idempotency_key: 'a'.repeat(24) } });
    assert.equal(res.status(), 403);
    assert.match(await res.text(), /This form has expired/);
    assert.equal((await running.services.relay.inbox(await userId(), 100)).length, before, 'nothing sent');
  });

  it('an answer the app did not ask for (a callback used twice) is a readable page', async () => {
    const { context: other, page: p } = await openPage(browser);
    try {
      const callbacks: string[] = [];
      p.on('request', (r) => { if (r.url().startsWith(`${app1}/callback`)) callbacks.push(r.url()); });
      await signInThroughApp(p, app1);
      await p.getByRole('heading', { name: 'You are signed in with Alias' }).waitFor();
      assert.equal(callbacks.length, 1);
      const again = await p.goto(callbacks[0]!);
      assert.equal(again?.status(), 400);
      await p.getByRole('heading', { name: 'This sign-in is not one we started' }).waitFor();
    } finally {
      await other.close();
    }
  });

  it('a refused code (expired, used) gets a readable page with a way to try again', async () => {
    const { context: other, page: p } = await openPage(browser);
    try {
      // A sign-in started at the app (its cookie lands in this browser), then a code
      // Alias never issued under the state the app sent: refused like an expired one.
      const login = await p.request.get(`${app1}/login`, { maxRedirects: 0 });
      assert.equal(login.status(), 302);
      const sentState = new URL(login.headers().location!).searchParams.get('state');
      assert.ok(sentState, 'the app sent a state');
      const res = await p.goto(`${app1}/callback?code=not-a-real-code&state=${sentState}&iss=${encodeURIComponent(issuer)}`);
      assert.equal(res?.status(), 400);
      await p.getByRole('heading', { name: 'The sign-in took too long' }).waitFor();
      await p.getByRole('link', { name: 'Try signing in again' }).waitFor();
    } finally {
      await other.close();
    }
  });

  it('what Alias sends (the nickname) is shown as text, not markup', async () => {
    const { context: other, page: p } = await openPage(browser);
    const problems = watchCsp(p);
    try {
      await running.services.accounts.setNickname(await userId(), '<b>Bold</b> & "quoted"');
      await signInThroughApp(p, app1);
      await p.getByRole('heading', { name: 'You are signed in with Alias' }).waitFor();
      assert.match(await p.locator('dl.facts').innerText(), /<b>Bold<\/b> & "quoted"/, 'shown as text');
      assert.equal(await p.locator('dl.facts b').count(), 0, 'not as markup');
      assert.deepEqual(problems, [], NO_CSP_ERRORS);
    } finally {
      await running.services.accounts.setNickname(await userId(), DEMO.nickname);
      await other.close();
    }
  });

  after(async () => { await context?.close(); });
});
