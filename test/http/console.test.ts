// The admin console in a real headless Chromium (Debian's /usr/bin/chromium, installed by
// scripts/setup-browser.sh) against a whole Pigeon on ephemeral ports. Each test saves a
// screenshot under test-output/screenshots/.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join, resolve } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { browserSkip, launchBrowser } from '../harness/browser.js';
import { startTestPigeon, type TestPigeon } from '../harness/pigeon.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { credentialFingerprint } from '../../src/push/relay.js';

const screenshots = resolve('test-output/screenshots');

/** One SMTP reply (RFC 5321 §4.2: "250-…" lines then "250 …"). */
class SmtpProbe {
  #socket: Socket;
  #buffer = '';
  #waiters: Array<() => void> = [];

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.#buffer += chunk;
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  static open(port: number, localAddress: string): Promise<SmtpProbe> {
    return new Promise((resolvePromise, reject) => {
      const socket = connect({ host: '127.0.0.1', port, localAddress }, () => resolvePromise(new SmtpProbe(socket)));
      socket.once('error', reject);
    });
  }

  async reply(): Promise<string> {
    for (;;) {
      const lines = this.#buffer.split('\r\n');
      const end = lines.findIndex((l) => /^\d{3} /.test(l) || /^\d{3}$/.test(l));
      if (end >= 0) {
        this.#buffer = lines.slice(end + 1).join('\r\n');
        return lines.slice(0, end + 1).join('\n');
      }
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  async command(line: string): Promise<string> {
    this.#socket.write(`${line}\r\n`);
    return this.reply();
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** The reply to RCPT TO for a remote address, from a client at 127.0.0.2. */
async function relayProbe(port: number): Promise<string> {
  const smtp = await SmtpProbe.open(port, '127.0.0.2');
  try {
    assert.match(await smtp.reply(), /^220 /);
    assert.match(await smtp.command('EHLO probe.example'), /^250/m);
    assert.match(await smtp.command('MAIL FROM:<ann@shop.example>'), /^250 /);
    return await smtp.command('RCPT TO:<friend@remote.example>');
  } finally {
    smtp.close();
  }
}

/** The console renders a screen, then again when its data arrives: wait for that before typing. */
async function settledOn(p: Page): Promise<void> {
  await p.waitForLoadState('networkidle');
}

describe('admin console in Chromium', { skip: browserSkip }, () => {
  let pigeon: TestPigeon;
  let context: BrowserContext;
  let page: Page;
  let base: string;

  const shot = async (name: string) => {
    await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
  };

  before(async () => {
    mkdirSync(screenshots, { recursive: true });
    pigeon = await startTestPigeon();
    await pigeon.store.addDomain('example.test');
    await pigeon.store.createAccount({ email: 'root@example.test', passwordHash: await hashPassword('console-pw'), isAdmin: true, adminScope: 'server' });
    base = `https://127.0.0.1:${pigeon.ports['https']}`;
    ({ context, page } = await launchBrowser());
  });

  after(async () => {
    await context?.close();
    await pigeon?.close();
  });

  test('an admin signs in and sees the dashboard', async () => {
    await page.goto(`${base}/admin/`);
    await page.getByLabel('Email').fill('root@example.test');
    await page.getByLabel('Password').fill('wrong');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#flash', { hasText: 'wrong address or password' }).waitFor();
    await page.getByLabel('Password').fill('console-pw');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.getByText('root@example.test (server admin)').waitFor();
    await page.getByRole('cell', { name: `127.0.0.1:${pigeon.ports['imaps']}` }).waitFor();
    await page.getByText('self-signed').waitFor();
    await shot('dashboard');
  });

  test('a domain is added and shows its push integration values', async () => {
    await page.getByRole('link', { name: 'Domains' }).click();
    await settledOn(page);
    await page.getByLabel('New domain').fill('Shop.Example');
    await page.getByRole('button', { name: 'Add domain' }).click();
    await page.getByRole('link', { name: 'shop.example' }).click();
    await settledOn(page);
    await page.getByRole('heading', { name: 'shop.example' }).waitFor();
    assert.equal(await page.locator('#subscribe-url').textContent(), `https://mail.example.test:${pigeon.ports['https']}/push/v1/shop.example/subscriptions`);
    assert.equal(await page.locator('#smtp-server').textContent(), `mail.example.test:${pigeon.ports['submissions']}`);
    await page.getByLabel('Push integration enabled').check();
    await page.getByRole('button', { name: 'Save options' }).click();
    await page.locator('#flash', { hasText: 'Options saved.' }).waitFor();
    assert.equal((await pigeon.store.getDomain('shop.example'))?.settings.pushEnabled, true);
    await shot('domain');
  });

  test('an account is added with a quota', async () => {
    await page.getByRole('link', { name: 'Accounts', exact: true }).click();
    await settledOn(page);
    await page.getByLabel('Address').fill('ann@shop.example');
    await page.getByLabel('Password').fill('ann-pw');
    await page.getByLabel('Quota').fill('500M');
    await page.getByRole('button', { name: 'Add account' }).click();
    await page.getByRole('link', { name: 'ann@shop.example' }).waitFor();
    const ann = await pigeon.store.getAccountByEmail('ann@shop.example');
    assert.equal(ann?.quota, 500 * 1024 * 1024);
    await shot('accounts');
  });

  test('an account gets an alias and a new password on its own page', async () => {
    await page.getByRole('link', { name: 'ann@shop.example' }).click();
    await settledOn(page);
    await page.getByRole('heading', { name: 'ann@shop.example' }).waitFor();
    await page.getByLabel('Alias address').fill('sales@shop.example');
    await page.getByRole('button', { name: 'Add alias' }).click();
    await page.getByRole('cell', { name: 'sales@shop.example', exact: true }).waitFor();
    assert.deepEqual((await pigeon.store.getAlias('sales@shop.example'))?.targets, ['ann@shop.example']);
    await page.getByLabel('New password').fill('ann-new-pw');
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.locator('#flash', { hasText: 'Password changed.' }).waitFor();
    const login = await pigeon.authenticator.authenticate({ username: 'ann@shop.example', password: 'ann-new-pw', remoteAddress: '127.0.0.1', protocol: 'imap' });
    assert.equal(login.ok, true);
    await shot('account');
  });

  test('adding a My Networks range turns refused relaying into accepted', async () => {
    assert.match(await relayProbe(pigeon.ports['smtp']!), /^554 5\.7\.1 /);
    await page.getByRole('link', { name: 'System configuration' }).click();
    await settledOn(page);
    await page.getByText('Relay host').waitFor();
    await page.getByLabel('Address or range').fill('127.0.0.2');
    await page.getByLabel('Note').fill('test client');
    await page.getByRole('button', { name: 'Add network' }).click();
    await page.getByRole('cell', { name: '127.0.0.2/32', exact: true }).waitFor();
    assert.match(await relayProbe(pigeon.ports['smtp']!), /^250 /);
    await shot('my-networks');
  });

  test('a push subscription is found under Integrated Accounts and unsubscribed', async () => {
    const ann = (await pigeon.store.getAccountByEmail('ann@shop.example'))!;
    const now = Date.now();
    await pigeon.store.push.createSubscription({
      id: 'sub-console-1', accountId: ann.id, deviceId: 'phone-1', deviceName: 'Ann\'s phone', callbackUrl: 'https://relay.invalid/hook', relayHost: 'relay.invalid',
      keys: null, mailboxes: ['INBOX'], secret: 's3cret', codeHash: 'a'.repeat(64), credentialFingerprint: credentialFingerprint(ann), remoteAddress: '192.0.2.1',
      createdAt: now, expiresAt: now + 86_400_000, verificationPayload: '{}',
    }, { maxPerAccount: 10 });
    await page.getByRole('link', { name: 'Integrated Accounts' }).click();
    await settledOn(page);
    const row = page.locator('tr[data-subscription="sub-console-1"]');
    await row.getByRole('cell', { name: 'Ann\'s phone', exact: true }).waitFor();
    await row.getByRole('cell', { name: 'relay.invalid', exact: true }).waitFor();
    await shot('integrated-accounts');
    await row.getByRole('button', { name: 'Unsubscribe' }).click();
    await page.locator('#flash', { hasText: 'Subscription of ann@shop.example ended.' }).waitFor();
    assert.equal(await row.count(), 0);
    assert.equal(await pigeon.store.push.getSubscription('sub-console-1'), undefined);
  });

  test('the queue lists a waiting message, retries it and removes it', async () => {
    const q = await pigeon.store.enqueueMessage({
      sender: 'ann@shop.example', recipients: [{ address: 'far@remote.invalid', notify: [], orcpt: null }], raw: Buffer.from('Subject: hello\r\n\r\nhi\r\n'),
      dsnRet: null, dsnEnvid: null, accountId: null,
    });
    await page.getByRole('link', { name: 'Queue' }).click();
    await settledOn(page);
    const row = page.getByRole('row').filter({ hasText: 'far@remote.invalid' });
    await row.waitFor();
    await shot('queue');
    await row.getByRole('button', { name: 'Retry' }).click();
    await page.locator('#flash', { hasText: `Message ${q.id} will be tried again.` }).waitFor();
    if (await pigeon.store.getQueuedMessage(q.id)) {
      await page.getByRole('row').filter({ hasText: 'far@remote.invalid' }).getByRole('button', { name: 'Remove' }).click();
      await page.locator('#flash', { hasText: `Message ${q.id} removed.` }).waitFor();
    }
    assert.equal(await pigeon.store.getQueuedMessage(q.id), undefined);
  });

  test('the DNS page lists the SRV records, and the console fits a phone screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('link', { name: 'DNS records' }).click();
    await settledOn(page);
    await page.getByLabel('Domain').selectOption('shop.example');
    await page.getByRole('cell', { name: '_submissions._tcp.shop.example.', exact: true }).waitFor();
    await page.getByRole('cell', { name: `0 1 ${pigeon.ports['imaps']} mail.example.test.`, exact: true }).waitFor();
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    assert.ok(overflow <= 1, `the page scrolls sideways by ${overflow}px on a phone`);
    await shot('dns-phone');
  });
});
