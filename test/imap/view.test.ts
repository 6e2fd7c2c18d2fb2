// The selected-mailbox view against a real store: sequence sets, and how other sessions' changes
// are held back or announced (RFC 9051 §7.5.1: EXPUNGE only where allowed; numbering stable).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { indexMessage } from '../../src/mail/parse.js';
import { silentLogger } from '../../src/shared/logger.js';
import { MailboxView } from '../../src/imap/session/view.js';

async function withMailbox(count: number, fn: (store: Store, mailboxId: number) => Promise<void>): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pigeon-'));
  const store = await openStore({ driver: 'sqlite', url: '', dataDir: dir, logger: silentLogger() });
  try {
    await store.addDomain('example.com');
    const account = await store.createAccount({ email: 'v@example.com', passwordHash: 'x' });
    const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
    for (let i = 0; i < count; i++) await append(store, inbox.id, i);
    await fn(store, inbox.id);
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function append(store: Store, mailboxId: number, i: number): Promise<number> {
  const raw = Buffer.from(`Subject: m${i}\r\n\r\nbody ${i}\r\n`);
  return (await store.appendMessage(mailboxId, { raw, index: indexMessage(raw) })).uid;
}

describe('MailboxView', () => {
  test('resolves sequence sets with *, reversed ranges and UIDs that match nothing', async () => {
    await withMailbox(4, async (store, id) => {
      const view = await MailboxView.open(store, id, { readOnly: false, trackRecent: false });
      assert.equal(view.exists, 4);
      assert.deepEqual(view.resolve([{ start: 3, end: '*' }], false), [{ seq: 3, uid: 3 }, { seq: 4, uid: 4 }]);
      assert.deepEqual(view.resolve([{ start: 2, end: 1 }, { start: 1, end: 1 }], false).map((m) => m.seq), [1, 2]);
      assert.deepEqual(view.resolve([{ start: 3, end: 100 }], true).map((m) => m.uid), [3, 4]);
      assert.deepEqual(view.resolve([{ start: 50, end: 60 }], true), []);
      assert.deepEqual(view.resolve([{ start: '*', end: '*' }], true).map((m) => m.uid), [4]);
      assert.throws(() => view.resolve([{ start: 5, end: 5 }], false), RangeError);
      assert.throws(() => view.resolve([{ start: 0, end: 1 }], false), RangeError);
    });
  });

  test('holds an expunge back until allowed, announcing new messages and flag changes meanwhile', async () => {
    await withMailbox(3, async (store, id) => {
      const view = await MailboxView.open(store, id, { readOnly: false, trackRecent: false });
      await store.expunge(id, [2]);
      const uid4 = await append(store, id, 4);
      await store.storeFlags(id, [3], { mode: 'add', flags: ['\\Flagged'] });
      await view.sync();
      const first = view.flush({ allowExpunge: false });
      assert.deepEqual(first.map((e) => e.kind), ['exists', 'flags']);
      assert.deepEqual(first[0], { kind: 'exists', count: 4, from: 4 });
      assert.equal(view.uidAt(2), 2, 'message 2 keeps its number until its EXPUNGE is sent');
      assert.equal(view.isExpunged(2), true);
      assert.equal(view.seqOf(uid4), 4);
      const second = view.flush({ allowExpunge: true });
      assert.deepEqual(second, [{ kind: 'expunge', seq: 2, uid: 2 }]);
      assert.equal(view.exists, 3);
      assert.equal(view.seqOf(uid4), 3);
      assert.deepEqual(view.flush({ allowExpunge: true }), []);
    });
  });

  test('does not echo flags this session has already announced', async () => {
    await withMailbox(2, async (store, id) => {
      const view = await MailboxView.open(store, id, { readOnly: false, trackRecent: false });
      const result = await store.storeFlags(id, [1], { mode: 'add', flags: ['\\Seen'] });
      view.noteFlags(result.updated);
      await view.sync();
      assert.deepEqual(view.flush({ allowExpunge: true }), []);
      assert.deepEqual(view.flagsAt(1), ['\\Seen']);
    });
  });

  test('announces expunges in an order whose numbers are valid one after another', async () => {
    await withMailbox(5, async (store, id) => {
      const view = await MailboxView.open(store, id, { readOnly: false, trackRecent: false });
      await store.expunge(id, [2, 3, 5]);
      await view.sync();
      const events = view.flush({ allowExpunge: true });
      assert.deepEqual(events.map((e) => (e.kind === 'expunge' ? e.seq : -1)), [2, 2, 3]);
      assert.deepEqual(view.allUids(), [1, 4]);
    });
  });

  test('claims \\Recent for a read-write IMAP4rev1 view, also for messages arriving later', async () => {
    await withMailbox(2, async (store, id) => {
      const view = await MailboxView.open(store, id, { readOnly: false, trackRecent: true });
      assert.equal(view.recentCount, 2);
      const other = await MailboxView.open(store, id, { readOnly: false, trackRecent: true });
      assert.equal(other.recentCount, 0);
      await append(store, id, 3);
      await view.sync();
      assert.deepEqual(view.flush({ allowExpunge: true }), [
        { kind: 'exists', count: 3, from: 3 },
        { kind: 'recent', count: 3 },
      ]);
    });
  });
});
