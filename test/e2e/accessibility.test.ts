// Issue 18 "Accessibility as a test": axe-core (a maintained rule engine, not ours) runs
// in Chromium on every page Alias shows, at desktop width and at 390 px, with the WCAG
// 2.0/2.1/2.2 A and AA rules: zero violations. Each page is reached the way a person
// reaches it (links, forms, mails from the SMTP sink), in its own browser context of one
// shared browser; the two widths reuse the page (a resize, no reload).
//
// Adding a page is one line in PAGES below: a name, how to reach it with the kit `t`,
// and the <h1> that proves the page is there, e.g.
//   { name: 'start page', open: (t) => t.goto('/'), heading: 'Alias' },
//   { name: 'TOTP set-up', open: async (t) => { await t.signIn(); await t.goto('/account/totp'); }, heading: /authenticator/ },
// Violations print as "page @ width (path): [impact] rule: help", the rule's URL, then
// each element (selector, HTML, what to fix). docs/accessibility.md has the details.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Browser, Page } from 'playwright-core';
import * as OTPAuth from 'otpauth';
import { sqlite } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.js';
import { chromiumMissing, launchChromium, openPage, startCallbacks, watchCsp, type Callbacks } from '../helpers/chromium.js';

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
/** WCAG 2.0, 2.1 and 2.2, levels A and AA (axe-core's tags). */
const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a', 'wcag22aa'];
const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** What a page entry gets to reach its page: the browser page and short-cuts over Alias's real surface. */
interface Kit {
  page: Page;
  alias: Alias;
  /** A verified account with two connected apps (six Revoke buttons), two inbox messages and two sessions. */
  user: { email: string; password: string };
  /** Opens a path on Alias. */
  goto(path: string): Promise<void>;
  /** Signs in on /account with the form (default: `user`). */
  signIn(who?: { email: string; password: string }): Promise<void>;
  /** Opens an authorization request of the app "Newsy" (openid nickname contact offline_access, channels news tips). */
  authorize(extra?: Record<string, string>): Promise<void>;
  /** Clicks the button or link with this accessible name. */
  click(name: string | RegExp): Promise<void>;
  fill(label: string | RegExp, value: string): Promise<void>;
  /** The newest link to /`path`/TOKEN in a mail to `to` (waits for the mail). */
  mailLink(to: string, path: string): Promise<string>;
  /** A new account; unverified ones see the "confirm your address" page. */
  newUser(opts?: { verified?: boolean }): Promise<{ email: string; password: string }>;
  /** The client_id of a seeded app ("Newsy", "Recipe box", "Living-room TV"). */
  clientId(name: string): string;
  /** A URL on the test's own client web server (the redirect URI is `/cb`). */
  callback(path: string): string;
  /** A device authorization request of the app "Living-room TV" (RFC 8628 §3.2): its user code. */
  deviceCode(): Promise<string>;
}

interface PageCase {
  name: string;
  open(t: Kit): Promise<unknown>;
  /** The heading (h1) that shows the page was reached. */
  heading: string | RegExp;
}

