// The whole life of an Integrated Account against a started Pigeon and a real relay on 127.0.0.1
// (named in the domain's allowed hosts): SUBSCRIBE, the verification code, ACTIVATE, both
// activation emails read over IMAP, mail sent over SMTP arriving as a signed MailboxChange,
// retries, 410, password change, UNSUBSCRIBE.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { startTestPigeon, type TestPigeon } from '../harness/pigeon.js';
import { verifySignature } from '../../src/push/signing.js';
import { adminOps } from '../../src/admin/operations.js';
import { deliverMessage } from '../../src/delivery/deliver.js';
import { activationSubjects } from '../../src/push/activation-mail.js';
import type { SendReport } from '../../src/push/worker.js';
import { api, message, nextEnded, startTestRelay, within, type RelayRequest, type TestRelay } from './helpers.js';

interface Subscribed {
  id: string;
  secret: string;
}

async function withPush(fn: (pigeon: TestPigeon, relay: TestRelay) => Promise<void>, options: { details?: boolean } = {}): Promise<void> {
  const pigeon = await startTestPigeon({ push: { coalesce_ms: 20, retry_initial_ms: 20 } });
  const relay = await startTestRelay();
  try {
    await pigeon.addUser('alice@example.com', 'alice pw');
    await pigeon.addUser('bob@example.com', 'bob pw');
    await pigeon.store.updateDomainSettings('example.com', { pushEnabled: true, pushDetails: options.details ?? true, pushAllowedHosts: ['127.0.0.1'] });
    await fn(pigeon, relay);
  } finally {
    await relay.close();
    await pigeon.close({ timeoutMs: 0 });
  }
}

const json = (r: RelayRequest) => JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;

/** SUBSCRIBE, take the verification from the relay, ACTIVATE; returns id and secret. */
async function subscribeAndActivate(pigeon: TestPigeon, relay: TestRelay, user: [string, string], deviceId: string): Promise<Subscribed> {
  const port = pigeon.ports['https']!;
  const sub = await api(port, 'POST', '/push/v1/example.com/subscriptions', {
    auth: user, body: { deviceId, deviceName: `${deviceId} phone`, callbackUrl: relay.url },
  });
  assert.equal(sub.status, 201, JSON.stringify(sub.json));
  const id = sub.json!['id'] as string;
  const verification = await relay.until((r) => json(r)['type'] === 'PushVerification' && json(r)['subscriptionId'] === id);
  const code = json(verification)['verificationCode'] as string;
  const act = await api(port, 'POST', `/push/v1/example.com/subscriptions/${id}/activate`, { auth: user, body: { verificationCode: code } });
  assert.equal(act.status, 200, JSON.stringify(act.json));
  return { id, secret: sub.json!['secret'] as string };
}

/** Waits for the worker's next report matching. */
function nextReport(pigeon: TestPigeon, match: (r: SendReport) => boolean): Promise<SendReport> {
  return within(new Promise((resolve) => {
    const on = (r: SendReport) => {
      if (!match(r)) return;
      pigeon.push.events.off('attempt', on);
      resolve(r);
    };
    pigeon.push.events.on('attempt', on);
  }), 20_000, 'a push attempt');
}

