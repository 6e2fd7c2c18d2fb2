// Several Pigeon nodes on one PostgreSQL database (in-process Pigeons, plus a child-process queue
// worker that is killed): changes cross nodes through LISTEN/NOTIFY, UIDs and MODSEQs stay right
// under concurrent delivery through both nodes, each new message is named in one push notification
// although both nodes' notifiers see every change, and a node killed mid-delivery leaves each
// queued message delivered exactly once.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { startTestPigeon, type TestPigeon } from '../harness/pigeon.js';
import { createTestDatabase, hasPostgres } from '../harness/engines.js';
import { openStore } from '../../src/store/open.js';
import { buildConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/shared/logger.js';
import { startQueueWorker } from '../../src/queue/worker.js';
import { api, startTestRelay } from '../push/helpers.js';
import { imapConnect, sendSmtp } from './clients.js';
import { SmtpSink } from './smtp-sink.js';

async function twoNodes(fn: (a: TestPigeon, b: TestPigeon) => Promise<void>, extra: Record<string, unknown> = {}): Promise<void> {
  const db = await createTestDatabase();
  const started: TestPigeon[] = [];
  try {
    const a = await startTestPigeon({ store: { driver: 'postgres', url: db.url }, ...extra });
    started.push(a);
    const b = await startTestPigeon({ store: { driver: 'postgres', url: db.url }, ...extra });
    started.push(b);
    await a.addUser('alice@example.com', 'alice pw');
    await fn(a, b);
  } finally {
    for (const p of started) await p.close({ timeoutMs: 0 });
    await db.drop();
  }
}

interface PushWatch {
  /** The subjects in each MailboxChange's newMessages, in the order the relay got them. */
  subjects: string[][];
  /** Wait until every one of these subjects has been named. */
  upTo(...subjects: string[]): Promise<void>;
}

/** Two nodes with push on for example.com and a relay; alice's INBOX subscription is made through
 *  node A and activated through node B (any node serves any request). */
async function withPush(fn: (a: TestPigeon, b: TestPigeon, push: PushWatch) => Promise<void>): Promise<void> {
  const relay = await startTestRelay();
  try {
    await twoNodes(async (a, b) => {
      await a.store.updateDomainSettings('example.com', { pushEnabled: true, pushDetails: true, pushAllowedHosts: ['127.0.0.1'] });
      const alice: [string, string] = ['alice@example.com', 'alice pw'];
      const sub = await api(a.ports['https']!, 'POST', '/push/v1/example.com/subscriptions', {
        auth: alice, body: { deviceId: 'phone-1', deviceName: 'Phone', callbackUrl: relay.url, mailboxes: ['INBOX'] },
      });
      assert.equal(sub.status, 201, JSON.stringify(sub.json));
      const id = sub.json!['id'] as string;
      const type = (r: { body: Buffer }) => (JSON.parse(r.body.toString('utf8')) as Record<string, unknown>)['type'];
      const verification = await relay.until((r) => type(r) === 'PushVerification');
      const code = (JSON.parse(verification.body.toString('utf8')) as Record<string, unknown>)['verificationCode'] as string;
      const act = await api(b.ports['https']!, 'POST', `/push/v1/example.com/subscriptions/${id}/activate`, { auth: alice, body: { verificationCode: code } });
      assert.equal(act.status, 200, JSON.stringify(act.json));
      // Every MailboxChange the relay gets (the activation mail is new mail too).
      const subjects: string[][] = [];
      const record = (r: { body: Buffer }) => {
        if (type(r) !== 'MailboxChange') return;
        const body = JSON.parse(r.body.toString('utf8')) as { newMessages?: Array<{ subject?: string }> };
        subjects.push((body.newMessages ?? []).map((m) => m.subject ?? ''));
      };
      const named = (subject: string) => subjects.some((list) => list.includes(subject));
      const upTo = async (...wanted: string[]) => {
        if (wanted.every(named)) return;
        await relay.until((r) => (record(r), wanted.every(named)));
      };
      await fn(a, b, { subjects, upTo });
    }, { push: { coalesce_ms: 20, retry_initial_ms: 20 } });
  } finally {
    await relay.close();
  }
}

describe('several nodes on one PostgreSQL', { skip: hasPostgres ? false : 'PostgreSQL not reachable' }, () => {
  test('IDLE on node A sees a message sent over SMTP to node B within a second', async () => {
    await twoNodes(async (a, b) => {
      const imap = await imapConnect(a.ports['imaps']!);
      try {
        await imap.mailboxOpen('INBOX');
        const exists = new Promise<{ count: number }>((resolve) => imap.once('exists', resolve));
        const idle = imap.idle();
        await sendSmtp(b.ports['smtp']!, { subject: 'via node B' });
        const accepted = Date.now();
        const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no EXISTS on node A within 1 s')), 1000).unref());
        assert.equal((await Promise.race([exists, timer])).count, 1);
        assert.ok(Date.now() - accepted < 1000);
        await imap.noop();
        await idle;
        const msg = await imap.fetchOne('1', { envelope: true });
        assert.ok(msg);
        assert.equal(msg.envelope?.subject, 'via node B');
      } finally {
        await imap.logout();
      }
    });
  });

  test('8 concurrent deliveries through both nodes get 8 distinct UIDs and strictly increasing MODSEQs', async () => {
    await twoNodes(async (a, b) => {
      await Promise.all(Array.from({ length: 8 }, (_, i) => sendSmtp((i % 2 ? a : b).ports['smtp']!, { subject: `concurrent ${i}` })));
      const imap = await imapConnect(b.ports['imaps']!);
      try {
        const box = await imap.mailboxOpen('INBOX');
        assert.equal(box.exists, 8);
        const uids: number[] = [];
        for await (const m of imap.fetch('1:*', { uid: true })) uids.push(m.uid);
        assert.deepEqual(uids, [1, 2, 3, 4, 5, 6, 7, 8]);
      } finally {
        await imap.logout();
      }
      const inbox = (await a.store.getMailbox((await a.store.getAccountByEmail('alice@example.com'))!.id, 'INBOX'))!;
      const states = await b.store.listMessageStates(inbox.id);
      const modseqs = states.map((s) => s.modseq);
      for (let i = 1; i < modseqs.length; i++) assert.ok(modseqs[i]! > modseqs[i - 1]!, `modseq ${modseqs[i]} after ${modseqs[i - 1]}`);
      assert.equal(inbox.highestModseq, modseqs.at(-1));
      assert.equal(inbox.uidNext, 9);
      assert.deepEqual(await a.store.check(), []);
    });
  });

  test('a push notification is sent exactly once although both nodes see the change', async () => {
    await withPush(async (a, b, push) => {
      await sendSmtp(b.ports['smtp']!, { subject: 'push me' });
      await push.upTo('push me');
      // Both notifiers saw that change (node B locally, node A through NOTIFY). A later message
      // through node A is notified after any duplicate of the first could have been sent.
      await sendSmtp(a.ports['smtp']!, { subject: 'marker' });
      await push.upTo('marker');
      assert.equal(push.subjects.filter((list) => list.includes('push me')).length, 1, JSON.stringify(push.subjects));
    });
  });

  test('messages delivered at once through both nodes are each named in exactly one notification', async () => {
    await withPush(async (a, b, push) => {
      // Overlapping notifier runs on both nodes, each reading the mailbox at a different moment.
      const burst = Array.from({ length: 8 }, (_, i) => `burst ${i}`);
      await Promise.all(burst.map((subject, i) => sendSmtp((i % 2 ? a : b).ports['smtp']!, { subject })));
      await push.upTo(...burst);
      await sendSmtp(a.ports['smtp']!, { subject: 'marker' });
      await push.upTo('marker');
      const named = push.subjects.flat();
      assert.deepEqual(named.filter((s, i) => named.indexOf(s) !== i), [], JSON.stringify(push.subjects));
    });
  });

  test('killing node B during a queue run leaves every message delivered exactly once by node A', async () => {
    const db = await createTestDatabase();
    const sink = await SmtpSink.start({ hold: (ehlo) => ehlo === 'node-b.example.test' });
    const store = await openStore({ driver: 'postgres', url: db.url, dataDir: '/nonexistent' });
    let child: ReturnType<typeof spawn> | undefined;
    try {
      const ids: string[] = [];
      for (let i = 0; i < 6; i++) {
        const raw = Buffer.from(`From: alice@example.com\r\nTo: x${i}@remote.example\r\nSubject: out ${i}\r\nMessage-ID: <out${i}@example.com>\r\n\r\nbody ${i}\r\n`);
        ids.push(`<out${i}@example.com>`);
        await store.enqueueMessage({ sender: 'alice@example.com', recipients: [{ address: `x${i}@remote.example`, notify: ['NEVER'], orcpt: null }], raw, dsnRet: null, dsnEnvid: null, accountId: null });
      }
      // Node B (a child process) leases the queue and hangs in DATA at the sink; then it is killed.
      // Compiled (npm test) the node is queue-node.js beside this file; under tsx it is the .ts.
      const compiled = import.meta.url.endsWith('.js');
      const entry = fileURLToPath(new URL(compiled ? './queue-node.js' : './queue-node.ts', import.meta.url));
      child = spawn(process.execPath, [...(compiled ? [] : ['--import', 'tsx']), entry, db.url, String(sink.port), '1500', 'node-b.example.test'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const [held] = (await once(sink, 'held')) as [{ messageId: string }];
      assert.ok(ids.includes(held.messageId));
      const leased = (await store.listQueue()).length;
      assert.equal(leased, 6, 'nothing delivered yet');
      child.kill('SIGKILL');
      await once(child, 'exit');
      // Node A works the same queue once B's leases run out.
      const config = buildConfig({ hostname: 'node-a.example.test', data_dir: '/nonexistent', queue: { smarthost: `127.0.0.1:${sink.port}`, smarthost_tls: 'none' } }, { env: {} });
      const worker = await startQueueWorker({ config, store, logger: silentLogger(), pollMs: 200 });
      try {
        worker.kick();
        while (sink.delivered.length < ids.length) await once(sink, 'delivered');
        await worker.idle();
      } finally {
        await worker.close({ timeoutMs: 0 });
      }
      assert.deepEqual(sink.delivered.map((m) => m.messageId).sort(), [...ids].sort(), 'each message once');
      assert.ok(sink.delivered.every((m) => m.ehlo === 'node-a.example.test'));
      assert.deepEqual(await store.listQueue(), []);
      assert.deepEqual(await store.check(), []);
    } finally {
      child?.kill('SIGKILL');
      await store.close();
      await sink.close();
      await db.drop();
    }
  });
});