// Every page, one line each. Pages of later features join here.
const PAGES: PageCase[] = [
  { name: 'start page (signed out)', open: (t) => t.goto('/'), heading: /without giving them your e-mail address/ },
  { name: 'start page (signed in)', open: async (t) => { await t.signIn(); await t.goto('/'); }, heading: /without giving them your e-mail address/ },
  { name: 'sign-in (authorization request)', open: (t) => t.authorize(), heading: 'Sign in' },
  { name: 'sign-in with an error', open: async (t) => { await t.authorize(); await t.fill('E-mail', t.user.email); await t.fill('Password', 'wrong password'); await t.click('Sign in'); await t.page.getByRole('alert').waitFor(); }, heading: 'Sign in' },
  { name: 'consent with channels', open: async (t) => { await t.signIn(await t.newUser()); await t.authorize(); }, heading: /Newsy wants to/ },
  { name: 'choose an account (prompt=select_account)', open: async (t) => { await t.signIn(); await t.authorize({ prompt: 'select_account' }); }, heading: 'Choose an account' },
  { name: 'account (apps, inbox, sessions)', open: (t) => t.signIn(), heading: 'Your Alias account' },
  { name: 'account after a revocation (status notice)', open: async (t) => { await t.signIn(await richUser(t)); await t.click(/^Revoke.*Weekly tips/); await t.page.getByRole('status').waitFor(); }, heading: 'Your Alias account' },
  { name: 'device code entry', open: async (t) => t.goto('/device'), heading: 'Connect a device' },
  { name: 'device code entry with an error', open: async (t) => { await t.goto('/device'); await t.fill('Code', 'BBBB-BBBB'); await t.click('Continue'); await t.page.getByRole('alert').waitFor(); }, heading: 'Connect a device' },
  { name: 'device sign-in', open: async (t) => { await t.goto(`/device?user_code=${await t.deviceCode()}`); await t.click('Continue'); }, heading: 'Sign in' },
  { name: 'device consent', open: async (t) => { await t.signIn(); await t.goto(`/device?user_code=${await t.deviceCode()}`); await t.click('Continue'); }, heading: /Living-room TV wants to/ },
  { name: 'device connected', open: async (t) => { await t.signIn(); await t.goto(`/device?user_code=${await t.deviceCode()}`); await t.click('Continue'); await t.click('Allow'); }, heading: 'Device connected' },
  { name: 'error page (unknown client_id)', open: (t) => t.goto('/oauth2/authorize?response_type=code&client_id=nobody&scope=openid'), heading: /./ },
  { name: 'logout confirmation', open: async (t) => { await t.signIn(); await t.goto('/oauth2/logout'); }, heading: 'Sign out of Alias?' },
  { name: 'signed out', open: async (t) => { await t.signIn(); await t.goto('/oauth2/logout'); await t.click(/^Sign out$/); }, heading: 'You are signed out' },
  { name: 'sign-up with errors', open: async (t) => { await t.goto('/signup'); await t.fill('E-mail', 'not an address'); await t.fill('Password', 'password'); await t.click('Create account'); await t.page.locator('#password-error').waitFor(); }, heading: 'Create an account' },
  { name: 'sign-up: check your mail', open: async (t) => { await t.goto('/signup'); await t.fill('E-mail', `new-${Date.now()}@example.com`); await t.fill('Password', 'marble kettle orchard 7'); await t.click('Create account'); }, heading: 'Check your mail' },
  { name: 'verify-email pending (confirm your address)', open: async (t) => { await t.authorize(); const u = await t.newUser({ verified: false }); await t.fill('E-mail', u.email); await t.fill('Password', u.password); await t.click('Sign in'); }, heading: 'Confirm your address' },
  { name: 'address confirmed', open: async (t) => { const email = `confirm-${Date.now()}@example.com`; await t.goto('/signup'); await t.fill('E-mail', email); await t.fill('Password', 'marble kettle orchard 7'); await t.click('Create account'); await t.page.goto(await t.mailLink(email, 'verify-email')); }, heading: 'Your address is confirmed' },
  { name: 'forgot password', open: (t) => t.goto('/forgot'), heading: 'Forgot your password?' },
  { name: 'forgot password: sent', open: async (t) => { await t.goto('/forgot'); await t.fill('E-mail', t.user.email); await t.click('Mail me a link'); await t.page.getByRole('status').waitFor(); }, heading: 'Forgot your password?' },
  { name: 'reset password with an error', open: async (t) => { const u = await t.newUser(); await t.goto('/forgot'); await t.fill('E-mail', u.email); await t.click('Mail me a link'); await t.page.goto(await t.mailLink(u.email, 'reset')); await t.fill(/New password/, 'password1'); await t.click('Set new password'); await t.page.locator('#password-error').waitFor(); }, heading: 'Choose a new password' },
  { name: 'e-mail change with errors', open: async (t) => { await t.signIn(); await t.fill('New e-mail address', 'moved@example.net'); await t.page.locator('#email_password').fill('wrong password'); await t.click('Change e-mail address'); }, heading: 'Change your e-mail address' },
  { name: 'e-mail change: check your new address', open: async (t) => { const u = await t.newUser(); await t.signIn(u); await t.fill('New e-mail address', `moved-${Date.now()}@example.net`); await t.page.locator('#email_password').fill(u.password); await t.click('Change e-mail address'); }, heading: 'Check your new address' },
  { name: 'e-mail change: confirm the new address (mail link)', open: async (t) => { const u = await t.newUser(); const to = `moved-${Date.now()}@example.net`; await t.signIn(u); await t.fill('New e-mail address', to); await t.page.locator('#email_password').fill(u.password); await t.click('Change e-mail address'); await t.page.goto(await t.mailLink(to, 'confirm-email')); }, heading: 'Use this address for Alias?' },
  { name: 're-authentication (before export) with an error', open: async (t) => { await t.signIn(); await t.goto('/account/reauth?next=/account/export'); await t.fill('Password', 'wrong password'); await t.click('Continue'); await t.page.getByRole('alert').waitFor(); }, heading: 'Confirm it’s you' },
  { name: 'delete account with an error', open: async (t) => { await t.signIn(); await t.goto('/account/delete'); await t.fill(/To confirm/, 'someone@else.example'); await t.click('Delete my account'); await t.page.getByRole('alert').waitFor(); }, heading: 'Delete your account' },
  { name: 'account deleted', open: async (t) => { const u = await t.newUser(); await t.signIn(u); await t.goto('/account/delete'); await t.fill(/To confirm/, u.email); await t.click('Delete my account'); }, heading: 'Your account was deleted' },
  { name: 'two-step sign-in: set up an authenticator app, with an error', open: async (t) => { await t.signIn(await t.newUser()); await t.goto('/account/totp'); await t.fill('Code from the app', '000000'); await t.click('Turn on two-step sign-in'); await t.page.getByRole('alert').waitFor(); }, heading: 'Set up an authenticator app' },
  { name: 'two-step sign-in: recovery codes, then manage', open: async (t) => { await t.signIn(await t.newUser()); await t.goto('/account/totp'); const key = await t.page.locator('#secret').inputValue(); await t.fill('Code from the app', totpNow(t, key)); await t.click('Turn on two-step sign-in'); await t.page.locator('.recovery-codes').waitFor(); }, heading: 'Two-step sign-in is on' },
  { name: 'two-step sign-in: the second page (code), with an error', open: async (t) => { const u = await t.newUser(); await totpFor(t, u.email); await t.authorize(); await t.fill('E-mail', u.email); await t.fill('Password', u.password); await t.click('Sign in'); await t.fill('Code', '000000'); await t.click('Continue'); await t.page.getByRole('alert').waitFor(); }, heading: 'Two-step sign-in' },
  { name: 'two-step sign-in needed (app requires it)', open: async (t) => { await t.signIn(await t.newUser()); await t.authorize({ claims: JSON.stringify({ id_token: { acr: { essential: true, values: ['urn:alias:acr:mfa'] } } }) }); }, heading: 'Two-step sign-in needed' },
  { name: 'step-up with a passkey (acr_values, no authenticator app)', open: async (t) => { const u = await t.newUser(); await passkeyFor(t, u.email); await t.authorize({ acr_values: 'urn:alias:acr:mfa' }); await t.fill('E-mail', u.email); await t.fill('Password', u.password); await t.click('Sign in'); await t.page.locator('#passkey-step-up').waitFor(); }, heading: 'Two-step sign-in' },
  { name: 'step-up with a passkey or a code', open: async (t) => { const u = await t.newUser(); await t.signIn(u); await passkeyFor(t, u.email); await totpFor(t, u.email); await t.authorize({ acr_values: 'urn:alias:acr:mfa' }); await t.page.locator('#passkey-step-up').waitFor(); }, heading: 'Two-step sign-in' },
  { name: 're-authentication with a password or a passkey', open: async (t) => { const u = await t.newUser(); await passkeyFor(t, u.email); await t.signIn(u); await t.goto('/account/reauth?next=/account'); await t.page.locator('#passkey-reauth').waitFor(); }, heading: 'Confirm it’s you' },
  { name: 'account without a password (passkeys only)', open: async (t) => { const u = await t.newUser(); await passkeyFor(t, u.email); await t.signIn(u); await dropPassword(t, u.email); await t.goto('/account'); }, heading: 'Your Alias account' },
  { name: 're-authentication without a password (passkey only)', open: async (t) => { const u = await t.newUser(); await passkeyFor(t, u.email); await t.signIn(u); await dropPassword(t, u.email); await t.goto('/account/reauth?next=/account'); await t.page.locator('#passkey-reauth').waitFor(); }, heading: 'Confirm it’s you' },
  { name: 'sign-up with a passkey: check your mail', open: (t) => t.goto('/signup/sent'), heading: 'Check your mail' },
  { name: 'sign-in after a reset link added a passkey (status notice)', open: (t) => t.goto('/account?reset=passkey'), heading: 'Sign in' },
  { name: 'unsubscribe (relayed mail link)', open: async (t) => t.page.goto(await t.mailLink(t.user.email, 'unsubscribe')), heading: 'Stop these messages?' },
];

