// Issue 14 §4 in a real browser (Chromium, 390 px wide): on /account, a new address takes
// effect only once the link mailed to it is opened; the old address then gets a link that
// undoes the change within 7 days, and undoing it ends every session. Links are read out
// of the mails the SMTP sink received.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { databaseKinds } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.js';
import { chromiumMissing, launchChromium, openPage, watchCsp } from '../helpers/chromium.js';

for (const kind of databaseKinds()) {
  describe(`e-mail change in a real browser (${kind.name})`, { skip: chromiumMissing ?? kind.skip }, () => {
    let alias: Alias;
    let smtp: SmtpSink;
    let browser: Browser;

    before(async () => {
      smtp = await startSmtpSink();
      alias = await startAlias(kind, { env: { ALIAS_SMTP_URL: smtp.url } });
      browser = await launchChromium();
    });
    after(async () => {
      await browser?.close();
      await alias?.close();
      await smtp?.close();
    });

    const fits = async (page: Page) => assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 390),
      `${page.url()} fits 390 px`);
    /** The first link to `path` in a mail to `to` whose subject matches. */
    async function linkIn(to: string, subject: RegExp, path: string): Promise<string> {
      const deadline = Date.now() + 10_000;
      for (;;) {
        const mail = smtp.received.find((m) => m.envelope.to.includes(to) && subject.test(m.mail.subject ?? ''));
        const link = mail && new RegExp(`(http://\\S+/${path}/[A-Za-z0-9_-]+)`).exec(mail.mail.text ?? '')?.[1];
        if (link) return link;
        assert.ok(Date.now() < deadline, `a mail to ${to} matching ${subject}`);
        await alias.s.relayWorker.runOnce();
        await new Promise((r) => setTimeout(r, 50));
      }
    }

    it('new address confirmed by its link; the old address undoes it, which signs every browser out', async () => {
      const user = await alias.user();
      const newAddress = `moved-${user.id.slice(0, 8)}@example.net`;
      const { page, context } = await openPage(browser, { viewport: { width: 390, height: 844 } });
      const problems = watchCsp(page);
      try {
        await page.goto(`${alias.issuer}/account`);
        await page.getByLabel('E-mail').fill(user.email);
        await page.getByLabel('Password').fill(user.password);
        await page.getByRole('button', { name: 'Sign in' }).click();
        await page.getByRole('heading', { name: 'Your Alias account' }).waitFor();
        await page.getByLabel('New e-mail address').fill(newAddress);
        await page.getByLabel('Current password', { exact: true }).first().fill(user.password);
        await page.getByRole('button', { name: 'Change e-mail address' }).click();
        await page.getByRole('heading', { name: 'Check your new address' }).waitFor();
        await fits(page);
        assert.equal((await alias.s.accounts.get(user.id))!.email, user.email, 'nothing changes before the link is opened');

        await page.goto(await linkIn(newAddress, /new Alias address/i, 'confirm-email'));
        await page.getByRole('heading', { name: 'Use this address for Alias?' }).waitFor();
        await fits(page);
        await page.getByRole('button', { name: 'Use this address' }).click();
        await page.getByRole('heading', { name: 'Address changed' }).waitFor();
        assert.equal((await alias.s.accounts.get(user.id))!.email, newAddress);

        // The old address got the undo link; opening it ends every session, this one too.
        await page.goto(await linkIn(user.email, /address was changed/i, 'cancel-email-change'));
        await page.getByRole('heading', { name: 'Undo the change of your address?' }).waitFor();
        await page.getByRole('button', { name: 'Undo the change' }).click();
        await page.getByRole('heading', { name: 'Change undone' }).waitFor();
        await fits(page);
        assert.equal((await alias.s.accounts.get(user.id))!.email, user.email);
        await page.goto(`${alias.issuer}/account`);
        await page.getByRole('heading', { name: 'Sign in' }).waitFor();
        assert.deepEqual(problems, [], 'no Content-Security-Policy errors in the console');
      } finally {
        await context.close();
      }
    });
  });
}
