import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { SmtpSink } from '../harness/smtp-sink.js';
import { fixture, message, type Fixture } from './fixture.js';
import type { QueueWorker } from '../../src/queue/worker.js';

async function cleanup(f: Fixture, worker: QueueWorker | undefined, sink: SmtpSink | undefined): Promise<void> {
  await worker?.close({ timeoutMs: 1000 });
  await sink?.close();
  await f.store.close();
}

describe('outbound delivery to a remote SMTP server', { timeout: 30_000 }, () => {
  test('a queued message reaches the MX host once, with its envelope, and leaves the queue', async () => {
    const f = await fixture();
    const sink = await SmtpSink.start();
    const worker = await f.worker(sink.port);
    try {
      const raw = message();
      const q = await f.store.enqueueMessage({ sender: 'alice@example.com', recipients: [{ address: 'bob@remote.test', notify: [], orcpt: null }], raw, dsnRet: null, dsnEnvid: null, accountId: null });
      worker.kick();
      const [tx] = await sink.waitForMessages(1);
      assert.equal(tx!.from, 'alice@example.com');
      assert.deepEqual(tx!.to, ['bob@remote.test']);
      assert.equal(tx!.data.toString('latin1').replace(/\r\n$/, ''), raw.toString('latin1').replace(/\r\n$/, ''));
      await worker.idle();
      assert.equal(await f.store.getQueuedMessage(q.id), undefined);
      assert.equal(worker.stats.delivered, 1);
      assert.deepEqual(await f.store.check(), []);
    } finally {
      await cleanup(f, worker, sink);
    }
  });

  test('recipients of two domains go in two transactions; per-recipient refusals are kept apart', async () => {
    const f = await fixture();
    const sink = await SmtpSink.start({ rcpt: (a) => (a.startsWith('nobody@') ? '550 5.1.1 no such user' : '250 2.1.5 OK') });
    const worker = await f.worker(sink.port);
    try {
      await f.store.enqueueMessage({
        sender: '', raw: message(), dsnRet: null, dsnEnvid: null, accountId: null,
        recipients: ['bob@remote.test', 'carol@other.test', 'nobody@remote.test'].map((address) => ({ address, notify: [], orcpt: null })),
      });
      worker.kick();
      await sink.waitForMessages(2);
      await worker.idle();
      const to = sink.messages.map((m) => m.to.join(',')).sort();
      assert.deepEqual(to, ['bob@remote.test', 'carol@other.test']);
      assert.equal(worker.stats.failed, 1);
      assert.equal((await f.store.listQueue()).length, 0, 'null sender: no bounce, nothing left');
    } finally {
      await cleanup(f, worker, sink);
    }
  });

  test('a 4xx answer is retried after the backoff, with the clock moved instead of sleeping', async () => {
    const f = await fixture({ retry_schedule_minutes: '5, 10' });
    let refusals = 1;
    const sink = await SmtpSink.start({ rcpt: () => (refusals-- > 0 ? '451 4.3.0 try later' : '250 2.1.5 OK') });
    const worker = await f.worker(sink.port);
    try {
      const q = await f.store.enqueueMessage({ sender: 'alice@example.com', recipients: [{ address: 'bob@remote.test', notify: [], orcpt: null }], raw: message(), dsnRet: null, dsnEnvid: null, accountId: 1 });
      worker.kick();
      await worker.idle();
      let [r] = (await f.store.getQueuedMessage(q.id))!.recipients;
      assert.equal(r!.state, 'deferred');
      assert.equal(r!.attempts, 1);
      assert.equal(r!.nextAttemptAt, f.clock.now() + 5 * 60_000);
      assert.match(r!.lastError ?? '', /^451 4\.3\.0/);
      // Not due yet: a kick does nothing.
      f.clock.advance(4 * 60_000);
      worker.kick();
      await worker.idle();
      assert.equal(sink.messages.length, 0);
      f.clock.advance(60_000);
      worker.kick();
      await sink.waitForMessages(1);
      await worker.idle();
      assert.equal(await f.store.getQueuedMessage(q.id), undefined);
      assert.equal(worker.stats.deferred, 1);
      assert.equal(worker.stats.delivered, 1);
    } finally {
      await cleanup(f, worker, sink);
    }
  });

  test('an unreachable host is a temporary failure', async () => {
    const f = await fixture();
    const sink = await SmtpSink.start();
    const port = sink.port;
    await sink.close();
    const worker = await f.worker(port);
    try {
      const q = await f.store.enqueueMessage({ sender: 'alice@example.com', recipients: [{ address: 'bob@remote.test', notify: [], orcpt: null }], raw: message(), dsnRet: null, dsnEnvid: null, accountId: 1 });
      worker.kick();
      await worker.idle();
      const [r] = (await f.store.getQueuedMessage(q.id))!.recipients;
      assert.equal(r!.state, 'deferred');
      assert.match(r!.lastError ?? '', /ECONNREFUSED|connect/i);
    } finally {
      await cleanup(f, worker, undefined);
    }
  });

  test('closing with a timeout cuts a stuck connection and keeps its recipient queued', async () => {
    const f = await fixture();
    const sink = await SmtpSink.start({ beforeDataReply: () => new Promise<void>((resolve) => sink.once('closing', resolve)) });
    const worker = await f.worker(sink.port);
    try {
      const q = await f.store.enqueueMessage({ sender: 'alice@example.com', recipients: [{ address: 'bob@remote.test', notify: [], orcpt: null }], raw: message(), dsnRet: null, dsnEnvid: null, accountId: 1 });
      const mail = once(sink, 'mail');
      worker.kick();
      await mail;
      await worker.close({ timeoutMs: 200 });
      const [r] = (await f.store.getQueuedMessage(q.id))!.recipients;
      assert.equal(r!.state, 'deferred');
      assert.equal(r!.attempts, 1);
    } finally {
      sink.emit('closing');
      await cleanup(f, undefined, sink);
    }
  });

  test('a restart in the middle of a queue run loses nothing and delivers each recipient once', async () => {
    const f = await fixture({ concurrency: 2, per_domain_concurrency: 2 });
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let held = 0;
    const sink = await SmtpSink.start({
      beforeDataReply: async () => {
        held += 1;
        sink.emit('held');
        if (held <= 2) await gate;
      },
    });
    let worker = await f.worker(sink.port);
    try {
      const n = 12;
      for (let i = 0; i < n; i++) {
        await f.store.enqueueMessage({ sender: 'alice@example.com', recipients: [{ address: `u${i}@remote.test`, notify: [], orcpt: null }], raw: message({ id: `m${i}` }), dsnRet: null, dsnEnvid: null, accountId: 1 });
      }
      worker.kick();
      while (held < 2) await once(sink, 'held');
      // Two transactions wait for their final reply; stop the worker (it lets them finish) and the store.
      const closing = worker.close({ timeoutMs: 5000 });
      release();
      await closing;
      await f.store.close();
      const before = sink.messages.length;
      assert.ok(before < n, `only part of the queue was delivered before the restart (${before})`);
      await f.reopen();
      assert.equal((await f.store.listQueue()).length, n - before);
      worker = await f.worker(sink.port);
      await sink.waitForMessages(n);
      await worker.idle();
      const ids = sink.messages.map((m) => /Message-ID: <(m\d+)@/.exec(m.data.toString())![1]).sort();
      assert.deepEqual(ids, Array.from({ length: n }, (_, i) => `m${i}`).sort());
      assert.equal((await f.store.listQueue()).length, 0);
    } finally {
      await cleanup(f, worker, sink);
    }
  });
});