describe('push relay integration', () => {
  test('SUBSCRIBE, verification, ACTIVATE, activation mails over IMAP, an SMTP message notified with UID and unseen count, UNSUBSCRIBE', async () => {
    await withPush(async (pigeon, relay) => {
      const port = pigeon.ports['https']!;
      const alice: [string, string] = ['alice@example.com', 'alice pw'];
      const sub = await api(port, 'POST', '/push/v1/example.com/subscriptions', {
        auth: alice, body: { deviceId: 'bb10-2f9c', deviceName: "Alice's Passport", callbackUrl: relay.url, mailboxes: ['INBOX'] },
      });
      assert.equal(sub.status, 201);
      assert.equal(sub.json!['state'], 'pending');
      const id = sub.json!['id'] as string;
      const secret = sub.json!['secret'] as string;
      assert.ok(secret.length >= 32);

      const verification = await relay.next();
      const v = json(verification);
      assert.equal(v['type'], 'PushVerification');
      assert.equal(v['subscriptionId'], id);
      const code = v['verificationCode'] as string;
      assert.ok(Buffer.from(code, 'base64url').length >= 16, 'at least 128 bits');
      assert.ok(verifySignature(secret, verification.body, String(verification.headers['pigeon-signature']), { now: Date.now() }));

      const wrong = await api(port, 'POST', `/push/v1/example.com/subscriptions/${id}/activate`, { auth: alice, body: { verificationCode: 'nope' } });
      assert.equal(wrong.status, 422);
      assert.equal(wrong.json!['field'], 'verificationCode');
      const act = await api(port, 'POST', `/push/v1/example.com/subscriptions/${id}/activate`, { auth: alice, body: { verificationCode: code } });
      assert.equal(act.status, 200);
      assert.equal(act.json!['state'], 'active');

      // The activation mail delivered after activation is itself new mail in INBOX (UID 2).
      const first = await relay.until((r) => json(r)['type'] === 'MailboxChange');
      assert.deepEqual((json(first)['newMessages'] as Array<{ uid: number }>).map((m) => m.uid), [2]);

      const imap = new ImapFlow({
        host: '127.0.0.1', port: pigeon.ports['imaps']!, secure: true, auth: { user: alice[0], pass: alice[1] },
        tls: { rejectUnauthorized: false }, logger: false, disableAutoIdle: true,
      });
      await imap.connect();
      try {
        const lock = await imap.getMailboxLock('INBOX');
        try {
          const subjects: string[] = [];
          for await (const m of imap.fetch('1:*', { envelope: true })) subjects.push(m.envelope?.subject ?? '');
          assert.deepEqual(subjects, [activationSubjects.subscribed, activationSubjects.activated]);
          const body = await imap.download('1', '1');
          const chunks: Buffer[] = [];
          assert.ok(body.content);
          for await (const c of body.content) chunks.push(c as Buffer);
          const text = Buffer.concat(chunks).toString('utf8');
          assert.match(text, /Alice's Passport/);
          assert.match(text, /127\.0\.0\.1/);
          assert.match(text, /pigeon push remove ps_/);
        } finally {
          lock.release();
        }
      } finally {
        await imap.logout();
      }

      const transport = nodemailer.createTransport({ host: '127.0.0.1', port: pigeon.ports['smtp']!, secure: false, tls: { rejectUnauthorized: false } });
      await transport.sendMail({ from: 'Bob <bob@example.org>', to: 'alice@example.com', subject: 'Lunch?', text: 'At noon?' });
      transport.close();
      const n = await relay.until((r) => (json(r)['newMessages'] as Array<{ subject?: string }> | undefined)?.some((m) => m.subject === 'Lunch?') ?? false);
      assert.ok(verifySignature(secret, n.body, String(n.headers['pigeon-signature']), { now: Date.now() }));
      assert.match(String(n.headers['pigeon-signature']), /^t=\d+,v1=[0-9a-f]{64}$/);
      const p = json(n);
      assert.equal(p['subscriptionId'], id);
      assert.equal(p['account'], 'alice@example.com');
      assert.equal(p['mailbox'], 'INBOX');
      assert.equal(p['unseen'], 3);
      assert.equal(p['exists'], 3);
      assert.equal(p['uidNext'], 4);
      const inbox = (await pigeon.store.getMailbox((await pigeon.store.getAccountByEmail('alice@example.com'))!.id, 'INBOX'))!;
      assert.equal(p['uidValidity'], inbox.uidValidity);
      assert.equal(p['highestModseq'], inbox.highestModseq);
      const news = p['newMessages'] as Array<{ uid: number; from: string; subject: string; size: number }>;
      assert.equal(news.at(-1)!.uid, 3);
      assert.match(news.at(-1)!.from, /bob@example\.org/);
      assert.ok(news.at(-1)!.size > 0);

      const listed = await pigeon.store.push.listSubscriptions();
      assert.equal(listed.length, 1);
      assert.equal(listed[0]!.state, 'active');
      assert.ok(listed[0]!.lastNotifiedAt !== null);

      const del = await api(port, 'DELETE', `/push/v1/example.com/subscriptions/${id}`, { auth: alice });
      assert.equal(del.status, 204);
      assert.equal((await pigeon.store.push.listSubscriptions()).length, 0);
      const again = await api(port, 'DELETE', `/push/v1/example.com/subscriptions/${id}`, { auth: alice });
      assert.equal(again.status, 204, 'an unknown id is still 204');
    });
  });

  test('without push details a notification carries only uid and size', async () => {
    await withPush(async (pigeon, relay) => {
      await subscribeAndActivate(pigeon, relay, ['alice@example.com', 'alice pw'], 'd1');
      await relay.until((r) => json(r)['type'] === 'MailboxChange');
      await deliverMessage(pigeon.store, { raw: message('Private matter'), recipients: ['alice@example.com'] });
      const n = await relay.until((r) => (json(r)['newMessages'] as Array<{ uid: number }>).some((m) => m.uid === 3));
      const m = (json(n)['newMessages'] as Array<Record<string, unknown>>).find((x) => x['uid'] === 3)!;
      assert.deepEqual(Object.keys(m).sort(), ['size', 'uid']);
    }, { details: false });
  });

  test('a 500 is retried until the relay answers 200', async () => {
    await withPush(async (pigeon, relay) => {
      await subscribeAndActivate(pigeon, relay, ['alice@example.com', 'alice pw'], 'd1');
      await relay.until((r) => json(r)['type'] === 'MailboxChange');
      relay.script(500);
      const failed = nextReport(pigeon, (r) => r.outcome === 'retry');
      const sent = nextReport(pigeon, (r) => r.outcome === 'sent' && r.kind === 'notification' && r.attempt === 2);
      await deliverMessage(pigeon.store, { raw: message('Retry me'), recipients: ['alice@example.com'] });
      const a = await relay.next();
      const b = await relay.next();
      assert.equal((await failed).status, 500);
      assert.equal((await sent).status, 200);
      assert.deepEqual(json(a), json(b), 'the same notification is sent again');
      assert.equal((json(b)['newMessages'] as Array<{ subject: string }>)[0]!.subject, 'Retry me');
      const [s] = await pigeon.store.push.listSubscriptions();
      assert.equal(s!.lastError, null, 'a success clears the last error');
    });
  });

  test('Retry-After of a 429 is honoured', async () => {
    await withPush(async (pigeon, relay) => {
      await subscribeAndActivate(pigeon, relay, ['alice@example.com', 'alice pw'], 'd1');
      await relay.until((r) => json(r)['type'] === 'MailboxChange');
      relay.script({ status: 429, headers: { 'Retry-After': '1' } });
      await deliverMessage(pigeon.store, { raw: message('Slow down'), recipients: ['alice@example.com'] });
      const a = await relay.next();
      const b = await relay.next(5000);
      const ta = Number(/t=(\d+)/.exec(String(a.headers['pigeon-signature']))![1]);
      const tb = Number(/t=(\d+)/.exec(String(b.headers['pigeon-signature']))![1]);
      assert.ok(tb - ta >= 1, 'waited at least the Retry-After second');
    });
  });

  test('a 410 ends the subscription', async () => {
    await withPush(async (pigeon, relay) => {
      const { id } = await subscribeAndActivate(pigeon, relay, ['alice@example.com', 'alice pw'], 'd1');
      await relay.until((r) => json(r)['type'] === 'MailboxChange');
      relay.script(410);
      const ended = nextEnded(pigeon, id);
      await deliverMessage(pigeon.store, { raw: message('Gone'), recipients: ['alice@example.com'] });
      assert.equal(await ended, 'HTTP 410');
      assert.equal(await pigeon.store.push.getSubscription(id), undefined);
    });
  });

  test('a password change ends the subscriptions made with the old password, and only those', async () => {
    await withPush(async (pigeon, relay) => {
      const bobSub = await subscribeAndActivate(pigeon, relay, ['bob@example.com', 'bob pw'], 'bob-phone');
      const aliceSub = await subscribeAndActivate(pigeon, relay, ['alice@example.com', 'alice pw'], 'alice-phone');
      await adminOps(pigeon.store).setPassword('bob@example.com', 'new bob pw');
      // Mail to bob: nothing is sent to the relay; the subscription is ended instead.
      const ended = nextEnded(pigeon, bobSub.id);
      await deliverMessage(pigeon.store, { raw: message('For bob'), recipients: ['bob@example.com'] });
      assert.equal(await ended, 'password changed');
      assert.equal(await pigeon.store.push.getSubscription(bobSub.id), undefined);
      assert.ok(await pigeon.store.push.getSubscription(aliceSub.id));

      // The sweep finds them too, without any mail.
      await adminOps(pigeon.store).setPassword('alice@example.com', 'new alice pw');
      await pigeon.push.sweep();
      assert.equal(await pigeon.store.push.getSubscription(aliceSub.id), undefined);
      const bodies = relay.received.map(json);
      assert.ok(!bodies.some((b) => b['type'] === 'MailboxChange' && (b['newMessages'] as Array<{ subject?: string }>).some((m) => m.subject === 'For bob')));
    });
  });

  test('a second SUBSCRIBE of the same device replaces the first; the account limit answers 429', async () => {
    const pigeon = await startTestPigeon({ push: { coalesce_ms: 20, max_subscriptions_per_account: 2 } });
    const relay = await startTestRelay();
    try {
      await pigeon.addUser('alice@example.com', 'alice pw');
      await pigeon.store.updateDomainSettings('example.com', { pushEnabled: true, pushAllowedHosts: ['127.0.0.1'] });
      const port = pigeon.ports['https']!;
      const auth: [string, string] = ['alice@example.com', 'alice pw'];
      const sub = (deviceId: string) => api(port, 'POST', '/push/v1/example.com/subscriptions', { auth, body: { deviceId, callbackUrl: relay.url } });
      const a = await sub('one');
      const a2 = await sub('one');
      assert.equal(a2.status, 201);
      assert.notEqual(a2.json!['id'], a.json!['id']);
      assert.equal((await pigeon.store.push.listSubscriptions()).length, 1);
      assert.equal((await sub('two')).status, 201);
      const third = await sub('three');
      assert.equal(third.status, 429);
    } finally {
      await relay.close();
      await pigeon.close({ timeoutMs: 0 });
    }
  });
});
