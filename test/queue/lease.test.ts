// Two workers on two handles of one database (as two processes or nodes would be) share the
// queue through leases: every recipient is delivered once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../src/store/open.js';
import { SmtpSink } from '../harness/smtp-sink.js';
import { fixture, message } from './fixture.js';

test('leases split due recipients between two store handles, and two workers deliver each message once', { timeout: 30_000 }, async () => {
  const f = await fixture({ concurrency: 3 });
  const other = await openStore({ driver: 'sqlite', url: '', dataDir: f.dir, clock: f.clock });
  const sink = await SmtpSink.start();
  try {
    const n = 30;
    for (let i = 0; i < n; i++) {
      await f.store.enqueueMessage({ sender: 'alice@example.com', recipients: [{ address: `u${i}@d${i % 3}.test`, notify: [], orcpt: null }], raw: message({ id: `m${i}` }), dsnRet: null, dsnEnvid: null, accountId: 1 });
    }
    const now = f.clock.now();
    const [a, b] = await Promise.all([f.store.queue.leaseDue({ now, leaseMs: 60_000, limit: 20 }), other.queue.leaseDue({ now, leaseMs: 60_000, limit: 20 })]);
    const ids = [...a, ...b].flatMap((m) => m.recipients.map((r) => r.id));
    assert.equal(ids.length, n, 'every recipient leased once');
    assert.equal(new Set(ids).size, n);
    for (const m of [...a, ...b]) await (a.includes(m) ? f.store : other).queue.release(m.leaseToken);

    const w1 = await f.worker(sink.port);
    const w2 = await f.worker(sink.port, { store: other });
    await sink.waitForMessages(n);
    await Promise.all([w1.idle(), w2.idle()]);
    await Promise.all([w1.close(), w2.close()]);
    const got = sink.messages.map((m) => /Message-ID: <(m\d+)@/.exec(m.data.toString())![1]).sort();
    assert.deepEqual(got, Array.from({ length: n }, (_, i) => `m${i}`).sort());
    assert.equal(w1.stats.delivered + w2.stats.delivered, n);
    assert.equal((await f.store.listQueue()).length, 0);
  } finally {
    await sink.close();
    await other.close();
    await f.store.close();
  }
});