/** The code an authenticator app shows now for `key` (issue 15 pages). */
const totpNow = (t: Kit, key: string) => new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(key) }).generate({ timestamp: t.alias.s.now() });
/** Turns TOTP on for an account directly in the store (its second sign-in page is what is checked). */
async function totpFor(t: Kit, email: string) {
  const u = (await t.alias.s.store.users.getByEmail(email))!;
  await t.alias.s.store.secondFactors.insertTotp({ userId: u.id, secretSealed: t.alias.s.secrets.seal('JBSWY3DPEHPK3PXP', 'totp-secrets'), lastStep: 0, createdAt: t.alias.s.now() });
}

/** A passkey for an account, straight into the store (the pages that offer it are what is checked). */
async function passkeyFor(t: Kit, email: string) {
  const u = (await t.alias.s.store.users.getByEmail(email))!;
  await t.alias.s.store.passkeys.insert({ id: randomBytes(16).toString('hex'), userId: u.id, credentialId: randomBytes(16).toString('base64url'),
    publicKey: 'AA', counter: 0, transports: ['internal'], backupEligible: false, backupState: false, deviceType: 'singleDevice',
    name: 'Laptop', createdAt: t.alias.s.now(), lastUsedAt: null });
}
/** Makes an account passkey-only, as a sign-up with a passkey leaves it. */
async function dropPassword(t: Kit, email: string) {
  const u = (await t.alias.s.store.users.getByEmail(email))!;
  await t.alias.s.store.users.update({ ...u, passwordHash: null });
}

