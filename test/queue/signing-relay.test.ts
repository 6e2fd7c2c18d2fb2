import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { SmtpSink } from '../harness/smtp-sink.js';
import { fixture, message } from './fixture.js';
import { dkimRecord, generateDkimKey, signMessage } from '../../src/queue/dkim.js';
import { fileSentCopy } from '../../src/queue/sent-copy.js';
import { queueOps } from '../../src/queue/operations.js';

describe('DKIM signing (RFC 6376)', { timeout: 30_000 }, () => {
  test('mail from a domain with a key is signed, and mailauth verifies it against the published record', async () => {
    const f = await fixture();
    const sink = await SmtpSink.start();
    const worker = await f.worker(sink.port);
    try {
      const key = await generateDkimKey(f.store, 'example.com', { selector: 's2026' });
      const record = dkimRecord(key);
      assert.equal(record.name, 's2026._domainkey.example.com');
      assert.match(record.value, /^v=DKIM1; k=rsa; p=[A-Za-z0-9+/=]{300,}$/);
      await f.store.enqueueMessage({ sender: 'alice@example.com', raw: message(), dsnRet: null, dsnEnvid: null, accountId: 1, recipients: [{ address: 'bob@remote.test', notify: [], orcpt: null }] });
      worker.kick();
      const [tx] = await sink.waitForMessages(1);
      assert.match(tx!.data.toString(), /^DKIM-Signature: /);
      const resolver = async (name: string, type: string) => {
        if (type === 'TXT' && name === record.name) return [[record.value]];
        throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      };
      const result = await dkimVerify(tx!.data, { resolver });
      assert.equal(result.results.length, 1);
      assert.equal(result.results[0]!.status.result, 'pass');
      assert.equal(result.results[0]!.signingDomain, 'example.com');
      // A tampered body no longer verifies (the test can fail).
      const tampered = Buffer.from(tx!.data.toString().replace('how are you?', 'send money'));
      assert.notEqual((await dkimVerify(tampered, { resolver })).results[0]!.status.result, 'pass');
    } finally {
      await worker.close();
      await sink.close();
      await f.store.close();
    }
  });

  test('mail whose From domain has no key is left unsigned', async () => {
    const f = await fixture();
    try {
      await generateDkimKey(f.store, 'example.com');
      const raw = message({ from: 'someone@other.test' });
      const out = await signMessage(f.store, raw);
      assert.equal(out.signedBy, null);
      assert.equal(out.raw, raw);
      await assert.rejects(generateDkimKey(f.store, 'not-local.test'), /not a local domain/);
    } finally {
      await f.store.close();
    }
  });
});

describe('relay host (smarthost)', { timeout: 30_000 }, () => {
  test('all mail goes to the relay host, with AUTH, whatever the recipient domain', async () => {
    const sink = await SmtpSink.start({ auth: { user: 'relayuser', pass: 's3cret' } });
    const f = await fixture({ smarthost: `127.0.0.1:${sink.port}`, smarthost_tls: 'none', smarthost_username: 'relayuser', smarthost_password: 's3cret' });
    // No DNS at all: the relay host needs none.
    f.resolver.resolveMx = async () => {
      throw new Error('no DNS expected');
    };
    const worker = await f.worker(1);
    try {
      await f.store.enqueueMessage({
        sender: 'alice@example.com', raw: message(), dsnRet: null, dsnEnvid: null, accountId: 1,
        recipients: [{ address: 'bob@remote.test', notify: [], orcpt: null }, { address: 'carol@other.test', notify: [], orcpt: null }],
      });
      worker.kick();
      const [tx] = await sink.waitForMessages(1);
      assert.equal(tx!.user, 'relayuser');
      assert.deepEqual(tx!.to.sort(), ['bob@remote.test', 'carol@other.test']);
      await worker.idle();
      assert.equal((await f.store.listQueue()).length, 0);
    } finally {
      await worker.close();
      await sink.close();
      await f.store.close();
    }
  });

  test('wrong relay credentials keep the mail queued (deferred), not bounced', async () => {
    const sink = await SmtpSink.start({ auth: { user: 'relayuser', pass: 's3cret' } });
    const f = await fixture({ smarthost: `127.0.0.1:${sink.port}`, smarthost_tls: 'none', smarthost_username: 'relayuser', smarthost_password: 'wrong' });
    const worker = await f.worker(1);
    try {
      const q = await f.store.enqueueMessage({ sender: 'alice@example.com', raw: message(), dsnRet: null, dsnEnvid: null, accountId: 1, recipients: [{ address: 'bob@remote.test', notify: [], orcpt: null }] });
      worker.kick();
      await worker.idle();
      const [r] = (await f.store.getQueuedMessage(q.id))!.recipients;
      assert.equal(r!.state, 'deferred');
      assert.match(r!.lastError ?? '', /535/);
    } finally {
      await worker.close();
      await sink.close();
      await f.store.close();
    }
  });
});

describe('operator control and Sent copy', { timeout: 30_000 }, () => {
  test('queue operations list, show, retry and remove; flush makes deferred mail due now', async () => {
    const f = await fixture({ retry_schedule_minutes: '30' });
    let refuse = true;
    const sink = await SmtpSink.start({ rcpt: () => (refuse ? '450 4.2.0 later' : '250 OK') });
    const worker = await f.worker(sink.port);
    try {
      const ops = queueOps(f.store, { kick: () => worker.kick(), clock: f.clock });
      const a = await f.store.enqueueMessage({ sender: 'alice@example.com', raw: message(), dsnRet: null, dsnEnvid: null, accountId: 1, recipients: [{ address: 'bob@remote.test', notify: [], orcpt: null }] });
      const b = await f.store.enqueueMessage({ sender: 'alice@example.com', raw: message(), dsnRet: null, dsnEnvid: null, accountId: 1, recipients: [{ address: 'dan@remote.test', notify: [], orcpt: null }] });
      worker.kick();
      await worker.idle();
      const list = await ops.list();
      assert.deepEqual(list.map((m) => [m.id, m.recipients[0]!.state]), [[a.id, 'deferred'], [b.id, 'deferred']]);
      const shown = await ops.show(a.id);
      assert.equal(shown.recipients[0]!.statusCode, '4.2.0');
      await ops.remove(b.id);
      await assert.rejects(ops.show(b.id), /does not exist/);
      refuse = false;
      assert.equal(await ops.retry(a.id), 1);
      await sink.waitForMessages(1);
      await worker.idle();
      assert.deepEqual(await ops.list(), []);
      assert.equal(await ops.flush(), 0);
      assert.deepEqual(await f.store.check(), []);
    } finally {
      await worker.close();
      await sink.close();
      await f.store.close();
    }
  });

  test('a submitted message is filed into \\Sent only when the account asked for it', async () => {
    const f = await fixture();
    try {
      const account = (await f.store.getAccountByEmail('alice@example.com'))!;
      const sent = (await f.store.getMailbox(account.id, 'Sent'))!;
      assert.equal(await fileSentCopy(f.store, { accountId: account.id, raw: message() }), false);
      assert.equal((await f.store.listMessageStates(sent.id)).length, 0);
      await f.store.queue.setSentCopy(account.id, true);
      assert.equal(await fileSentCopy(f.store, { accountId: account.id, raw: message() }), true);
      const states = await f.store.listMessageStates(sent.id);
      assert.equal(states.length, 1);
      assert.ok(states[0]!.flags.includes('\\Seen'));
    } finally {
      await f.store.close();
    }
  });
});
