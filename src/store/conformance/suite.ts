// The store conformance suite: node:test tests every engine must pass (sqlite now, postgres later).
// An engine's test file calls runStoreConformance with a harness factory; each test opens a fresh,
// empty store of its own.
//
// Harness contract:
// - `store` is the "serving" instance: it receives other instances' changes on its feed
//   (sqlite: it listens on the feed socket; postgres: LISTEN).
// - `reopen()` opens another Store on the same data, while earlier ones may still be open (two
//   processes/nodes), or after closing one (restart). `cleanup()` closes them all, removes the data.
// - `corrupt(kind)`, optional, plants an inconsistency behind the store's back for check().
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Change } from '../changes.js';
import type { Account, Store } from '../store.js';
import { indexMessage } from '../../mail/parse.js';
import { BadCommand, Refused } from '../../shared/errors.js';

export interface StoreHarness {
  store: Store;
  reopen(): Promise<Store>;
  cleanup(): Promise<void>;
  /** 'uid-next': set some non-empty mailbox's uid_next to 1. */
  corrupt?(kind: 'uid-next'): Promise<void>;
}

function raw(subject: string, body = 'Hello.\r\n', extra = ''): Buffer {
  return Buffer.from(`From: Sender <sender@example.org>\r\nTo: alice@example.com\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\n${extra}\r\n${body}`);
}

async function append(store: Store, mailboxId: number, subject: string, options: { flags?: string[]; body?: string } = {}) {
  const bytes = raw(subject, options.body);
  return store.appendMessage(mailboxId, { raw: bytes, index: indexMessage(bytes), ...(options.flags ? { flags: options.flags } : {}) });
}