/** An account like `user`, for a page that changes what it shows (a revocation). */
async function richUser(t: Kit) {
  const u = await t.newUser();
  await seedAccount(t.alias, u);
  return u;
}

let newsy: { id: string; secret: string };
let recipes: { id: string; secret: string };
let tv: { id: string; secret: string };
let redirectUri = '';

/** Connected apps (Newsy: every scope, two channels; Recipe box: nickname) and a message on each Newsy channel. */
async function seedAccount(alias: Alias, who: { email: string }) {
  const user = (await alias.s.store.users.getByEmail(who.email))!;
  const grant = await alias.s.consent.record({ userId: user.id, clientId: newsy.id,
    requestedScopes: ['openid', 'nickname', 'contact', 'offline_access'], requestedChannels: ['news', 'tips'],
    approvedScopes: ['openid', 'nickname', 'contact', 'offline_access'], approvedChannels: ['news', 'tips'] });
  await alias.s.consent.record({ userId: user.id, clientId: recipes.id, requestedScopes: ['openid', 'nickname'], requestedChannels: [],
    approvedScopes: ['openid', 'nickname'], approvedChannels: [] });
  for (const [channel, subject] of [['news', 'Our spring issue'], ['tips', 'Tip: fold the egg whites gently']]) {
    // Through the relay's HTTP surface, as the app would send it.
    const res = await fetch(`${alias.issuer}/api/v1/messages`, { method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic ' + Buffer.from(`${newsy.id}:${newsy.secret}`).toString('base64') },
      body: JSON.stringify({ to: grant.sub, channel, subject, body: `Hello,\n\n${subject}.\n\nNewsy` }) });
    assert.equal(res.status, 202, `the relay accepts the seed message: ${res.status}`);
  }
}

