import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SmtpSink } from '../harness/smtp-sink.js';
import { fixture, message, type Fixture } from './fixture.js';
import type { QueueWorker } from '../../src/queue/worker.js';
import { indexMessage } from '../../src/mail/parse.js';
import type { BodyPart } from '../../src/mail/types.js';

async function cleanup(f: Fixture, worker: QueueWorker | undefined, sink: SmtpSink | undefined): Promise<void> {
  await worker?.close({ timeoutMs: 1000 });
  await sink?.close();
  await f.store.close();
}

/** The messages in alice's INBOX. */
async function inbox(f: Fixture): Promise<Buffer[]> {
  const account = (await f.store.getAccountByEmail('alice@example.com'))!;
  const box = (await f.store.getMailbox(account.id, 'INBOX'))!;
  const states = await f.store.listMessageStates(box.id);
  const metas = await f.store.getMessageMeta(box.id, states.map((s) => s.uid));
  return Promise.all(metas.map((m) => f.store.readBlob(m.blobHash)));
}

interface Report {
  root: BodyPart;
  perMessage: Map<string, string>;
  recipients: Array<Map<string, string>>;
  returned: BodyPart;
}

/** Parse a DSN with the MIME indexer: multipart/report; report-type=delivery-status (RFC 6522, RFC 3464). */
function parseReport(raw: Buffer): Report {
  const index = indexMessage(raw);
  const root = index.body;
  assert.equal(`${root.type}/${root.subtype}`, 'multipart/report');
  assert.deepEqual(root.params.find(([k]) => k === 'report-type'), ['report-type', 'delivery-status']);
  assert.equal(root.parts!.length, 3);
  const [text, status, returned] = root.parts!;
  assert.equal(`${text!.type}/${text!.subtype}`, 'text/plain');
  assert.equal(`${status!.type}/${status!.subtype}`, 'message/delivery-status');
  const blocks = raw.subarray(status!.bodyStart, status!.bodyEnd).toString('latin1').trim().split(/\r\n\r\n/);
  const fields = (block: string) => new Map(block.split('\r\n').map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { root, perMessage: fields(blocks[0]!), recipients: blocks.slice(1).map(fields), returned: returned! };
}

describe('bounces and delivery status notifications (RFC 3464)', { timeout: 30_000 }, () => {
  test('a 5xx answer puts a failure DSN into the local sender\'s INBOX with Final-Recipient, Action and Status', async () => {
    const f = await fixture();
    const sink = await SmtpSink.start({ rcpt: () => '550 5.1.1 <bob@remote.test>: no such user' });
    const worker = await f.worker(sink.port);
    try {
      const raw = message();
      await f.store.enqueueMessage({
        sender: 'alice@example.com', raw, dsnRet: null, dsnEnvid: 'env+2B42', accountId: 1,
        recipients: [{ address: 'bob@remote.test', notify: [], orcpt: 'rfc822;Bob+2Bx@remote.test' }],
      });
      worker.kick();
      await worker.idle();
      const [dsn, ...rest] = await inbox(f);
      assert.ok(dsn, 'a DSN was delivered');
      assert.equal(rest.length, 0);
      const report = parseReport(dsn);
      assert.equal(report.perMessage.get('reporting-mta'), 'dns;mail.example.com');
      assert.equal(report.perMessage.get('original-envelope-id'), 'env+42');
      assert.equal(report.recipients.length, 1);
      const r = report.recipients[0]!;
      assert.equal(r.get('final-recipient'), 'rfc822;bob@remote.test');
      assert.equal(r.get('original-recipient'), 'rfc822;Bob+x@remote.test');
      assert.equal(r.get('action'), 'failed');
      assert.equal(r.get('status'), '5.1.1');
      assert.equal(r.get('remote-mta'), 'dns;mx.remote.test');
      assert.equal(r.get('diagnostic-code'), 'smtp;550 5.1.1 <bob@remote.test>: no such user');
      // RET unset on a failure: the whole message comes back.
      assert.equal(`${report.returned.type}/${report.returned.subtype}`, 'message/rfc822');
      assert.match(dsn.toString(), /^Auto-Submitted: auto-replied\r$/m);
      assert.equal((await f.store.listQueue()).length, 0);
    } finally {
      await cleanup(f, worker, sink);
    }
  });

  test('RET=HDRS returns only the header; NOTIFY=NEVER gets no DSN at all', async () => {
    const f = await fixture();
    const sink = await SmtpSink.start({ rcpt: () => '554 5.7.1 rejected' });
    const worker = await f.worker(sink.port);
    try {
      await f.store.enqueueMessage({ sender: 'alice@example.com', raw: message({ body: 'SECRET BODY\r\n' }), dsnRet: 'HDRS', dsnEnvid: null, accountId: 1, recipients: [{ address: 'bob@remote.test', notify: ['FAILURE'], orcpt: null }] });
      await f.store.enqueueMessage({ sender: 'alice@example.com', raw: message(), dsnRet: null, dsnEnvid: null, accountId: 1, recipients: [{ address: 'carol@remote.test', notify: ['NEVER'], orcpt: null }] });
      worker.kick();
      await worker.idle();
      const dsns = await inbox(f);
      assert.equal(dsns.length, 1);
      const report = parseReport(dsns[0]!);
      assert.equal(report.recipients[0]!.get('final-recipient'), 'rfc822;bob@remote.test');
      assert.equal(`${report.returned.type}/${report.returned.subtype}`, 'text/rfc822-headers');
      assert.doesNotMatch(dsns[0]!.toString(), /SECRET BODY/);
      assert.equal(worker.stats.failed, 2);
    } finally {
      await cleanup(f, worker, sink);
    }
  });

  test('a null MX (RFC 7505) fails at once without a connection', async () => {
    const f = await fixture();
    f.mx.set('nomail.test', [{ exchange: '', priority: 0 }]);
    const sink = await SmtpSink.start();
    const worker = await f.worker(sink.port);
    try {
      await f.store.enqueueMessage({ sender: 'alice@example.com', raw: message(), dsnRet: null, dsnEnvid: null, accountId: 1, recipients: [{ address: 'x@nomail.test', notify: [], orcpt: null }] });
      worker.kick();
      await worker.idle();
      assert.equal(sink.mailCommands, 0);
      const [dsn] = await inbox(f);
      const r = parseReport(dsn!).recipients[0]!;
      assert.equal(r.get('action'), 'failed');
      assert.equal(r.get('status'), '5.1.10');
    } finally {
      await cleanup(f, worker, sink);
    }
  });

  test('one delay notice after delay_notice_hours, then a failure when max_age_hours is reached', async () => {
    const f = await fixture({ retry_schedule_minutes: '60', delay_notice_hours: 2, max_age_hours: 4 });
    const sink = await SmtpSink.start({ rcpt: () => '421 4.4.2 busy' });
    const worker = await f.worker(sink.port);
    try {
      await f.store.enqueueMessage({ sender: 'alice@example.com', raw: message(), dsnRet: null, dsnEnvid: null, accountId: 1, recipients: [{ address: 'bob@remote.test', notify: [], orcpt: null }] });
      const actions: string[] = [];
      worker.events.on('notice', (_id: number, recipients: Array<{ action: string }>) => actions.push(...recipients.map((r) => r.action)));
      for (let hour = 0; hour <= 4; hour++) {
        worker.kick();
        await worker.idle();
        f.clock.advance(60 * 60_000);
      }
      assert.equal(sink.mailCommands, 5);
      assert.deepEqual(actions, ['delayed', 'failed']);
      const dsns = (await inbox(f)).map(parseReport);
      assert.deepEqual(dsns.map((d) => d.recipients[0]!.get('action')), ['delayed', 'failed']);
      assert.ok(dsns[0]!.recipients[0]!.get('will-retry-until'));
      assert.equal(dsns[1]!.recipients[0]!.get('status'), '4.4.2');
      assert.equal((await f.store.listQueue()).length, 0);
    } finally {
      await cleanup(f, worker, sink);
    }
  });

  test('a DSN for a remote sender is queued with the null sender and sent on', async () => {
    const f = await fixture();
    const sink = await SmtpSink.start({ rcpt: (a) => (a === 'bob@remote.test' ? '550 5.1.1 unknown' : '250 OK') });
    const worker = await f.worker(sink.port);
    try {
      await f.store.enqueueMessage({ sender: 'zed@elsewhere.test', raw: message(), dsnRet: null, dsnEnvid: null, accountId: null, recipients: [{ address: 'bob@remote.test', notify: [], orcpt: null }] });
      worker.kick();
      const [tx] = await sink.waitForMessages(1);
      assert.equal(tx!.from, '');
      assert.deepEqual(tx!.to, ['zed@elsewhere.test']);
      assert.equal(parseReport(tx!.data).recipients[0]!.get('action'), 'failed');
      await worker.idle();
      assert.equal((await f.store.listQueue()).length, 0);
    } finally {
      await cleanup(f, worker, sink);
    }
  });

  test('NOTIFY=SUCCESS to a server without DSN gets a "relayed" report', async () => {
    const f = await fixture();
    const sink = await SmtpSink.start({ dsn: false });
    const worker = await f.worker(sink.port);
    try {
      await f.store.enqueueMessage({ sender: 'alice@example.com', raw: message(), dsnRet: null, dsnEnvid: null, accountId: 1, recipients: [{ address: 'bob@remote.test', notify: ['SUCCESS'], orcpt: null }] });
      worker.kick();
      await sink.waitForMessages(1);
      await worker.idle();
      const [dsn] = await inbox(f);
      const report = parseReport(dsn!);
      assert.equal(report.recipients[0]!.get('action'), 'relayed');
      assert.equal(report.recipients[0]!.get('status'), '2.0.0');
      assert.equal(`${report.returned.type}/${report.returned.subtype}`, 'text/rfc822-headers');
    } finally {
      await cleanup(f, worker, sink);
    }
  });
});
