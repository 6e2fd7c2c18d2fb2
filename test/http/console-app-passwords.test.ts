// The account page's app passwords in a real headless Chromium: create one (its password shown
// once, in the flash), see it listed with its last use, revoke it; the password then no longer logs in.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { BrowserContext, Page } from 'playwright-core';
import { browserSkip, launchBrowser } from '../harness/browser.js';
import { startTestPigeon, type TestPigeon } from '../harness/pigeon.js';
import { hashPassword } from '../../src/auth/passwords.js';


describe('admin console: app passwords', { skip: browserSkip }, () => {
  let pigeon: TestPigeon;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    pigeon = await startTestPigeon();
    await pigeon.store.addDomain('example.test');
    await pigeon.store.createAccount({ email: 'root@example.test', passwordHash: await hashPassword('console-pw'), isAdmin: true, adminScope: 'server' });
    await pigeon.store.createAccount({ email: 'ann@example.test', passwordHash: await hashPassword('ann-pw') });
    ({ context, page } = await launchBrowser());
  });

  after(async () => {
    await context?.close();
    await pigeon?.close();
  });

  const login = async (password: string) =>
    (await pigeon.authenticator.authenticate({ username: 'ann@example.test', password, remoteAddress: '192.0.2.60', protocol: 'imap' })).ok;

  test('an admin creates an app password on the account page, sees it once, and revokes it', async () => {
    const base = `https://127.0.0.1:${pigeon.ports['https']}`;
    await page.goto(`${base}/admin/`);
    await page.getByLabel('Email').fill('root@example.test');
    await page.getByLabel('Password').fill('console-pw');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.goto(`${base}/admin/#/accounts/${encodeURIComponent('ann@example.test')}`);
    await page.getByRole('heading', { name: 'ann@example.test' }).waitFor();
    await page.waitForLoadState('networkidle');
    await page.getByText('No app passwords.').waitFor();

    await page.getByLabel('Name').fill('Ann phone');
    await page.getByRole('button', { name: 'Create app password' }).click();
    const flash = page.locator('#flash', { hasText: 'App password "Ann phone"' });
    await flash.waitFor();
    const password = /: ([a-z]{4} [a-z]{4} [a-z]{4} [a-z]{4}) /.exec((await flash.textContent()) ?? '')?.[1];
    assert.ok(password, 'the flash shows the password');
    assert.ok(await login(password));
    await page.locator('tr[data-app-password]', { hasText: 'Ann phone' }).waitFor();
    // Shown once: a fresh load of the page lists it without the password.
    await page.reload();
    await page.locator('tr[data-app-password]', { hasText: 'Ann phone' }).waitFor();
    assert.equal((await page.content()).includes(password), false);

    await page.getByRole('button', { name: 'Revoke app password Ann phone' }).click();
    await page.locator('#flash', { hasText: 'App password "Ann phone" revoked.' }).waitFor();
    await page.getByText('No app passwords.').waitFor();
    assert.equal(await login(password), false);
  });
});
