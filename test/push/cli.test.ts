// The admin side from the `pigeon` command (run in-process, output captured): domain push settings with the
// Subscribe URL and SMTP server value, Integrated Accounts (`push list`, `push remove`), and the
// server-wide switch, which the relay protocol obeys.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../src/config/load.js';
import { openStore } from '../../src/store/open.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { pushDomainInfo, type IntegratedAccount } from '../../src/push/admin.js';
import { startPushHarness } from './harness.js';
import { runPigeon } from '../harness/cli.js';

const pigeon = runPigeon;

describe('pigeon push and domain set', () => {
  test('domain set switches push, details and allowed hosts and prints the Subscribe URL and SMTP server', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pigeon-'));
    writeFileSync(join(dir, 'pigeon.toml'), 'hostname = "mail.example.test"\ndata_dir = "./data"\n[listen]\nhttps = "0.0.0.0:8443"\n');
    const store = await openStore({ driver: 'sqlite', url: '', dataDir: join(dir, 'data') });
    await store.addDomain('example.com');
    await store.close();
    const r = await pigeon(dir, ['domain', 'set', 'example.com', '--push', 'on', '--push-details', 'off', '--push-allowed-hosts', 'Relay.Example.net,10.0.0.5', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { settings: { pushEnabled: boolean; pushDetails: boolean; pushAllowedHosts: string[] }; subscribeUrl: string; smtpServer: string };
    assert.deepEqual(out.settings.pushAllowedHosts, ['relay.example.net', '10.0.0.5']);
    assert.equal(out.settings.pushEnabled, true);
    assert.equal(out.settings.pushDetails, false);
    assert.equal(out.subscribeUrl, 'https://mail.example.test:8443/push/v1/example.com/subscriptions');
    assert.equal(out.smtpServer, 'mail.example.test:465');
    assert.equal((await pigeon(dir, ['domain', 'set', 'example.com', '--push', 'maybe'])).code, 64);
    assert.equal((await pigeon(dir, ['domain', 'set', 'nowhere.test', '--push', 'on'])).code, 1);
  });

  test('the Subscribe URL has no port on 443', () => {
    const config = buildConfig({ hostname: 'mx.example.com' }, { env: {} });
    assert.deepEqual(pushDomainInfo(config, 'Example.COM'), {
      subscribeUrl: 'https://mx.example.com/push/v1/example.com/subscriptions',
      smtpServer: 'mx.example.com:465',
    });
  });

  test('push list shows the Integrated Accounts; push remove ends one; push server off refuses SUBSCRIBE', async () => {
    const h = await startPushHarness();
    try {
      await h.store.addDomain('example.com');
      await h.store.createAccount({ email: 'alice@example.com', passwordHash: await hashPassword('pw') });
      await h.store.updateDomainSettings('example.com', { pushEnabled: true, pushAllowedHosts: ['127.0.0.1'] });
      const auth: [string, string] = ['alice@example.com', 'pw'];
      const body = { deviceId: 'bb10', deviceName: 'Passport', callbackUrl: 'http://127.0.0.1:9/n' };
      const created = await h.call('POST', '/push/v1/example.com/subscriptions', { auth, body });
      assert.equal(created.status, 201);
      const id = created.json!['id'] as string;
      writeFileSync(join(h.dir, 'pigeon.toml'), `data_dir = ${JSON.stringify(h.dir)}\n`);

      const list = await pigeon(h.dir, ['push', 'list', '--json']);
      assert.equal(list.code, 0, list.stderr);
      const rows = JSON.parse(list.stdout) as IntegratedAccount[];
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.id, id);
      assert.equal(rows[0]!.account, 'alice@example.com');
      assert.equal(rows[0]!.device, 'Passport');
      assert.equal(rows[0]!.relayHost, '127.0.0.1:9');
      assert.equal(rows[0]!.state, 'pending');
      assert.equal(rows[0]!.lastNotification, null);
      assert.deepEqual(JSON.parse((await pigeon(h.dir, ['push', 'list', '--domain', 'other.test', '--json'])).stdout), []);
      const text = (await pigeon(h.dir, ['push', 'list'])).stdout;
      assert.match(text.split('\n')[0]!, /^ID +ACCOUNT +DEVICE +RELAY +STATE +CREATED +LAST NOTIFICATION +LAST ERROR$/);

      assert.equal((await pigeon(h.dir, ['push', 'remove', id])).code, 0);
      assert.equal(await h.store.push.getSubscription(id), undefined);
      assert.equal((await pigeon(h.dir, ['push', 'remove', id])).code, 1, 'unknown id');

      assert.equal((await pigeon(h.dir, ['push', 'server', 'off'])).code, 0);
      assert.equal((await h.call('POST', '/push/v1/example.com/subscriptions', { auth, body })).status, 403);
      assert.equal((await pigeon(h.dir, ['push', 'server', 'on'])).code, 0);
      assert.equal((await h.call('POST', '/push/v1/example.com/subscriptions', { auth, body })).status, 201);
    } finally {
      await h.close();
    }
  });
});
