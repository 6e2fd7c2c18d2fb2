// Property: whatever another session does (append, flag changes, expunge) and however often the
// view catches up, the view never renumbers without announcing EXPUNGE, and once expunges may be
// sent it equals the store's mailbox exactly (UIDs), and a client that fetched the flags of what
// it was told of holds the store's flags. fast-check drives random histories.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { openStore } from '../../src/store/open.js';
import { indexMessage } from '../../src/mail/parse.js';
import { silentLogger } from '../../src/shared/logger.js';
import { MailboxView } from '../../src/imap/session/view.js';

type Op =
  | { kind: 'append'; seen: boolean }
  | { kind: 'expunge'; pick: number[] }
  | { kind: 'flags'; pick: number[]; flag: string; add: boolean }
  | { kind: 'sync'; allowExpunge: boolean };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('append' as const), seen: fc.boolean() }),
  fc.record({ kind: fc.constant('expunge' as const), pick: fc.array(fc.nat(20), { maxLength: 3 }) }),
  fc.record({ kind: fc.constant('flags' as const), pick: fc.array(fc.nat(20), { maxLength: 3 }), flag: fc.constantFrom('\\Seen', '\\Flagged', '$Work'), add: fc.boolean() }),
  fc.record({ kind: fc.constant('sync' as const), allowExpunge: fc.boolean() }),
);

test('the view follows any history of changes without renumbering behind the client', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pigeon-'));
  const store = await openStore({ driver: 'sqlite', url: '', dataDir: dir, logger: silentLogger() });
  try {
    await store.addDomain('example.com');
    let n = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
        const account = await store.createAccount({ email: `p${n++}@example.com`, passwordHash: 'x' });
        const mailbox = (await store.getMailbox(account.id, 'INBOX'))!;
        const id = mailbox.id;
        const view = await MailboxView.open(store, (await store.mailboxSnapshot(id))!, { readOnly: false, trackRecent: false });
        // The client's picture: what it has been told. Like a syncing client, it fetches the
        // flags of every message it learns of (FETCH … FLAGS), then follows the announcements.
        let client: number[] = view.allUids();
        const flags = new Map<number, string[]>();
        const fetchFlags = async (uids: number[]): Promise<void> => {
          const states = await store.getMessageMeta(id, uids);
          view.noteFlags(states);
          for (const s of states) flags.set(s.uid, s.flags);
        };
        await fetchFlags(client);
        for (const o of ops) {
          const present = (await store.listMessageStates(id)).map((s) => s.uid);
          const chosen = (pick: number[]): number[] => [...new Set(pick.map((i) => present[i % Math.max(1, present.length)]!).filter((u) => u !== undefined))];
          if (o.kind === 'append') {
            const raw = Buffer.from(`Subject: x\r\n\r\nbody\r\n`);
            await store.appendMessage(id, { raw, index: indexMessage(raw), flags: o.seen ? ['\\Seen'] : [] });
          } else if (o.kind === 'expunge') {
            if (present.length) await store.expunge(id, chosen(o.pick));
          } else if (o.kind === 'flags') {
            if (present.length) await store.storeFlags(id, chosen(o.pick), { mode: o.add ? 'add' : 'remove', flags: [o.flag] });
          } else {
            await view.sync();
            for (const e of view.flush({ allowExpunge: o.allowExpunge })) {
              if (e.kind === 'expunge') {
                assert.ok(o.allowExpunge, 'EXPUNGE sent where it is not allowed');
                assert.equal(client[e.seq - 1], e.uid, 'EXPUNGE names the message the client knows at that number');
                client.splice(e.seq - 1, 1);
              } else if (e.kind === 'exists') {
                assert.ok(e.count >= client.length, 'EXISTS never shrinks the mailbox');
                client = view.allUids();
              } else if (e.kind === 'flags') {
                assert.equal(client[e.seq - 1], e.uid);
                flags.set(e.uid, e.flags);
              }
            }
            await fetchFlags(client.filter((uid) => !flags.has(uid)));
            assert.deepEqual(view.allUids(), client, 'the view numbers messages as the client was told');
          }
        }
        await view.sync();
        for (const e of view.flush({ allowExpunge: true })) if (e.kind === 'flags') flags.set(e.uid, e.flags);
        const truth = await store.listMessageStates(id);
        assert.deepEqual(view.allUids(), truth.map((s) => s.uid));
        for (const s of truth) {
          if (flags.has(s.uid)) assert.deepEqual([...flags.get(s.uid)!].sort(), [...s.flags].sort(), `the client's flags of UID ${s.uid} are the store's`);
        }
      }),
      { numRuns: 40 },
    );
  } finally {
    await store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
