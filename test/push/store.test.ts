// The push sub-store on SQLite and PostgreSQL: leases are exclusive (also between two handles on
// one database, as two nodes or processes), run out and can be retaken, and a stale lease records
// nothing; enqueueing is idempotent per modseq, refuses a payload built on a state another handle
// has moved since, and merges into an unsent notification; 24 h of failures suspend.
// Plus the worker's backoff and Retry-After arithmetic, and suspension driven through the worker.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import type { NewPushSubscription } from '../../src/store/push-store.js';
import { ManualClock } from '../../src/shared/clock.js';
import { deliverMessage } from '../../src/delivery/deliver.js';
import { backoffMs, parseRetryAfter, type SendReport } from '../../src/push/worker.js';
import { startPushHarness } from './harness.js';
import { startTestRelay, within } from './helpers.js';
import { engines, storeOverrides, type Engine } from '../harness/engines.js';

const hour = 3_600_000;

/** Two handles on one database (two nodes). */
async function withStores(engine: Engine, fn: (a: Store, b: Store, accountId: number) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pigeon-'));
  const { overrides, cleanup } = await storeOverrides(engine);
  const s = (overrides['store'] ?? {}) as { driver?: 'postgres'; url?: string };
  const open = () => openStore({ driver: s.driver ?? 'sqlite', url: s.url ?? '', dataDir: dir });
  const a = await open();
  const b = await open();
  try {
    await a.addDomain('example.com');
    const account = await a.createAccount({ email: 'alice@example.com', passwordHash: 'x' });
    await fn(a, b, account.id);
  } finally {
    await a.close();
    await b.close();
    await cleanup();
  }
}

function newSub(accountId: number, id: string, deviceId = id): NewPushSubscription {
  return {
    id, accountId, deviceId, deviceName: 'Phone', callbackUrl: 'https://relay.example/n', relayHost: 'relay.example', keys: null, mailboxes: ['INBOX'],
    secret: 's', codeHash: 'c', credentialFingerprint: 'f', remoteAddress: '192.0.2.1', createdAt: 1000, expiresAt: 10 * hour,
    verificationPayload: '{"type":"PushVerification"}',
  };
}

