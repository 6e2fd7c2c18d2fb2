// App passwords against a started Pigeon: real clients (imapflow over IMAPS, POP3 over 995,
// nodemailer over submission with STARTTLS) log in with one and are refused once it is revoked; a push relay that
// subscribed with an app password loses exactly that subscription when the app password is revoked,
// while one made with the account password stays; a password change ends only the subscriptions
// made with the account password.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import { LineClient } from '../hostile/line-client.js';
import nodemailer from 'nodemailer';
import { startTestPigeon, type TestPigeon } from '../harness/pigeon.js';
import { adminOps } from '../../src/admin/operations.js';
import { deliverMessage } from '../../src/delivery/deliver.js';
import { api, message, nextEnded, startTestRelay, type RelayRequest, type TestRelay } from './helpers.js';

const json = (r: RelayRequest) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;

async function withPigeon(fn: (pigeon: TestPigeon, relay: TestRelay) => Promise<void>): Promise<void> {
  const pigeon = await startTestPigeon({ push: { coalesce_ms: 20, retry_initial_ms: 20 } });
  const relay = await startTestRelay();
  try {
    await pigeon.addUser('alice@example.com', 'alice pw');
    await pigeon.store.updateDomainSettings('example.com', { pushEnabled: true, pushDetails: true, pushAllowedHosts: ['127.0.0.1'] });
    await fn(pigeon, relay);
  } finally {
    await relay.close();
    await pigeon.close({ timeoutMs: 0 });
  }
}

async function imapLogin(pigeon: TestPigeon, pass: string): Promise<void> {
  const imap = new ImapFlow({
    host: '127.0.0.1', port: pigeon.ports['imaps']!, secure: true, auth: { user: 'alice@example.com', pass },
    tls: { rejectUnauthorized: false }, logger: false, disableAutoIdle: true,
  });
  await imap.connect();
  try {
    const status = await imap.status('INBOX', { messages: true });
    assert.ok(status !== false && typeof status.messages === 'number');
  } finally {
    await imap.logout();
  }
}

/** POP3 over TLS (995): USER/PASS; resolves with the answer to PASS. */
async function pop3Login(pigeon: TestPigeon, pass: string): Promise<string> {
  const pop = await LineClient.connect(pigeon.ports['pop3s']!, { tls: {} });
  try {
    await pop.until(/^\+OK/);
    pop.write('USER alice@example.com\r\n');
    await pop.until(/^\+OK/);
    pop.write(`PASS ${pass}\r\n`);
    const answer = await pop.until(/^[+-]/);
    pop.write('QUIT\r\n');
    return answer;
  } finally {
    pop.socket.destroy();
  }
}

async function smtpSend(pigeon: TestPigeon, pass: string, subject: string): Promise<void> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1', port: pigeon.ports['submission']!, secure: false, requireTLS: true, tls: { rejectUnauthorized: false },
    auth: { user: 'alice@example.com', pass },
  });
  try {
    await transport.sendMail({ from: 'alice@example.com', to: 'alice@example.com', subject, text: 'Hello.' });
  } finally {
    transport.close();
  }
}

/** SUBSCRIBE with these credentials, take the verification from the relay, ACTIVATE; returns the id. */
async function subscribeAndActivate(pigeon: TestPigeon, relay: TestRelay, pass: string, deviceId: string): Promise<string> {
  const port = pigeon.ports['https']!;
  const auth: [string, string] = ['alice@example.com', pass];
  const sub = await api(port, 'POST', '/push/v1/example.com/subscriptions', { auth, body: { deviceId, callbackUrl: relay.url } });
  assert.equal(sub.status, 201, JSON.stringify(sub.json));
  const id = sub.json!['id'] as string;
  const verification = await relay.until((r) => json(r)['type'] === 'PushVerification' && json(r)['subscriptionId'] === id);
  const act = await api(port, 'POST', `/push/v1/example.com/subscriptions/${id}/activate`, { auth, body: { verificationCode: json(verification)['verificationCode'] } });
  assert.equal(act.status, 200, JSON.stringify(act.json));
  return id;
}

const mentions = (r: RelayRequest, id: string, subject: string) => {
  const b = json(r);
  return b['type'] === 'MailboxChange' && b['subscriptionId'] === id && ((b['newMessages'] as Array<{ subject?: string }> | undefined) ?? []).some((m) => m.subject === subject);
};