async function rejects(p: Promise<unknown>, code: string | undefined, cls: typeof Refused | typeof BadCommand = Refused) {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${String(err)}`);
    if (code !== undefined) assert.equal((err as Refused).code, code);
    return true;
  });
}

/** Resolves with the first change on `store`'s feed for this account that matches. */
function nextChange(store: Store, accountId: number, match: (c: Change) => boolean): Promise<Change> {
  return new Promise((resolve) => {
    const off = store.feed.subscribe(accountId, (changes) => {
      const c = changes.find(match);
      if (c) {
        off();
        resolve(c);
      }
    });
  });
}

export function runStoreConformance(name: string, open: () => Promise<StoreHarness>): void {
  describe(`store conformance: ${name}`, () => {
    async function setup(t: { after(fn: () => Promise<void>): void }, quota = 0): Promise<{ h: StoreHarness; store: Store; alice: Account; inbox: number }> {
      const h = await open();
      t.after(() => h.cleanup());
      await h.store.addDomain('Example.COM');
      const alice = await h.store.createAccount({ email: 'Alice@Example.com', passwordHash: 'hash', quota });
      const inbox = (await h.store.getMailbox(alice.id, 'INBOX'))!.id;
      return { h, store: h.store, alice, inbox };
    }

    describe('domains, accounts, aliases, networks', () => {
      test('a domain is stored lower-case and a duplicate is refused', async (t) => {
        const { store } = await setup(t);
        assert.deepEqual((await store.listDomains()).map((d) => d.name), ['example.com']);
        assert.equal((await store.getDomain('EXAMPLE.com'))?.name, 'example.com');
        await rejects(store.addDomain('example.com'), 'ALREADYEXISTS');
        const d = await store.updateDomainSettings('example.com', { pushEnabled: true, pushAllowedHosts: ['Relay.Example.net'] });
        assert.deepEqual(d.settings, { pushEnabled: true, pushDetails: false, pushAllowedHosts: ['relay.example.net'], enforceSender: true });
      });

      test('a new account gets the six default mailboxes with special-use, all subscribed', async (t) => {
        const { store, alice } = await setup(t);
        assert.equal(alice.email, 'Alice@example.com');
        const boxes = await store.listMailboxes(alice.id);
        assert.deepEqual(
          boxes.map((b) => [b.name, b.specialUse, b.subscribed]).sort(),
          [['Archive', '\\Archive', true], ['Drafts', '\\Drafts', true], ['INBOX', null, true], ['Junk', '\\Junk', true], ['Sent', '\\Sent', true], ['Trash', '\\Trash', true]],
        );
        assert.equal(new Set(boxes.map((b) => b.uidValidity)).size, 6, 'UIDVALIDITY differs per mailbox');
        assert.deepEqual((await store.listSubscriptions(alice.id)).sort(), ['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
      });

      test('accounts are found case-insensitively and duplicates or unknown domains are refused', async (t) => {
        const { store, alice } = await setup(t);
        assert.equal((await store.getAccountByEmail('alice@EXAMPLE.COM'))?.id, alice.id);
        assert.equal((await store.getAccountByEmail('ALICE@example.com'))?.id, alice.id);
        assert.equal(await store.getAccountByEmail('bob@example.com'), undefined);
        await rejects(store.createAccount({ email: 'alice@example.com', passwordHash: 'x' }), 'ALREADYEXISTS');
        await rejects(store.createAccount({ email: 'bob@elsewhere.org', passwordHash: 'x' }), 'NONEXISTENT');
        await rejects(store.createAccount({ email: 'not an address', passwordHash: 'x' }), undefined, BadCommand);
        const updated = await store.updateAccount(alice.id, { quota: 5000, isAdmin: true });
        assert.equal(updated.quota, 5000);
        assert.equal(updated.isAdmin, true);
        assert.deepEqual((await store.listAccounts('example.com')).map((a) => a.id), [alice.id]);
      });

      test('removing a domain with accounts needs force, and force removes them', async (t) => {
        const { store, alice, inbox } = await setup(t);
        await append(store, inbox, 'one');
        await rejects(store.removeDomain('example.com'), undefined);
        await store.removeDomain('example.com', { force: true });
        assert.equal(await store.getAccount(alice.id), undefined);
        assert.deepEqual(await store.listDomains(), []);
        assert.deepEqual(await store.check(), []);
      });

      test('aliases and catch-alls are stored lower-case with their targets', async (t) => {
        const { store } = await setup(t);
        const a = await store.addAlias('Sales@Example.com', ['alice@example.com', 'Bob@Other.ORG']);
        assert.deepEqual(a.targets, ['alice@example.com', 'Bob@other.org']);
        await store.addAlias('@example.com', ['alice@example.com']);
        assert.equal((await store.getAlias('SALES@example.com'))?.id, a.id);
        assert.deepEqual((await store.listAliases('example.com')).map((x) => x.address), ['@example.com', 'sales@example.com']);
        await rejects(store.addAlias('sales@example.com', ['alice@example.com']), 'ALREADYEXISTS');
        await rejects(store.addAlias('alice@example.com', ['x@other.org']), 'ALREADYEXISTS');
        await store.removeAlias('sales@example.com');
        assert.equal(await store.getAlias('sales@example.com'), undefined);
      });

      test('networks are normalised CIDRs', async (t) => {
        const { store } = await setup(t);
        assert.equal((await store.addNetwork('192.0.2.77/24', 'office')).cidr, '192.0.2.0/24');
        assert.equal((await store.addNetwork('2001:DB8::1')).cidr, '2001:db8::1/128');
        await rejects(store.addNetwork('192.0.2.1/24'), 'ALREADYEXISTS');
        await rejects(store.addNetwork('300.1.1.1/8'), undefined, BadCommand);
        await store.removeNetwork('192.0.2.0/24');
        assert.deepEqual((await store.listNetworks()).map((n) => n.cidr), ['2001:db8::1/128']);
      });

      test('app passwords: created up to the limit, listed without hashes, found by lookup key, revoked, deleted with the account', async (t) => {
        const { h, store, alice } = await setup(t);
        const bob = await store.createAccount({ email: 'bob@example.com', passwordHash: 'hash' });
        const phone = await store.createAppPassword({ accountId: alice.id, name: 'Phone', lookup: 'aa11', passwordHash: 'h1' }, { maxPerAccount: 2 });
        assert.equal(phone.name, 'Phone');
        assert.equal(phone.lastUsedAt, null);
        assert.equal(phone.accountId, alice.id);
        // A lookup key is unique per account, not across accounts.
        await rejects(store.createAppPassword({ accountId: alice.id, name: 'Other', lookup: 'aa11', passwordHash: 'h2' }, { maxPerAccount: 2 }), 'ALREADYEXISTS');
        const bobs = await store.createAppPassword({ accountId: bob.id, name: 'Phone', lookup: 'aa11', passwordHash: 'hb' }, { maxPerAccount: 2 });
        const laptop = await store.createAppPassword({ accountId: alice.id, name: 'Laptop', lookup: 'bb22', passwordHash: 'h3' }, { maxPerAccount: 2 });
        await rejects(store.createAppPassword({ accountId: alice.id, name: 'Third', lookup: 'cc33', passwordHash: 'h4' }, { maxPerAccount: 2 }), 'LIMIT');
        await rejects(store.createAppPassword({ accountId: 999_999, name: 'X', lookup: 'dd44', passwordHash: 'h' }, { maxPerAccount: 2 }), 'NONEXISTENT');
        await rejects(store.createAppPassword({ accountId: alice.id, name: '', lookup: 'dd44', passwordHash: 'h' }, { maxPerAccount: 5 }), undefined, BadCommand);

        const listed = await store.listAppPasswords(alice.id);
        assert.deepEqual(listed.map((a) => [a.id, a.name]), [[phone.id, 'Phone'], [laptop.id, 'Laptop']]);
        assert.ok(listed.every((a) => !('passwordHash' in a) && !('lookup' in a)), 'list carries no hashes');
        const found = await store.appPasswordCredentials(alice.id, 'aa11');
        assert.deepEqual(found.map((a) => [a.id, a.passwordHash]), [[phone.id, 'h1']]);
        assert.deepEqual((await store.appPasswordCredentials(alice.id)).map((a) => a.lookup), ['aa11', 'bb22']);
        assert.deepEqual(await store.appPasswordCredentials(alice.id, 'ffff'), []);

        await store.touchAppPassword(phone.id, 1_700_000_000_000);
        const other = await h.reopen();
        assert.equal((await other.listAppPasswords(alice.id))[0]?.lastUsedAt, 1_700_000_000_000);

        // Revoking needs the right account; another account's id is not found.
        assert.equal(await store.removeAppPassword(alice.id, bobs.id), false);
        assert.equal(await store.removeAppPassword(alice.id, phone.id), true);
        assert.equal(await store.removeAppPassword(alice.id, phone.id), false);
        assert.deepEqual((await store.appPasswordCredentials(alice.id, 'aa11')), []);
        assert.deepEqual((await store.listAppPasswords(bob.id)).map((a) => a.id), [bobs.id]);

        await store.removeAccount(alice.id);
        assert.deepEqual(await store.listAppPasswords(alice.id), []);
        assert.deepEqual(await store.appPasswordCredentials(alice.id), []);
        assert.deepEqual(await store.check(), []);
      });
    });

    describe('UIDs and UIDVALIDITY', () => {
      test('a UID is never reused, also after expunging the highest UID and across reopen', async (t) => {
        const { h, store, inbox } = await setup(t);
        assert.equal((await append(store, inbox, 'a')).uid, 1);
        assert.equal((await append(store, inbox, 'b')).uid, 2);
        assert.deepEqual(await store.expunge(inbox, [2]), [2]);
        assert.equal((await append(store, inbox, 'c')).uid, 3);
        await store.expunge(inbox, [3]);
        await store.close();
        const again = await h.reopen();
        assert.equal((await again.getMailboxById(inbox))!.uidNext, 4);
        assert.equal((await append(again, inbox, 'd')).uid, 4);
        assert.deepEqual((await again.listMessageStates(inbox)).map((m) => m.uid), [1, 4]);
      });

      test('deleting and re-creating a mailbox gives it a new UIDVALIDITY', async (t) => {
        const { store, alice } = await setup(t);
        const first = await store.createMailbox(alice.id, 'Projects');
        await append(store, first.id, 'x');
        await store.deleteMailbox(first.id);
        assert.equal(await store.getMailbox(alice.id, 'Projects'), undefined);
        const second = await store.createMailbox(alice.id, 'Projects');
        assert.notEqual(second.uidValidity, first.uidValidity);
        assert.ok(second.uidValidity > first.uidValidity);
      });

      test('50 concurrent appends into one mailbox get 50 distinct UIDs', async (t) => {
        const { store, inbox } = await setup(t);
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => append(store, inbox, `m${i}`)));
        assert.equal(new Set(results.map((r) => r.uid)).size, 50);
        assert.equal(new Set(results.map((r) => r.modseq)).size, 50);
        const mb = (await store.getMailboxById(inbox))!;
        assert.equal(mb.messageCount, 50);
        assert.equal(mb.uidNext, 51);
      });

      test('concurrent appends from two store instances on the same data get distinct UIDs', async (t) => {
        const { h, store, inbox } = await setup(t);
        const other = await h.reopen();
        const results = await Promise.all(Array.from({ length: 50 }, (_, i) => append(i % 2 ? store : other, inbox, `m${i}`)));
        assert.equal(new Set(results.map((r) => r.uid)).size, 50);
        assert.deepEqual((await store.listMessageStates(inbox)).map((m) => m.uid), Array.from({ length: 50 }, (_, i) => i + 1));
        assert.deepEqual(await store.check(), []);
      });
    });

    describe('modseq, flags and the journal', () => {
      test('modseq strictly increases over append, flag changes and expunge', async (t) => {
        const { store, inbox } = await setup(t);
        const seen: number[] = [(await store.getMailboxById(inbox))!.highestModseq];
        seen.push((await append(store, inbox, 'a')).modseq);
        seen.push((await append(store, inbox, 'b')).modseq);
        const f = await store.storeFlags(inbox, [1, 2], { mode: 'add', flags: ['\\Seen'] });
        seen.push(...f.updated.map((u) => u.modseq));
        await store.expunge(inbox, [1]);
        const j = await store.changesSince(inbox, 0);
        seen.push(j.highestModseq);
        for (let i = 1; i < seen.length; i++) assert.ok(seen[i]! > seen[i - 1]!, `modseq ${seen[i]} after ${seen[i - 1]}`);
        assert.equal((await store.getMailboxById(inbox))!.highestModseq, j.highestModseq);
      });

      test('changesSince returns changed messages and tombstones of expunged UIDs', async (t) => {
        const { store, inbox } = await setup(t);
        await append(store, inbox, 'a');
        await append(store, inbox, 'b');
        const c = await append(store, inbox, 'c');
        const mark = c.modseq;
        await store.storeFlags(inbox, [2], { mode: 'add', flags: ['\\Flagged'] });
        await store.expunge(inbox, [1, 3]);
        const j = await store.changesSince(inbox, mark);
        assert.deepEqual(j.changed.map((m) => [m.uid, m.flags]), [[2, ['\\Flagged']]]);
        assert.deepEqual(j.expunged, [1, 3]);
        const all = await store.changesSince(inbox, 0);
        assert.deepEqual(all.changed.map((m) => m.uid), [2]);
        assert.deepEqual(all.expunged, [1, 3]);
        assert.deepEqual(await store.changesSince(inbox, j.highestModseq), { highestModseq: j.highestModseq, changed: [], expunged: [] });
      });

      test('flags: system flags canonical, \\Recent never stored, keywords keep their first spelling', async (t) => {
        const { store, inbox } = await setup(t);
        await append(store, inbox, 'a', { flags: ['\\seen', '\\Recent', '$Label1'] });
        await append(store, inbox, 'b');
        assert.deepEqual((await store.getMessageMeta(inbox, [1]))[0]!.flags, ['\\Seen', '$Label1']);
        const r = await store.storeFlags(inbox, [1, 2], { mode: 'add', flags: ['$LABEL1', '\\ANSWERED'] });
        assert.deepEqual(r.updated.map((u) => [u.uid, u.flags]), [[1, ['\\Seen', '$Label1', '\\Answered']], [2, ['$Label1', '\\Answered']]]);
        const rm = await store.storeFlags(inbox, [1], { mode: 'remove', flags: ['$label1'] });
        assert.deepEqual(rm.updated[0]!.flags, ['\\Seen', '\\Answered']);
        const noop = await store.storeFlags(inbox, [1], { mode: 'add', flags: ['\\Seen'] });
        assert.deepEqual(noop.updated, [], 'no change, no new modseq');
        await rejects(store.storeFlags(inbox, [1], { mode: 'add', flags: ['\\Bogus'] }), undefined, BadCommand);
        await rejects(store.storeFlags(inbox, [1], { mode: 'add', flags: ['bad flag'] }), undefined, BadCommand);
        const mb = (await store.getMailboxById(inbox))!;
        assert.equal(mb.unseenCount, 1);
      });

      test('UNCHANGEDSINCE refuses messages changed after it (RFC 7162 §3.2)', async (t) => {
        const { store, inbox } = await setup(t);
        const a = await append(store, inbox, 'a');
        await append(store, inbox, 'b');
        await store.storeFlags(inbox, [2], { mode: 'add', flags: ['\\Seen'] });
        const r = await store.storeFlags(inbox, [1, 2], { mode: 'replace', flags: ['\\Flagged'], unchangedSince: a.modseq });
        assert.deepEqual(r.modified, [2]);
        assert.deepEqual(r.updated.map((u) => u.uid), [1]);
      });

      test('claimRecent gives each new UID to the first caller only', async (t) => {
        const { store, inbox } = await setup(t);
        await append(store, inbox, 'a');
        await append(store, inbox, 'b');
        assert.deepEqual(await store.claimRecent(inbox), [1, 2]);
        assert.deepEqual(await store.claimRecent(inbox), []);
        await append(store, inbox, 'c');
        assert.deepEqual(await store.claimRecent(inbox), [3]);
      });

      test('mailboxSnapshot: UIDs as runs, first unseen, keywords and pending \\Recent in one read', async (t) => {
        const { store, alice, inbox } = await setup(t);
        const present = async (id: number) => (await store.listMessageStates(id)).map((s) => s.uid);
        const expand = (runs: Array<[number, number]>) => runs.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i));
        const empty = (await store.mailboxSnapshot(inbox))!;
        assert.deepEqual([empty.uidRuns, empty.firstUnseenUid, empty.keywords, empty.recentPending, empty.mailbox.messageCount], [[], 0, [], false, 0]);
        for (let i = 1; i <= 10; i++) await append(store, inbox, `m${i}`, { flags: i <= 3 ? ['\\Seen'] : i === 7 ? ['$Work'] : [] });
        await store.storeFlags(inbox, [8], { mode: 'add', flags: ['Later', '$work'] });
        await store.expunge(inbox, [2, 5, 6, 10]);
        const s = (await store.mailboxSnapshot(inbox))!;
        // Fewer tombstones than messages: the runs are the gaps between tombstones.
        assert.deepEqual(s.uidRuns, [[1, 1], [3, 4], [7, 9]]);
        assert.deepEqual(expand(s.uidRuns), await present(inbox));
        assert.equal(s.firstUnseenUid, 4);
        assert.deepEqual(s.keywords, ['$Work', 'Later'], 'first spelling, sorted');
        assert.equal(s.recentPending, true);
        assert.deepEqual(s.mailbox, await store.getMailboxById(inbox));
        await store.claimRecent(inbox);
        assert.equal((await store.mailboxSnapshot(inbox))!.recentPending, false);
        // A keyword stays defined in the mailbox when no message has it any more.
        await store.storeFlags(inbox, [7, 8], { mode: 'remove', flags: ['$Work', 'Later'] });
        assert.deepEqual((await store.mailboxSnapshot(inbox))!.keywords, ['$Work', 'Later']);
        await store.storeFlags(inbox, [4, 7, 8, 9], { mode: 'add', flags: ['\\Seen'] });
        assert.equal((await store.mailboxSnapshot(inbox))!.firstUnseenUid, 0);
        await store.storeFlags(inbox, [8], { mode: 'remove', flags: ['\\Seen'] });
        assert.equal((await store.mailboxSnapshot(inbox))!.firstUnseenUid, 8);
        // More tombstones than messages: the UIDs are read from the messages.
        await store.expunge(inbox, [1, 3, 4]);
        const few = (await store.mailboxSnapshot(inbox))!;
        assert.deepEqual(few.uidRuns, [[7, 9]]);
        assert.equal(few.mailbox.messageCount, 3);
        // Copies and moves give UIDs in blocks; the snapshot follows them into the target.
        const archive = (await store.getMailbox(alice.id, 'Archive'))!.id;
        await store.copyMessages(inbox, [7, 8, 9], archive);
        await store.moveMessages(inbox, [8], archive);
        assert.deepEqual(expand((await store.mailboxSnapshot(archive))!.uidRuns), [1, 2, 3, 4]);
        assert.deepEqual((await store.mailboxSnapshot(inbox))!.uidRuns, [[7, 7], [9, 9]]);
        assert.equal(await store.mailboxSnapshot(999_999), undefined);
      });
    });

    describe('copy, move, blobs and quota', () => {
      test('copy shares the blob, keeps the EMAILID (RFC 8474 §5.1), and survives expunge of the original', async (t) => {
        const { store, alice, inbox } = await setup(t);
        const archive = (await store.getMailbox(alice.id, 'Archive'))!;
        await append(store, inbox, 'a', { flags: ['\\Seen', '$Work'] });
        const copy = await store.copyMessages(inbox, [1], archive.id);
        assert.deepEqual(copy, { uidValidity: archive.uidValidity, mapping: [{ from: 1, to: 1 }] });
        const [src] = await store.getMessages(inbox, [1]);
        const [dst] = await store.getMessages(archive.id, [1]);
        assert.equal(dst!.blobHash, src!.blobHash);
        assert.equal(dst!.emailId, src!.emailId);
        assert.equal(dst!.threadId, src!.threadId);
        assert.deepEqual(dst!.flags, ['\\Seen', '$Work']);
        assert.deepEqual(dst!.index, src!.index);
        assert.equal((await store.getAccount(alice.id))!.usedBytes, 2 * src!.size);
        await store.expunge(inbox, [1]);
        assert.deepEqual(await store.readBlob(dst!.blobHash), raw('a'));
        assert.deepEqual(await store.check(), []);
      });

      test('a reply joins the thread of the message it references; unrelated mail does not', async (t) => {
        const { store, inbox } = await setup(t);
        const first = raw('root');
        await store.appendMessage(inbox, { raw: first, index: indexMessage(first) });
        const reply = raw('reply', 'Re.\r\n', 'In-Reply-To: <root@example.org>\r\nReferences: <root@example.org>\r\n');
        await store.appendMessage(inbox, { raw: reply, index: indexMessage(reply) });
        await append(store, inbox, 'other');
        const [a, b, c] = await store.getMessageMeta(inbox, [1, 2, 3]);
        assert.equal(b!.threadId, a!.threadId);
        assert.notEqual(c!.threadId, a!.threadId);
        assert.equal(new Set([a!.emailId, b!.emailId, c!.emailId]).size, 3);
        for (const id of [a!.emailId, a!.threadId]) assert.match(id, /^[A-Za-z0-9_-]{1,255}$/, 'RFC 8474 objectid syntax');
      });

      test('move keeps the EMAILID, expunges the source with a tombstone, in one step', async (t) => {
        const { store, alice, inbox } = await setup(t);
        const trash = (await store.getMailbox(alice.id, 'Trash'))!;
        await append(store, inbox, 'a');
        await append(store, inbox, 'b');
        const before = (await store.getMessageMeta(inbox, [2]))[0]!;
        const moved = await store.moveMessages(inbox, [2, 1], trash.id);
        assert.deepEqual(moved.mapping, [{ from: 1, to: 1 }, { from: 2, to: 2 }]);
        assert.equal((await store.getMessageMeta(trash.id, [2]))[0]!.emailId, before.emailId);
        assert.deepEqual(await store.listMessageStates(inbox), []);
        assert.deepEqual((await store.changesSince(inbox, 0)).expunged, [1, 2]);
        assert.equal((await store.getAccount(alice.id))!.usedBytes, (await store.getMailboxById(trash.id))!.totalSize);
      });

      test('readBlob serves byte ranges of a large message', async (t) => {
        const { store, inbox } = await setup(t);
        const body = Buffer.alloc(700 * 1024, 'abcdefghij').toString() + '\r\n';
        const r = await append(store, inbox, 'big', { body });
        const [m] = await store.getMessageMeta(inbox, [r.uid]);
        const whole = raw('big', body);
        assert.equal(m!.size, whole.length);
        assert.deepEqual(await store.readBlob(m!.blobHash), whole);
        for (const [start, end] of [[0, 10], [262_140, 262_150], [300_000, 600_000], [whole.length - 5, whole.length + 100]] as const) {
          assert.deepEqual(await store.readBlob(m!.blobHash, { start, end }), whole.subarray(start, end));
        }
        await rejects(store.readBlob('0'.repeat(64)), 'NONEXISTENT');
      });

      test('an append over quota is refused OVERQUOTA, changes nothing and publishes nothing', async (t) => {
        const { store, alice, inbox } = await setup(t, raw('a').length + 10);
        await append(store, inbox, 'a');
        const events: Change[] = [];
        store.feed.subscribe(alice.id, (cs) => events.push(...cs));
        await rejects(append(store, inbox, 'b'), 'OVERQUOTA');
        const archive = (await store.getMailbox(alice.id, 'Archive'))!;
        await rejects(store.copyMessages(inbox, [1], archive.id), 'OVERQUOTA');
        assert.deepEqual(events, []);
        const mb = (await store.getMailboxById(inbox))!;
        assert.equal(mb.messageCount, 1);
        assert.equal(mb.uidNext, 2);
        assert.equal((await store.getAccount(alice.id))!.usedBytes, raw('a').length);
        // A move within the account does not add usage.
        await store.moveMessages(inbox, [1], archive.id);
        assert.deepEqual(await store.check(), []);
      });

      test('a refused write among concurrent writes rolls back alone', async (t) => {
        const { store, alice, inbox } = await setup(t, 3 * raw('m0').length);
        const events: Change[] = [];
        store.feed.subscribe(alice.id, (cs) => events.push(...cs));
        const results = await Promise.allSettled([0, 1, 2, 3, 4].map((i) => append(store, inbox, `m${i}`)));
        assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected']);
        assert.equal(((results[3] as PromiseRejectedResult).reason as Refused).code, 'OVERQUOTA');
        assert.deepEqual((await store.listMessageStates(inbox)).map((m) => m.uid), [1, 2, 3]);
        assert.deepEqual(events.map((c) => c.kind), ['message-added', 'message-added', 'message-added']);
        assert.deepEqual(await store.check(), []);
      });

      test('expunge and mailbox deletion give the quota back', async (t) => {
        const { store, alice, inbox } = await setup(t);
        const box = await store.createMailbox(alice.id, 'Old');
        await append(store, inbox, 'a');
        await append(store, box.id, 'b');
        await store.expunge(inbox, [1]);
        assert.equal((await store.getAccount(alice.id))!.usedBytes, raw('b').length);
        await store.deleteMailbox(box.id);
        assert.equal((await store.getAccount(alice.id))!.usedBytes, 0);
        await rejects(store.deleteMailbox(inbox), 'CANNOT');
        assert.deepEqual(await store.check(), []);
      });
    });

    describe('mailbox names, rename, subscriptions', () => {
      test('INBOX is case-insensitive, other names are not, duplicates are refused', async (t) => {
        const { store, alice, inbox } = await setup(t);
        assert.equal((await store.getMailbox(alice.id, 'inbox'))!.id, inbox);
        await rejects(store.createMailbox(alice.id, 'Inbox'), 'ALREADYEXISTS');
        const work = await store.createMailbox(alice.id, 'Work');
        const lower = await store.createMailbox(alice.id, 'work');
        assert.notEqual(work.id, lower.id);
        await rejects(store.createMailbox(alice.id, 'Work'), 'ALREADYEXISTS');
        await rejects(store.createMailbox(alice.id, 'a//b'), undefined, BadCommand);
        const deep = await store.createMailbox(alice.id, 'Ünïcode/Child');
        assert.equal(deep.name, 'Ünïcode/Child');
        assert.ok(await store.getMailbox(alice.id, 'Ünïcode'), 'the superior name is created');
        await rejects(store.renameMailbox(999_999, 'x'), 'NONEXISTENT');
      });

      test('rename moves children and subscriptions and keeps UIDVALIDITY and UIDs', async (t) => {
        const { store, alice } = await setup(t);
        const parent = await store.createMailbox(alice.id, 'Work', { subscribed: true });
        const child = await store.createMailbox(alice.id, 'Work/2026', { subscribed: true });
        const other = await store.createMailbox(alice.id, 'Workshop');
        await append(store, child.id, 'a');
        await rejects(store.renameMailbox(parent.id, 'Workshop'), 'ALREADYEXISTS');
        await rejects(store.renameMailbox(parent.id, 'Work/inside'), 'CANNOT');
        const events = nextChange(store, alice.id, (c) => c.kind === 'mailbox-renamed' && c.mailboxId === child.id);
        await store.renameMailbox(parent.id, 'Jobs/Old');
        assert.deepEqual(await events, { kind: 'mailbox-renamed', accountId: alice.id, mailboxId: child.id, name: 'Jobs/Old/2026', oldName: 'Work/2026' });
        const renamed = (await store.getMailbox(alice.id, 'Jobs/Old/2026'))!;
        assert.equal(renamed.id, child.id);
        assert.equal(renamed.uidValidity, child.uidValidity);
        assert.deepEqual((await store.listMessageStates(child.id)).map((m) => m.uid), [1]);
        assert.equal((await store.getMailboxById(other.id))!.name, 'Workshop');
        assert.equal(await store.getMailbox(alice.id, 'Work'), undefined);
        const subs = await store.listSubscriptions(alice.id);
        assert.ok(subs.includes('Jobs/Old') && subs.includes('Jobs/Old/2026') && !subs.includes('Work'));
      });

      test('renaming INBOX moves its messages to the new mailbox and leaves INBOX empty (RFC 9051 §6.3.6)', async (t) => {
        const { store, alice, inbox } = await setup(t);
        const inboxChild = await store.createMailbox(alice.id, 'INBOX/Child');
        await append(store, inbox, 'a');
        await append(store, inbox, 'b');
        const before = await store.getMailboxById(inbox);
        await store.renameMailbox(inbox, 'Old Inbox');
        const after = (await store.getMailboxById(inbox))!;
        assert.equal(after.name, 'INBOX');
        assert.equal(after.uidValidity, before!.uidValidity);
        assert.equal(after.messageCount, 0);
        assert.ok(after.uidNext >= 3, 'UIDs are not reused');
        const moved = (await store.getMailbox(alice.id, 'Old Inbox'))!;
        assert.equal(moved.messageCount, 2);
        assert.equal((await store.getMailboxById(inboxChild.id))!.name, 'INBOX/Child');
        await rejects(store.renameMailbox(moved.id, 'inbox'), 'ALREADYEXISTS');
        assert.deepEqual(await store.check(), []);
      });

      test('subscriptions may name mailboxes that do not exist and survive deletion', async (t) => {
        const { store, alice } = await setup(t);
        await store.setSubscribed(alice.id, 'Ghost', true);
        const box = await store.createMailbox(alice.id, 'Temp');
        await store.setSubscribed(alice.id, 'Temp', true);
        assert.equal((await store.getMailboxById(box.id))!.subscribed, true);
        await store.deleteMailbox(box.id);
        assert.ok((await store.listSubscriptions(alice.id)).includes('Temp'));
        assert.ok((await store.listSubscriptions(alice.id)).includes('Ghost'));
        await store.setSubscribed(alice.id, 'inbox', false);
        assert.ok(!(await store.listSubscriptions(alice.id)).includes('INBOX'));
      });
    });

    describe('change feed', () => {
      test('changes are published after the commit (another instance already sees them)', async (t) => {
        const { h, store, alice, inbox } = await setup(t);
        const reader = await h.reopen();
        let seenByReader: unknown;
        const got = new Promise<void>((resolve) => {
          store.feed.subscribe(alice.id, (changes) => {
            if (changes.some((c) => c.kind === 'message-added')) {
              // Started synchronously inside the listener: with an engine that reads at once,
              // an uncommitted row would not be visible here.
              seenByReader = reader.getMessageMeta(inbox, [1]);
              resolve();
            }
          });
        });
        await append(store, inbox, 'a');
        await got;
        assert.equal(((await seenByReader) as unknown[]).length, 1);
      });

      test('a change made through another instance wakes the serving instance', async (t) => {
        const { h, store, alice, inbox } = await setup(t);
        const other = await h.reopen();
        const woke = nextChange(store, alice.id, (c) => c.mailboxId === inbox);
        await append(other, inbox, 'from another process');
        const c = await woke;
        assert.equal(c.accountId, alice.id);
        assert.ok(c.kind === 'mailbox-changed' || c.kind === 'message-added');
      });
    });

    describe('outbound queue', () => {
      test('queued messages persist with per-recipient state and share blobs', async (t) => {
        const { h, store, alice, inbox } = await setup(t);
        await append(store, inbox, 'a');
        const q = await store.enqueueMessage({
          sender: 'alice@example.com', raw: raw('a'), dsnRet: 'HDRS', dsnEnvid: 'env1', accountId: alice.id,
          recipients: [{ address: 'x@other.org', notify: ['FAILURE', 'DELAY'], orcpt: 'rfc822;x@other.org' }, { address: 'y@other.org', notify: [], orcpt: null }],
        });
        assert.equal(q.blobHash, (await store.getMessageMeta(inbox, [1]))[0]!.blobHash);
        assert.deepEqual(q.recipients.map((r) => [r.address, r.state, r.attempts, r.notify]), [['x@other.org', 'queued', 0, ['FAILURE', 'DELAY']], ['y@other.org', 'queued', 0, []]]);
        await store.close();
        const again = await h.reopen();
        assert.deepEqual((await again.listQueue()).map((m) => m.id), [q.id]);
        await again.expunge(inbox, [1]);
        assert.deepEqual(await again.readBlob(q.blobHash), raw('a'));
        await again.removeQueuedMessage(q.id);
        assert.equal(await again.getQueuedMessage(q.id), undefined);
        await rejects(again.readBlob(q.blobHash), 'NONEXISTENT');
        assert.deepEqual(await again.check(), []);
      });

      test('the DKIM signing decision is kept with the queued message; omitted, it follows account and null sender', async (t) => {
        const { h, store, alice } = await setup(t);
        const to = [{ address: 'x@other.org', notify: [], orcpt: null }];
        const base = { raw: raw('q'), dsnRet: null, dsnEnvid: null, recipients: to };
        // Given explicitly, against what the fallback would say.
        const relayed = await store.enqueueMessage({ ...base, sender: 'printer@example.com', accountId: null, dkimSign: true });
        const forwarded = await store.enqueueMessage({ ...base, sender: 'someone@example.org', accountId: alice.id, dkimSign: false });
        // Omitted: signed when an account submitted it or it is a DSN.
        const submitted = await store.enqueueMessage({ ...base, sender: 'alice@example.com', accountId: alice.id });
        const dsn = await store.enqueueMessage({ ...base, sender: '', accountId: null });
        const passing = await store.enqueueMessage({ ...base, sender: 'someone@example.org', accountId: null });
        const expected = [[relayed.id, true], [forwarded.id, false], [submitted.id, true], [dsn.id, true], [passing.id, false]];
        assert.deepEqual([relayed, forwarded, submitted, dsn, passing].map((q) => [q.id, q.dkimSign]), expected);
        await rejects(store.enqueueMessage({ ...base, sender: '', accountId: null, dkimSign: 'yes' as unknown as boolean }), undefined, BadCommand);
        await store.close();
        const again = await h.reopen();
        assert.deepEqual((await again.listQueue()).map((q) => [q.id, q.dkimSign]), expected);
        assert.equal((await again.getQueuedMessage(relayed.id))?.dkimSign, true);
        // The worker sees it on the leased message.
        const leased = await again.queue.leaseDue({ now: Date.now() + 60_000, leaseMs: 60_000, limit: 10 });
        assert.deepEqual(leased.map((l) => [l.message.id, l.message.dkimSign]).sort((a, b) => Number(a[0]) - Number(b[0])), expected);
      });
    });

    describe('integrity check', () => {
      test('check() is empty on a sound store and finds a planted inconsistency', async (t) => {
        const { h, store, alice, inbox } = await setup(t);
        await append(store, inbox, 'a');
        await append(store, inbox, 'b');
        await store.copyMessages(inbox, [1], (await store.getMailbox(alice.id, 'Sent'))!.id);
        assert.deepEqual(await store.check(), []);
        if (!h.corrupt) return t.skip('engine harness cannot plant corruption');
        await h.corrupt('uid-next');
        const problems = await store.check();
        assert.ok(problems.length > 0);
        assert.match(problems.join('\n'), /uid_next/);
      });

      test('removing an account releases its blobs and leaves a sound store', async (t) => {
        const { store, alice, inbox } = await setup(t);
        await append(store, inbox, 'a');
        const bob = await store.createAccount({ email: 'bob@example.com', passwordHash: 'x' });
        const bobInbox = (await store.getMailbox(bob.id, 'INBOX'))!.id;
        await append(store, bobInbox, 'a');
        const hash = (await store.getMessageMeta(inbox, [1]))[0]!.blobHash;
        await store.removeAccount(alice.id);
        assert.deepEqual(await store.readBlob(hash), raw('a'));
        await store.removeAccount(bob.id);
        await rejects(store.readBlob(hash), 'NONEXISTENT');
        assert.deepEqual(await store.listMailboxes(alice.id), []);
        assert.deepEqual(await store.check(), []);
      });

      test('URLAUTH access keys: stable per mailbox and across rename, replaced by a reset', async (t) => {
        const { store, alice, inbox } = await setup(t);
        const drafts = (await store.getMailbox(alice.id, 'Drafts'))!.id;
        const k1 = await store.mailboxAccessKey(inbox);
        assert.equal(k1.length, 32);
        assert.deepEqual(await store.mailboxAccessKey(inbox), k1);
        const kd = await store.mailboxAccessKey(drafts);
        assert.notDeepEqual(kd, k1);
        await store.renameMailbox(drafts, 'Old drafts');
        assert.deepEqual(await store.mailboxAccessKey(drafts), kd);
        await store.resetMailboxAccessKeys(alice.id, inbox);
        assert.notDeepEqual(await store.mailboxAccessKey(inbox), k1);
        assert.deepEqual(await store.mailboxAccessKey(drafts), kd);
        await store.resetMailboxAccessKeys(alice.id);
        assert.notDeepEqual(await store.mailboxAccessKey(drafts), kd);
        await rejects(store.mailboxAccessKey(987654), 'NONEXISTENT');
        assert.deepEqual(await store.check(), []);
      });

      test('METADATA entries: per server and mailbox, removed with null, limits all or nothing, gone with the mailbox', async (t) => {
        const { store, alice, inbox } = await setup(t);
        const server = { accountId: alice.id, mailboxId: null };
        const limits = { maxEntries: 3, maxBytes: 100 };
        await store.setMetadata(server, [{ name: '/Private/Comment', value: Buffer.from('hi') }], limits);
        await store.setMetadata({ accountId: alice.id, mailboxId: inbox }, [{ name: '/shared/x', value: Buffer.from('1') }], limits);
        assert.deepEqual(await store.getMetadata(server), [{ name: '/private/comment', value: Buffer.from('hi') }]);
        assert.deepEqual((await store.getMetadata({ accountId: alice.id, mailboxId: inbox })).map((e) => e.name), ['/shared/x']);
        const many = ['/private/a', '/private/b', '/private/c'].map((name) => ({ name, value: Buffer.from('v') }));
        await rejects(store.setMetadata(server, many, limits), 'LIMIT');
        await rejects(store.setMetadata(server, [{ name: '/private/big', value: Buffer.alloc(101) }], limits), 'LIMIT');
        assert.equal((await store.getMetadata(server)).length, 1);
        await store.setMetadata(server, [{ name: '/private/comment', value: null }], limits);
        assert.deepEqual(await store.getMetadata(server), []);
        const box = await store.createMailbox(alice.id, 'Gone');
        await store.setMetadata({ accountId: alice.id, mailboxId: box.id }, [{ name: '/private/y', value: Buffer.from('2') }], limits);
        await store.deleteMailbox(box.id);
        const again = await store.createMailbox(alice.id, 'Gone');
        assert.deepEqual(await store.getMetadata({ accountId: alice.id, mailboxId: again.id }), []);
        await rejects(store.setMetadata({ accountId: alice.id, mailboxId: 987654 }, [], limits), 'NONEXISTENT');
        assert.deepEqual(await store.check(), []);
      });
    });
  });
}