for (const engine of engines) describe(`push store (${engine})`, () => {
  test('a due row is leased by one handle only; an expired lease can be retaken and the stale holder records nothing', async () => {
    await withStores(engine, async (a, b, accountId) => {
      await a.push.createSubscription(newSub(accountId, 'ps_1'), { maxPerAccount: 20 });
      const [first, second] = await Promise.all([a.push.leaseDue(2000, 30_000, 10), b.push.leaseDue(2000, 30_000, 10)]);
      assert.equal(first.length + second.length, 1, 'one of the two handles got it');
      const item = (first[0] ?? second[0])!;
      assert.equal(item.kind, 'verification');
      assert.equal((await a.push.leaseDue(20_000, 30_000, 10)).length, 0, 'still leased');
      const [retaken] = await b.push.leaseDue(40_000, 30_000, 10);
      assert.ok(retaken, 'the lease ran out');
      assert.equal(await a.push.recordSuccess(item, 41_000), false, 'the first holder lost its lease');
      assert.equal(await a.push.recordFailure(item, { now: 41_000, error: 'x', retryAt: 42_000, end: false, suspendAfterMs: hour }), 'lost');
      assert.equal(await b.push.recordSuccess(retaken, 41_000), true);
      assert.equal(await a.push.nextDueAt(), null);
    });
  });

  test('a notification is queued once per modseq and merges into an unsent one', async () => {
    await withStores(engine, async (a, b, accountId) => {
      await a.push.createSubscription(newSub(accountId, 'ps_1'), { maxPerAccount: 20 });
      const base = { subscriptionId: 'ps_1', mailboxId: 1, uidNext: 5, urgency: 'normal' as const, now: 1000 };
      assert.equal(await a.push.enqueueNotification({ ...base, since: 3, modseq: 10, payload: 'p10' }), 'gone', 'pending subscriptions get nothing');
      assert.equal(await a.push.activate('ps_1', { now: 1000, mailboxes: [{ mailboxId: 1, notifiedModseq: 3, uidNext: 2 }] }), true);
      await a.push.leaseDue(1000, 1000, 10).then((items) => Promise.all(items.map((i) => a.push.recordSuccess(i, 1000))));
      assert.equal(await a.push.enqueueNotification({ ...base, since: 3, modseq: 10, payload: 'p10' }), 'queued');
      assert.equal(await b.push.enqueueNotification({ ...base, since: 3, modseq: 10, payload: 'p10 again' }), 'stale', 'another node saw the same change');
      assert.equal(await b.push.enqueueNotification({ ...base, since: 10, modseq: 11, payload: 'p11', urgency: 'high' }, (old) => `${old}+p11`), 'merged');
      const [item, ...rest] = await a.push.leaseDue(2000, 1000, 10);
      assert.equal(rest.length, 0);
      assert.equal(item!.payload, 'p10+p11');
      assert.equal(item!.urgency, 'high');
      assert.deepEqual(await a.push.getMailboxState('ps_1', 1), { mailboxId: 1, notifiedModseq: 11, uidNext: 5 });
      // A leased row is not merged into: the next change gets its own row.
      assert.equal(await a.push.enqueueNotification({ ...base, since: 11, modseq: 12, payload: 'p12' }), 'queued');
    });
  });

  test('a payload built on a state another node has moved since is refused as raced, and nothing changes', async () => {
    await withStores(engine, async (a, b, accountId) => {
      await a.push.createSubscription(newSub(accountId, 'ps_1'), { maxPerAccount: 20 });
      assert.equal(await a.push.activate('ps_1', { now: 1000, mailboxes: [{ mailboxId: 1, notifiedModseq: 3, uidNext: 2 }] }), true);
      const base = { subscriptionId: 'ps_1', mailboxId: 1, urgency: 'high' as const, now: 1000 };
      // Both nodes read the state (modseq 3, UIDNEXT 2); node A queues UID 2 (modseq 4) and it is sent.
      assert.equal(await a.push.enqueueNotification({ ...base, since: 3, modseq: 4, uidNext: 3, payload: 'uid 2' }), 'queued');
      for (const i of await a.push.leaseDue(2000, 30_000, 10)) assert.equal(await a.push.recordSuccess(i, 2000), true);
      // Node B's snapshot is newer (modseq 5, UIDNEXT 4) but its payload starts at UID 2 again.
      assert.equal(await b.push.enqueueNotification({ ...base, since: 3, modseq: 5, uidNext: 4, payload: 'uid 2, uid 3' }), 'raced');
      assert.deepEqual(await b.push.getMailboxState('ps_1', 1), { mailboxId: 1, notifiedModseq: 4, uidNext: 3 });
      assert.equal(await b.push.nextDueAt(), null, 'nothing queued');
      // Rebuilt on the current state it names UID 3 only.
      assert.equal(await b.push.enqueueNotification({ ...base, since: 4, modseq: 5, uidNext: 4, payload: 'uid 3' }), 'queued');
      assert.deepEqual((await a.push.leaseDue(3000, 30_000, 10)).map((i) => i.payload), ['uid 3']);
      // A mailbox without state counts as modseq 0.
      assert.equal(await a.push.enqueueNotification({ ...base, mailboxId: 2, since: 1, modseq: 2, uidNext: 2, payload: 'x' }), 'raced');
      assert.equal(await a.push.enqueueNotification({ ...base, mailboxId: 2, since: 0, modseq: 2, uidNext: 2, payload: 'x' }), 'queued');
    });
  });

  test('failures for 24 h suspend; 404/410 end; renewal reactivates a suspended subscription', async () => {
    await withStores(engine, async (a, _b, accountId) => {
      await a.push.createSubscription(newSub(accountId, 'ps_1'), { maxPerAccount: 20 });
      await a.push.activate('ps_1', { now: 1000, mailboxes: [] });
      let now = 1000;
      const fail = async (): Promise<string> => {
        const [item] = await a.push.leaseDue(now, 1000, 1);
        return a.push.recordFailure(item!, { now, error: 'HTTP 500', retryAt: now, end: false, suspendAfterMs: 24 * hour });
      };
      assert.equal(await fail(), 'retry');
      now += 23 * hour;
      assert.equal(await fail(), 'retry');
      assert.equal((await a.push.getSubscription('ps_1'))!.state, 'active');
      await a.push.enqueueNotification({ subscriptionId: 'ps_1', mailboxId: 1, since: 0, modseq: 2, uidNext: 1, payload: 'n', urgency: 'normal', now });
      now += hour;
      assert.equal(await fail(), 'suspended');
      const s = (await a.push.getSubscription('ps_1'))!;
      assert.equal(s.state, 'suspended');
      assert.equal(s.lastError, 'HTTP 500');
      assert.equal(await a.push.nextDueAt(), null, 'nothing more is sent');
      assert.equal((await a.push.activeForAccount(accountId)).length, 0);
      assert.equal(await a.push.renew('ps_1', 100 * hour), true);
      assert.equal((await a.push.getSubscription('ps_1'))!.state, 'active');
      await a.push.enqueueNotification({ subscriptionId: 'ps_1', mailboxId: 1, since: 2, modseq: 3, uidNext: 1, payload: 'n', urgency: 'normal', now });
      const [item] = await a.push.leaseDue(now, 1000, 1);
      assert.equal(await a.push.recordFailure(item!, { now, error: 'HTTP 410', retryAt: now, end: true, suspendAfterMs: 24 * hour }), 'ended');
      assert.equal(await a.push.getSubscription('ps_1'), undefined);
    });
  });

  test('the per-account limit counts other devices; removing the account ends its subscriptions', async () => {
    await withStores(engine, async (a, _b, accountId) => {
      await a.push.createSubscription(newSub(accountId, 'ps_1', 'd1'), { maxPerAccount: 2 });
      await a.push.createSubscription(newSub(accountId, 'ps_2', 'd2'), { maxPerAccount: 2 });
      const replaced = await a.push.createSubscription(newSub(accountId, 'ps_3', 'd2'), { maxPerAccount: 2 });
      assert.equal(replaced.replaced, 'ps_2');
      await assert.rejects(a.push.createSubscription(newSub(accountId, 'ps_4', 'd3'), { maxPerAccount: 2 }), /already has 2/);
      await a.removeAccount(accountId);
      assert.deepEqual(await a.push.listSubscriptions(), []);
      assert.deepEqual(await a.check(), []);
    });
  });
});

