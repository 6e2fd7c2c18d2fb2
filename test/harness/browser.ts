// Headless Chromium for the console tests: Debian's chromium driven by playwright-core, with the
// flags this machine needs (no background networking: its connections are refused here). With
// CI=true a missing browser is an error (scripts/setup-browser.sh installs it in `npm test`);
// elsewhere the tests skip with the reason.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

const executablePath = '/usr/bin/chromium';
const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
if (!existsSync(executablePath) && process.env['CI'] === 'true') throw new Error(`${executablePath} is missing: scripts/setup-browser.sh could not install chromium`);

/** false, or why the browser tests are skipped. */
export const browserSkip: false | string = existsSync(executablePath) ? false : 'chromium is not installed (run scripts/setup-browser.sh)';

/** A fresh browser profile and its first page; dialogs (confirm) are accepted. */
export async function launchBrowser(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'pigeon-chromium-')), {
    executablePath, headless: true, args: flags, ignoreHTTPSErrors: true, viewport: { width: 1000, height: 800 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.on('dialog', (d) => void d.accept());
  return { context, page };
}
