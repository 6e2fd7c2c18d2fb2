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

/** A view as SELECT opens it: from the store's snapshot. */
async function openView(store: Store, mailboxId: number, options: { readOnly: boolean; trackRecent: boolean }): Promise<MailboxView> {
  return MailboxView.open(store, (await store.mailboxSnapshot(mailboxId))!, options);
}

async function append(store: Store, mailboxId: number, i: number): Promise<number> {
  const raw = Buffer.from(`Subject: m${i}\r\n\r\nbody ${i}\r\n`);
  return (await store.appendMessage(mailboxId, { raw, index: indexMessage(raw) })).uid;
}

describe('MailboxView', () => {
  test('resolves sequence sets with *, reversed ranges and UIDs that match nothing', async () => {
    await withMailbox(4, async (store, id) => {
      const view = await openView(store, id, { readOnly: false, trackRecent: false });
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
      const view = await openView(store, id, { readOnly: false, trackRecent: false });
      await store.expunge(id, [2]);
      const uid4 = await append(store, id, 4);
      await store.storeFlags(id, [3], { mode: 'add', flags: ['\\Flagged'] });
      await view.sync();
      const first = view.flush({ allowExpunge: false });
      assert.deepEqual(first.map((e) => e.kind), ['exists', 'flags']);
      assert.deepEqual(first[0], { kind: 'exists', count: 4, from: 4, keywords: [] });
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
      const view = await openView(store, id, { readOnly: false, trackRecent: false });
      const result = await store.storeFlags(id, [1], { mode: 'add', flags: ['\\Seen'] });
      view.noteFlags(result.updated);
      await view.sync();
      assert.deepEqual(view.flush({ allowExpunge: true }), []);
      // A later change by someone else is announced.
      const later = await store.storeFlags(id, [1], { mode: 'add', flags: ['\\Flagged'] });
      await view.sync();
      assert.deepEqual(view.flush({ allowExpunge: true }), [{ kind: 'flags', seq: 1, uid: 1, flags: ['\\Seen', '\\Flagged'], modseq: later.updated[0]!.modseq }]);
    });
  });

  test('announces a flag change to a message the session never fetched, once', async () => {
    await withMailbox(3, async (store, id) => {
      const view = await openView(store, id, { readOnly: false, trackRecent: false });
      // Changed back and forth by another session before this one catches up: the view holds no
      // flags for message 2, so it cannot know the client's picture is still right, and says so.
      await store.storeFlags(id, [2], { mode: 'add', flags: ['$Work'] });
      const back = await store.storeFlags(id, [2], { mode: 'remove', flags: ['$Work'] });
      await view.sync();
      assert.deepEqual(view.flush({ allowExpunge: true }), [{ kind: 'flags', seq: 2, uid: 2, flags: [], modseq: back.updated[0]!.modseq }]);
      await view.sync();
      assert.deepEqual(view.flush({ allowExpunge: true }), []);
    });
  });

  test('a fetched state newer than a pending change wins; an older one does not undo a newer announcement', async () => {
    await withMailbox(2, async (store, id) => {
      const view = await openView(store, id, { readOnly: false, trackRecent: false });
      const first = await store.storeFlags(id, [1], { mode: 'add', flags: ['\\Seen'] });
      await view.sync();
      // The client fetches FLAGS before the pending change is flushed: it already has it.
      const fetched = await store.getMessageMeta(id, [1]);
      view.noteFlags(fetched);
      assert.deepEqual(view.flush({ allowExpunge: true }), []);
      const second = await store.storeFlags(id, [1], { mode: 'add', flags: ['\\Answered'] });
      await view.sync();
      assert.deepEqual(view.flush({ allowExpunge: true }).map((e) => e.kind === 'flags' && e.modseq), [second.updated[0]!.modseq]);
      view.noteFlags(first.updated);
      await store.storeFlags(id, [2], { mode: 'add', flags: ['\\Seen'] });
      await view.sync();
      assert.deepEqual(view.flush({ allowExpunge: true }).map((e) => e.kind === 'flags' && e.uid), [2]);
    });
  });

  test('opens from UID runs with gaps and removes many messages in one pass', async () => {
    await withMailbox(12, async (store, id) => {
      await store.expunge(id, [1, 4, 5, 9, 12]);
      const view = await openView(store, id, { readOnly: false, trackRecent: false });
      assert.deepEqual(view.allUids(), [2, 3, 6, 7, 8, 10, 11]);
      assert.equal(view.maxUid, 11);
      assert.equal(view.seqOf(6), 3);
      assert.equal(view.seqOf(5), 0);
      assert.equal(view.uidAt(7), 11);
      assert.equal(view.uidAt(8), undefined);
      assert.deepEqual(view.resolve([{ start: 4, end: 9 }], true).map((m) => m.seq), [3, 4, 5]);
      assert.deepEqual(view.removeNow([11, 2, 7, 7]).map((e) => e.kind === 'expunge' && e.seq), [1, 3, 5]);
      assert.deepEqual(view.allUids(), [3, 6, 8, 10]);
      for (let i = 0; i < 40; i++) await append(store, id, 100 + i);
      await view.sync();
      assert.deepEqual(view.flush({ allowExpunge: true }), [{ kind: 'exists', count: 44, from: 5, keywords: [] }]);
      assert.equal(view.seqOf(52), 44);
    });
  });

  test('announces expunges in an order whose numbers are valid one after another', async () => {
    await withMailbox(5, async (store, id) => {
      const view = await openView(store, id, { readOnly: false, trackRecent: false });
      await store.expunge(id, [2, 3, 5]);
      await view.sync();
      const events = view.flush({ allowExpunge: true });
      assert.deepEqual(events.map((e) => (e.kind === 'expunge' ? e.seq : -1)), [2, 2, 3]);
      assert.deepEqual(view.allUids(), [1, 4]);
    });
  });

  test('claims \\Recent for a read-write IMAP4rev1 view, also for messages arriving later', async () => {
    await withMailbox(2, async (store, id) => {
      const view = await openView(store, id, { readOnly: false, trackRecent: true });
      assert.equal(view.recentCount, 2);
      const other = await openView(store, id, { readOnly: false, trackRecent: true });
      assert.equal(other.recentCount, 0);
      await append(store, id, 3);
      await view.sync();
      assert.deepEqual(view.flush({ allowExpunge: true }), [
        { kind: 'exists', count: 3, from: 3, keywords: [] },
        { kind: 'recent', count: 3 },
      ]);
    });
  });
});