describe('retry timing', () => {
  test('backoff doubles from the initial delay with ±20 % jitter and stops at the maximum', () => {
    const o = { initialMs: 1000, maxMs: hour };
    assert.equal(backoffMs(1, { ...o, random: () => 0.5 }), 1000);
    assert.equal(backoffMs(2, { ...o, random: () => 0.5 }), 2000);
    assert.equal(backoffMs(4, { ...o, random: () => 0 }), 6400);
    assert.equal(backoffMs(4, { ...o, random: () => 1 }), 9600);
    assert.equal(backoffMs(30, { ...o, random: () => 1 }), hour);
    assert.equal(backoffMs(1000, { ...o, random: () => 0.5 }), hour);
  });

  test('Retry-After is read as seconds or an HTTP-date', () => {
    const now = Date.UTC(2026, 0, 1);
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter(new Date(now + 30_000).toUTCString(), now), 30_000);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
  });

  test('a relay failing for 24 hours gets the subscription suspended (clock moved)', async () => {
    const clock = new ManualClock(Date.now());
    const relay = await startTestRelay();
    const h = await startPushHarness({ clock, push: { retry_initial_ms: 1000 } });
    try {
      await h.addUser('alice@example.com', 'alice pw');
      await h.store.updateDomainSettings('example.com', { pushEnabled: true, pushAllowedHosts: ['127.0.0.1'] });
      const auth: [string, string] = ['alice@example.com', 'alice pw'];
      const r = await h.call('POST', '/push/v1/example.com/subscriptions', { auth, body: { deviceId: 'd1', callbackUrl: relay.url } });
      const id = r.json!['id'] as string;
      const code = (JSON.parse((await relay.next()).body.toString()) as { verificationCode: string }).verificationCode;
      const activationPing = new Promise((resolve) => h.push.events.on('attempt', (x) => x.kind === 'notification' && resolve(x)));
      assert.equal((await h.call('POST', `/push/v1/example.com/subscriptions/${id}/activate`, { auth, body: { verificationCode: code } })).status, 200);
      await relay.next();
      await within(activationPing, 20_000, 'the activation ping');
      h.push.events.removeAllListeners('attempt');
      relay.script(...Array<number>(100).fill(503));
      const reports: SendReport[] = [];
      let wake: (() => void) | undefined;
      h.push.events.on('attempt', (x) => {
        reports.push(x);
        wake?.();
      });
      const nextAttempt = () => within(new Promise<void>((resolve) => (wake = resolve)), 20_000, 'a push attempt');
      let waiting = nextAttempt();
      await deliverMessage(h.store, { raw: Buffer.from('Subject: x\r\n\r\nx\r\n'), recipients: ['alice@example.com'] });
      await waiting;
      for (let i = 0; i < 60 && reports.at(-1)!.outcome === 'retry'; i++) {
        clock.advance(hour);
        waiting = nextAttempt();
        h.push.kick();
        await waiting;
      }
      assert.equal(reports.at(-1)!.outcome, 'suspended');
      assert.ok(reports.length >= 12 && reports.length <= 40, `attempts: ${reports.length}`);
      assert.equal((await h.store.push.getSubscription(id))!.state, 'suspended');
    } finally {
      await h.close();
      await relay.close();
    }
  });
});
