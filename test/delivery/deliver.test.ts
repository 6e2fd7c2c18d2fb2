import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { deliverFromCli, deliverMessage, resolveRecipient } from '../../src/delivery/deliver.js';

const message = Buffer.from('From: Sender <s@example.org>\r\nTo: team@example.com\r\nSubject: Hello there\r\nMessage-ID: <m1@example.org>\r\n\r\nBody.\r\n');

async function setup(t: { after(fn: () => Promise<void>): void }): Promise<{ store: Store; ids: Record<string, number> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pigeon-'));
  const store = await openStore({ driver: 'sqlite', url: '', dataDir: dir });
  t.after(async () => {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await store.addDomain('example.com');
  await store.addDomain('example.net');
  const ids: Record<string, number> = {};
  for (const email of ['alice@example.com', 'bob@example.com', 'carol@example.net']) {
    ids[email] = (await store.createAccount({ email, passwordHash: 'x' })).id;
  }
  return { store, ids };
}

async function inboxUids(store: Store, accountId: number, name = 'INBOX'): Promise<number[]> {
  const mb = (await store.getMailbox(accountId, name))!;
  return (await store.listMessageStates(mb.id)).map((m) => m.uid);
}

describe('deliverMessage', () => {
  test('delivers to an account, indexed and durable, into INBOX', async (t) => {
    const { store, ids } = await setup(t);
    const [r] = await deliverMessage(store, { raw: message, recipients: ['Alice@EXAMPLE.com'] });
    assert.equal(r!.status, 'delivered');
    assert.deepEqual(r!.deliveries.map((d) => [d.accountId, d.uid]), [[ids['alice@example.com'], 1]]);
    const [rec] = await store.getMessages(r!.deliveries[0]!.mailboxId, [1]);
    assert.equal(rec!.index.envelope.subject, 'Hello there');
    assert.deepEqual(await store.readBlob(rec!.blobHash), message);
  });

  test('an alias expands to its accounts (through other aliases) and reports remote targets', async (t) => {
    const { store, ids } = await setup(t);
    await store.addAlias('team@example.com', ['alice@example.com', 'devs@example.com', 'Partner@Other.ORG']);
    await store.addAlias('devs@example.com', ['bob@example.com', 'carol@example.net', 'team@example.com']);
    const [r] = await deliverMessage(store, { raw: message, recipients: ['team@example.com'] });
    assert.equal(r!.status, 'delivered');
    assert.deepEqual(r!.deliveries.map((d) => d.accountId).sort(), [ids['alice@example.com'], ids['bob@example.com'], ids['carol@example.net']].sort());
    assert.deepEqual(r!.remote, ['Partner@other.org']);
    const res = await resolveRecipient(store, 'TEAM@example.com');
    assert.equal(res.kind, 'local');
  });

  test('an account reached twice (directly and through an alias) gets one copy', async (t) => {
    const { store, ids } = await setup(t);
    await store.addAlias('info@example.com', ['alice@example.com', 'ALICE@example.com']);
    const results = await deliverMessage(store, { raw: message, recipients: ['alice@example.com', 'info@example.com', 'alice@example.com'] });
    assert.deepEqual(results.map((r) => r.status), ['delivered', 'delivered', 'delivered']);
    assert.deepEqual(await inboxUids(store, ids['alice@example.com']!), [1]);
    assert.deepEqual(results[1]!.deliveries, results[0]!.deliveries);
  });

  test('the catch-all takes unknown local parts; without one they are unknown', async (t) => {
    const { store, ids } = await setup(t);
    const [unknown] = await deliverMessage(store, { raw: message, recipients: ['nobody@example.com'] });
    assert.equal(unknown!.status, 'unknown');
    assert.deepEqual(await resolveRecipient(store, 'nobody@example.com'), { kind: 'unknown' });
    await store.addAlias('@example.com', ['bob@example.com']);
    const [caught] = await deliverMessage(store, { raw: message, recipients: ['nobody@example.com'] });
    assert.equal(caught!.status, 'delivered');
    assert.deepEqual(await inboxUids(store, ids['bob@example.com']!), [1]);
    // Accounts still win over the catch-all.
    await deliverMessage(store, { raw: message, recipients: ['alice@example.com'] });
    assert.deepEqual(await inboxUids(store, ids['alice@example.com']!), [1]);
    assert.deepEqual(await inboxUids(store, ids['bob@example.com']!), [1]);
  });

  test('a catch-all pointing into its own domain does not loop', async (t) => {
    const { store } = await setup(t);
    await store.addAlias('@example.com', ['ghost@example.com']);
    const [r] = await deliverMessage(store, { raw: message, recipients: ['someone@example.com'] });
    assert.equal(r!.status, 'unknown');
  });

  test('an alias chain deeper than the limit fails clearly', async (t) => {
    const { store } = await setup(t);
    for (let i = 0; i < 12; i++) await store.addAlias(`a${i}@example.com`, [`a${i + 1}@example.com`]);
    await store.addAlias('a12@example.com', ['alice@example.com']);
    const [r] = await deliverMessage(store, { raw: message, recipients: ['a0@example.com'] });
    assert.equal(r!.status, 'failed');
    assert.match(r!.message, /deeper than/);
  });

  test('remote and unknown-domain recipients are not delivered', async (t) => {
    const { store } = await setup(t);
    assert.deepEqual(await resolveRecipient(store, 'x@other.org'), { kind: 'remote' });
    const [r] = await deliverMessage(store, { raw: message, recipients: ['x@other.org'] });
    assert.equal(r!.status, 'failed');
    assert.deepEqual(r!.deliveries, []);
  });

  test('an over-quota account gets over-quota, the others still receive', async (t) => {
    const { store, ids } = await setup(t);
    await store.updateAccount(ids['bob@example.com']!, { quota: 10 });
    await store.addAlias('both@example.com', ['alice@example.com', 'bob@example.com']);
    const [bob, both] = await deliverMessage(store, { raw: message, recipients: ['bob@example.com', 'both@example.com'] });
    assert.equal(bob!.status, 'over-quota');
    assert.equal(both!.status, 'delivered');
    assert.match(both!.message, /in part/);
    assert.deepEqual(await inboxUids(store, ids['bob@example.com']!), []);
    assert.deepEqual(await inboxUids(store, ids['alice@example.com']!), [1]);
  });

  test('the mailbox option delivers into that folder when it exists, INBOX otherwise', async (t) => {
    const { store, ids } = await setup(t);
    await store.createMailbox(ids['alice@example.com']!, 'Lists/Pigeon');
    await deliverMessage(store, { raw: message, recipients: ['alice@example.com', 'bob@example.com'], mailbox: 'Lists/Pigeon', flags: ['\\Seen'] });
    assert.deepEqual(await inboxUids(store, ids['alice@example.com']!, 'Lists/Pigeon'), [1]);
    assert.deepEqual(await inboxUids(store, ids['alice@example.com']!), []);
    assert.deepEqual(await inboxUids(store, ids['bob@example.com']!), [1]);
    const mb = (await store.getMailbox(ids['bob@example.com']!, 'INBOX'))!;
    assert.deepEqual((await store.listMessageStates(mb.id))[0]!.flags, ['\\Seen']);
  });
});

describe('deliverFromCli (pigeon deliver)', () => {
  test('exit codes follow sysexits: 0 delivered, 67 unknown user, 75 over quota', async (t) => {
    const { store, ids } = await setup(t);
    const lines: string[] = [];
    const report = (l: string) => lines.push(l);
    assert.equal(await deliverFromCli(store, { recipients: ['alice@example.com'], raw: message, report }), 0);
    assert.equal(await deliverFromCli(store, { recipients: ['nobody@example.com'], raw: message, report }), 67);
    await store.updateAccount(ids['bob@example.com']!, { quota: 1 });
    assert.equal(await deliverFromCli(store, { recipients: ['bob@example.com', 'nobody@example.com'], raw: message, report }), 75);
    assert.ok(lines.some((l) => l.startsWith('bob@example.com: over-quota')));
  });

  test('remote alias targets are put on the outbound queue', async (t) => {
    const { store } = await setup(t);
    await store.addAlias('fwd@example.com', ['someone@other.org']);
    assert.equal(await deliverFromCli(store, { recipients: ['fwd@example.com'], raw: message, sender: 's@example.org', report: () => {} }), 0);
    const queue = await store.listQueue();
    assert.equal(queue.length, 1);
    assert.deepEqual(queue[0]!.recipients.map((r) => r.address), ['someone@other.org']);
    assert.equal(queue[0]!.sender, 's@example.org');
  });
});