/** Readable violations: one block per rule, with the elements and axe's advice. */
interface AxeNode { target: unknown[]; html: string; failureSummary?: string }
interface AxeViolation { id: string; impact: string | null; help: string; helpUrl: string; nodes: AxeNode[] }
function formatViolations(where: string, violations: AxeViolation[]): string {
  return violations.map((v) => [
    `${where}: [${v.impact ?? 'n/a'}] ${v.id}: ${v.help}`,
    `  ${v.helpUrl}`,
    ...v.nodes.flatMap((n) => [
      `  - ${n.target.map(String).join(' ')}`,
      `    ${n.html.replace(/\s+/g, ' ').slice(0, 200)}`,
      ...(n.failureSummary ?? '').split('\n').map((l) => `    ${l}`),
    ]),
  ].join('\n')).join('\n\n');
}

/** axe-core over the whole document with the WCAG A/AA rules; the violations. */
async function axe(page: Page): Promise<AxeViolation[]> {
  // Injected through the DevTools protocol (page.evaluate), which the pages' CSP
  // (script-src 'self') does not govern, so the pages are tested under their real policy.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async (tags) => {
    const w = window as unknown as { axe: { run(ctx: unknown, o: unknown): Promise<{ violations: unknown[] }> } };
    const result = await w.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
    return result.violations;
  }, WCAG_TAGS) as Promise<AxeViolation[]>;
}

