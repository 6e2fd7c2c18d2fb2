// NOTIFY's per-session queue (RFC 5465 §5.8): bounded, coalesced per mailbox, overflow reported.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NotifySpec, NOTIFY_QUEUE_LIMIT } from '../../src/imap/session/notify.js';
import type { Change } from '../../src/store/changes.js';

const spec = (): NotifySpec =>
  NotifySpec.fromCommand({
    kind: 'set',
    status: false,
    groups: [{ filter: { kind: 'PERSONAL' }, events: [{ event: 'MessageNew' }, { event: 'MessageExpunge' }, { event: 'MailboxName' }] }],
  });
const ctx = { selectedMailboxId: 1, subscribed: new Set<string>() };
const names = new Map([
  [1, 'INBOX'],
  [2, 'Archive'],
]);

describe('NOTIFY queue', () => {
  test('many deliveries into one folder coalesce into one STATUS', () => {
    const n = spec();
    const changes: Change[] = [];
    for (let uid = 1; uid <= 5000; uid++) changes.push({ kind: 'message-added', accountId: 1, mailboxId: 2, uid, modseq: uid });
    n.note(changes, names, ctx);
    assert.deepEqual(n.take(), [{ kind: 'status', mailboxId: 2, name: 'Archive' }]);
    assert.equal(n.pending, false);
  });

  test('changes to the selected mailbox are left to the view', () => {
    const n = spec();
    n.note([{ kind: 'message-added', accountId: 1, mailboxId: 1, uid: 1, modseq: 1 }], names, ctx);
    assert.equal(n.pending, false);
  });

  test('flag changes are not reported when FlagChange was not asked for', () => {
    const n = spec();
    n.note([{ kind: 'flags-changed', accountId: 1, mailboxId: 2, uid: 1, modseq: 9 }], names, ctx);
    assert.equal(n.pending, false);
  });

  test('more events than the bound overflow and empty the queue', () => {
    const n = spec();
    const changes: Change[] = [];
    for (let i = 0; i <= NOTIFY_QUEUE_LIMIT; i++) changes.push({ kind: 'mailbox-created', accountId: 1, mailboxId: 100 + i, name: `box${i}` });
    n.note(changes.slice(0, NOTIFY_QUEUE_LIMIT), names, ctx);
    assert.equal(n.overflowed, false);
    n.note(changes.slice(NOTIFY_QUEUE_LIMIT), names, ctx);
    assert.equal(n.overflowed, true);
    assert.equal(n.pending, true);
    assert.deepEqual(n.take(), []);
  });
});