describe('app passwords with real clients and push', () => {
  test('imapflow, POP3 and nodemailer log in with an app password; once revoked, all are refused', async () => {
    await withPigeon(async (pigeon) => {
      const ops = adminOps(pigeon.store);
      const { appPassword, password } = await ops.addAppPassword('alice@example.com', 'Phone');
      await imapLogin(pigeon, password);
      await imapLogin(pigeon, password.replace(/ /g, ''));
      await smtpSend(pigeon, password, 'Sent with an app password');
      assert.match(await pop3Login(pigeon, password), /^\+OK/);
      await imapLogin(pigeon, 'alice pw');

      await ops.removeAppPassword('alice@example.com', appPassword.id);
      await assert.rejects(imapLogin(pigeon, password), (err: Error & { authenticationFailed?: boolean }) => err.authenticationFailed === true);
      await assert.rejects(smtpSend(pigeon, password, 'Refused'), (err: Error & { responseCode?: number }) => err.responseCode === 535);
      assert.match(await pop3Login(pigeon, password), /^-ERR/);
      assert.deepEqual(await ops.listAppPasswords('alice@example.com'), []);
    });
  });

  test('revoking an app password ends the push subscription made with it, and only that one', async () => {
    await withPigeon(async (pigeon, relay) => {
      const ops = adminOps(pigeon.store);
      const phone = await ops.addAppPassword('alice@example.com', 'Phone');
      const tablet = await ops.addAppPassword('alice@example.com', 'Tablet');
      const byPhone = await subscribeAndActivate(pigeon, relay, phone.password, 'phone');
      const byTablet = await subscribeAndActivate(pigeon, relay, tablet.password, 'tablet');
      const byPassword = await subscribeAndActivate(pigeon, relay, 'alice pw', 'laptop');

      await ops.removeAppPassword('alice@example.com', phone.appPassword.id);
      const ended = nextEnded(pigeon, byPhone);
      await deliverMessage(pigeon.store, { raw: message('After revoking'), recipients: ['alice@example.com'] });
      assert.equal(await ended, 'app password revoked');
      // The other two are notified of the message; the ended one is not.
      await relay.until((r) => mentions(r, byTablet, 'After revoking'));
      await relay.until((r) => mentions(r, byPassword, 'After revoking'));
      assert.equal(await pigeon.store.push.getSubscription(byPhone), undefined);
      assert.ok(!relay.received.some((r) => mentions(r, byPhone, 'After revoking')));

      // The sweep finds a revoked one without any mail.
      await ops.removeAppPassword('alice@example.com', tablet.appPassword.id);
      const sweptEnded = nextEnded(pigeon, byTablet);
      await pigeon.push.sweep();
      assert.equal(await sweptEnded, 'app password revoked');
      assert.ok(await pigeon.store.push.getSubscription(byPassword));

      // A revoked app password cannot subscribe again.
      const again = await api(pigeon.ports['https']!, 'POST', '/push/v1/example.com/subscriptions', {
        auth: ['alice@example.com', phone.password], body: { deviceId: 'phone', callbackUrl: relay.url },
      });
      assert.equal(again.status, 401);
    });
  });

  test('a password change ends the subscriptions made with the password and keeps those made with app passwords', async () => {
    await withPigeon(async (pigeon, relay) => {
      const ops = adminOps(pigeon.store);
      const phone = await ops.addAppPassword('alice@example.com', 'Phone');
      const byPhone = await subscribeAndActivate(pigeon, relay, phone.password, 'phone');
      const byPassword = await subscribeAndActivate(pigeon, relay, 'alice pw', 'laptop');

      await ops.setPassword('alice@example.com', 'new alice pw');
      const ended = nextEnded(pigeon, byPassword);
      await deliverMessage(pigeon.store, { raw: message('After the change'), recipients: ['alice@example.com'] });
      assert.equal(await ended, 'password changed');
      await relay.until((r) => mentions(r, byPhone, 'After the change'));
      await pigeon.push.sweep();
      assert.ok(await pigeon.store.push.getSubscription(byPhone));
      assert.equal(await pigeon.store.push.getSubscription(byPassword), undefined);
      // The app password still logs in.
      await imapLogin(pigeon, phone.password);
    });
  });
});
