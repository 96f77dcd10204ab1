// Issue 14 §5 in a real browser: download the data export from the account page, then
// delete the account with the typed confirmation.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { Browser } from 'playwright-core';
import { sqlite } from '../helpers/databases.js';
import { startAlias, type Alias } from '../helpers/harness.js';
import { chromiumMissing, launchChromium, openPage, watchCsp } from '../helpers/chromium.js';

describe('your data on the account page in a real browser', { skip: chromiumMissing }, () => {
  let alias: Alias;
  let browser: Browser;

  before(async () => {
    alias = await startAlias(sqlite);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await alias?.close();
  });

  it('downloads the JSON export, then deletes the account after typing the address', async () => {
    // Rule (issue 14 §5): the export is a file download; deletion needs the typed confirmation and works without JavaScript.
    const user = await alias.user();
    const { context, page } = await openPage(browser);
    const problems = watchCsp(page);
    try {
      await page.goto(`${alias.issuer}/account`);
      await page.getByLabel('E-mail').fill(user.email);
      await page.getByLabel('Password').fill(user.password);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Your data' }).waitFor();

      const downloading = page.waitForEvent('download');
      await page.getByRole('link', { name: 'Download your data' }).click();
      const download = await downloading;
      assert.match(download.suggestedFilename(), /^alias-export-\d{4}-\d{2}-\d{2}\.json$/);
      const doc = JSON.parse(await readFile((await download.path())!, 'utf8'));
      assert.equal(doc.profile.email, user.email);

      await page.getByLabel(/Delete your account: type your e-mail address/).fill(user.email);
      await page.getByRole('button', { name: 'Delete my account' }).click();
      await page.getByRole('heading', { name: 'Your account was deleted' }).waitFor();
      assert.equal(await alias.s.store.users.get(user.id), undefined);
      await page.goto(`${alias.issuer}/account`);
      await page.getByRole('button', { name: 'Sign in' }).waitFor();
      assert.deepEqual(problems, [], 'no Content-Security-Policy errors in the console');
    } finally {
      await context.close();
    }
  });
});