describe('accessibility: axe-core WCAG 2.2 A/AA on every page, desktop and 390 px', { skip: chromiumMissing }, () => {
  let alias: Alias;
  let smtp: SmtpSink;
  let browser: Browser;
  let callbacks: Callbacks;
  let user: { email: string; password: string };
  let counter = 0;

  before(async () => {
    callbacks = await startCallbacks('127.0.0.1');
    smtp = await startSmtpSink();
    alias = await startAlias(sqlite, { env: { ALIAS_SMTP_URL: smtp.url } });
    redirectUri = callbacks.url('/cb');
    const made = (c: { client: { id: string }; secret?: string }) => ({ id: c.client.id, secret: c.secret! });
    newsy = made(await alias.client({ name: 'Newsy', redirectUris: [redirectUri], grantTypes: ['authorization_code', 'refresh_token'],
      channels: ['news:Product news', 'tips:Weekly tips'] }));
    recipes = made(await alias.client({ name: 'Recipe box', redirectUris: [redirectUri] }));
    tv = made(await alias.client({ name: 'Living-room TV', redirectUris: [], grantTypes: ['urn:ietf:params:oauth:grant-type:device_code'],
      channels: ['news:Product news'] }));
    user = await alias.user({ nickname: 'Bea' });
    await seedAccount(alias, user);
    browser = await launchChromium();
    // A second session of the same account (another browser): a list of sessions on the account page has two to show.
    const other = await openPage(browser);
    await kit(other.page).signIn(user);
    await other.context.close();
  });
  after(async () => {
    await browser?.close();
    await alias?.close();
    await smtp?.close();
    await callbacks?.close();
  });

  function kit(page: Page): Kit {
    const t: Kit = {
      page, alias,
      get user() { return user; },
      async goto(path) { await page.goto(alias.issuer + path); },
      async signIn(who = user) {
        await t.goto('/account');
        await t.fill('E-mail', who.email);
        await t.fill('Password', who.password);
        await t.click('Sign in');
        await page.getByRole('heading', { name: 'Your Alias account' }).waitFor();
      },
      async authorize(extra = {}) {
        const url = new URL('/oauth2/authorize', alias.issuer);
        url.search = new URLSearchParams({ response_type: 'code', client_id: newsy.id, redirect_uri: redirectUri,
          scope: 'openid nickname contact offline_access', channels: 'news tips', state: `st-${++counter}`, ...extra }).toString();
        await page.goto(url.href);
      },
      async click(name) {
        await page.getByRole('button', { name }).or(page.getByRole('link', { name })).first().click();
      },
      async fill(label, value) { await page.getByLabel(label).first().fill(value); },
      async mailLink(to, path) {
        const pattern = new RegExp(`https?://\\S+/${path}/[A-Za-z0-9_.-]+`);
        const deadline = Date.now() + 10_000;
        for (;;) {
          const mail = [...smtp.received].reverse().find((m) => m.envelope.to.includes(to) && pattern.test(m.mail.text ?? ''));
          if (mail) return pattern.exec(mail.mail.text!)![0].replace(/\.$/, '');
          assert.ok(Date.now() < deadline, `a mail to ${to} with a /${path}/ link`);
          alias.s.accountMail.kick();
          await alias.s.relayWorker.runOnce();
          await new Promise((r) => setTimeout(r, 50));
        }
      },
      async newUser(opts = {}) {
        const password = 'correct horse battery staple';
        const email = `a11y-${++counter}-${Date.now()}@example.com`;
        await alias.s.accounts.create({ email, password, nickname: 'Kit', emailVerified: opts.verified ?? true });
        return { email, password };
      },
      clientId(name) {
        const apps: Record<string, { id: string }> = { Newsy: newsy, 'Recipe box': recipes, 'Living-room TV': tv };
        return apps[name]!.id;
      },
      callback: (path) => callbacks.url(path),
      async deviceCode() {
        const res = await fetch(`${alias.issuer}/api/oauth2/device_authorization`, { method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: 'Basic ' + Buffer.from(`${tv.id}:${tv.secret}`).toString('base64') },
          body: new URLSearchParams({ scope: 'openid nickname contact', channels: 'news' }) });
        const body = await res.text();
        assert.equal(res.status, 200, body);
        return (JSON.parse(body) as { user_code: string }).user_code;
      },
    };
    return t;
  }

  it('the check can fail: axe reports a page with known violations, readably', async () => {
    const { context, page } = await openPage(browser, { viewport: DESKTOP });
    try {
      await page.setContent('<!doctype html><html lang="en"><title>Bad</title><main><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><button></button></main></html>');
      const violations = await axe(page);
      const ids = violations.map((v) => v.id);
      assert.ok(ids.includes('image-alt') && ids.includes('button-name'), `axe found ${ids.join(', ')}`);
      const text = formatViolations('bad page @ 1280 px', violations);
      assert.match(text, /bad page @ 1280 px: \[critical\] button-name: /);
      assert.match(text, /- button\n\s+<button><\/button>/, 'the element and its HTML are named');
    } finally {
      await context.close();
    }
  });

  it('issue 18 item 3: on the consent page a permission\'s text flows as one paragraph (desktop and 390 px); the channel legend reads plainly', async () => {
    const { context, page } = await openPage(browser, { viewport: DESKTOP });
    try {
      const t = kit(page);
      await t.signIn(await t.newUser());
      await t.authorize();
      await page.getByRole('heading', { name: /Newsy wants to/ }).waitFor();
      for (const size of [DESKTOP, PHONE]) {
        await page.setViewportSize(size);
        const items = await page.evaluate(() => [...document.querySelectorAll('ul.permissions li:has(> strong)')].map((li) => {
          const strong = li.querySelector('strong')!;
          const left = li.getBoundingClientRect().left;
          // The line fragments of the bold text and of the text after it (one rect per line).
          // (No named helper: tsx would wrap it in a __name() call the page does not have.)
          const [bold, rest] = [strong.firstChild!, strong.nextSibling!].map((node) => {
            const range = document.createRange();
            range.selectNodeContents(node);
            return [...range.getClientRects()].filter((r) => r.width > 0);
          }) as [DOMRect[], DOMRect[]];
          const last = bold[bold.length - 1]!;
          return { text: strong.textContent!, strongLines: bold.length,
            // Wrapped lines of the text after the <strong> start at the item's left edge, not in a column beside it.
            indented: rest.slice(1).filter((r) => r.left - left > 1).length,
            // …and the text continues on the <strong>'s last line.
            sameLine: rest[0]!.top < last.bottom && rest[0]!.bottom > last.top };
        }));
        assert.equal(items.length, 2, 'the openid line and the notices line');
        for (const item of items) {
          assert.equal(item.indented, 0, `"${item.text}…" @ ${size.width} px: the text after it wraps to the item's left edge, not into a column`);
        }
        const signIn = items.find((i) => i.text === 'Sign you in')!;
        assert.equal(signIn.strongLines, 1, `"Sign you in" @ ${size.width} px stays on one line`);
        assert.ok(signIn.sameLine, `"Sign you in" @ ${size.width} px: "with an alias ID…" continues on its line`);
      }
      const legend = await page.locator('legend').innerText();
      assert.equal(legend, 'Messages Newsy may send you');
      assert.doesNotMatch(await page.locator('fieldset').innerText(), /\([^)]*\(/, 'no parentheses inside parentheses');
    } finally {
      await context.close();
    }
  });

  it('issue 18 item 4: on the account page at 390 px every button is at least 24 × 24 px (WCAG 2.2 §2.5.8), each Revoke names what it revokes, the nickname label reads plainly', async () => {
    const { context, page } = await openPage(browser, { viewport: PHONE });
    try {
      const t = kit(page);
      await t.signIn(await richUser(t));
      const buttons = page.locator('main button');
      const count = await buttons.count();
      assert.ok(count >= 10, `the account page has its buttons (${count})`);
      for (let i = 0; i < count; i++) {
        const box = (await buttons.nth(i).boundingBox())!;
        const label = (await buttons.nth(i).innerText()).trim();
        assert.ok(box.height >= 24 && box.width >= 24, `"${label}" is ${box.width.toFixed(1)} × ${box.height.toFixed(1)} px`);
      }
      // Accessible names as Playwright computes them (the accname algorithm), not our markup.
      const snapshot = await page.locator('main').ariaSnapshot();
      const revokes = [...snapshot.matchAll(/- button "(Revoke[^"]*)"/g)].map((m) => m[1]!);
      assert.equal(revokes.length, 6, `six Revoke buttons (Newsy: nickname, contact, offline_access, news, tips; Recipe box: nickname):\n${snapshot}`);
      assert.equal(new Set(revokes).size, revokes.length, `every Revoke button has its own name: ${revokes.join(' | ')}`);
      assert.ok(revokes.includes('Revoke “See your nickname” from Recipe box'), revokes.join(' | '));
      assert.ok(revokes.includes('Revoke messages “Weekly tips” from Newsy'), revokes.join(' | '));
      assert.equal(await page.locator('label[for=nickname]').innerText(), 'Nickname (shown only to apps you allow to see it)');
      await page.getByRole('button', { name: 'Revoke “See your nickname” from Recipe box' }).click();
      await page.getByRole('status').waitFor();
      assert.doesNotMatch(await page.locator('main').ariaSnapshot(), /from Recipe box/, 'that button revoked that permission');
    } finally {
      await context.close();
    }
  });

  it('keyboard only (Tab, Space, Enter): sign-in and consent reach the redirect, and focus is always visible', async () => {
    const { context, page } = await openPage(browser, { viewport: DESKTOP });
    const problems = watchCsp(page);
    try {
      const t = kit(page);
      const who = await t.newUser();
      await t.authorize({ state: 'keyboard' });
      await page.getByRole('heading', { name: 'Sign in' }).waitFor();
      const seen: string[] = [];
      /** Tabs until the focused element matches `selector`; every stop must show a focus ring (WCAG 2.4.7). */
      const tabTo = async (selector: string) => {
        for (let i = 0; i < 30; i++) {
          await page.keyboard.press('Tab');
          const f = await page.evaluate((sel) => {
            const el = document.activeElement as HTMLElement;
            const cs = getComputedStyle(el);
            return { what: `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} "${(el.innerText || el.getAttribute('value') || '').trim().slice(0, 30)}"`,
              visible: el !== document.body && el.matches(':focus-visible')
                && ((cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) || cs.boxShadow !== 'none'),
              outline: `${cs.outlineStyle} ${cs.outlineWidth} ${cs.outlineColor}`, done: el.matches(sel) };
          }, selector);
          seen.push(f.what);
          assert.ok(f.visible, `focus on ${f.what} shows a ring (outline: ${f.outline})`);
          if (f.done) return;
        }
        assert.fail(`Tab never reached ${selector}; focus went: ${seen.join(' → ')}`);
      };
      await tabTo('#email');
      await page.keyboard.type(who.email);
      await tabTo('#password');
      await page.keyboard.type(who.password);
      await tabTo('button[type=submit]');
      await page.keyboard.press('Enter');

      await page.getByRole('heading', { name: /Newsy wants to/ }).waitFor();
      await tabTo('#scope-nickname');
      await page.keyboard.press('Space');
      assert.equal(await page.locator('#scope-nickname').isChecked(), false, 'Space unticks the checkbox');
      await tabTo('button[value=allow]');
      const arrival = callbacks.next('/cb');
      await page.keyboard.press('Enter');
      const got = await arrival;
      assert.ok(got, 'the browser reached the redirect URI');
      assert.equal(got.query.get('state'), 'keyboard');
      assert.ok(got.query.get('code'), 'with a code');
      const account = (await alias.s.store.users.getByEmail(who.email))!;
      const grant = (await alias.s.consent.find(account.id, newsy.id))!;
      assert.deepEqual([...grant.scopes].sort(), ['contact', 'offline_access', 'openid'], 'the unticked nickname was not granted');
      assert.deepEqual(problems, []);
    } finally {
      await context.close();
    }
  });

  for (const c of PAGES) {
    it(c.name, async () => {
      const { context, page } = await openPage(browser, { viewport: DESKTOP });
      const problems = watchCsp(page);
      try {
        await c.open(kit(page));
        await page.getByRole('heading', { level: 1, name: c.heading }).waitFor();
        const report: string[] = [];
        for (const size of [DESKTOP, PHONE]) {
          await page.setViewportSize(size);
          const where = `${c.name} @ ${size.width} px (${new URL(page.url()).pathname})`;
          report.push(formatViolations(where, await axe(page)));
          // WCAG 1.4.10 (reflow): nothing scrolls sideways at the phone width.
          if (size === PHONE) {
            const wide = await page.evaluate(() => document.documentElement.scrollWidth);
            if (wide > size.width) report.push(`${where}: the page is ${wide} px wide and scrolls sideways`);
          }
        }
        const failures = report.filter(Boolean);
        assert.equal(failures.length, 0, `accessibility violations:\n\n${failures.join('\n\n')}\n`);
        assert.deepEqual(problems, [], 'no Content-Security-Policy errors in the console');
      } finally {
        await context.close();
      }
    });
  }
});
