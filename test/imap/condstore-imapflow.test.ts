// imapflow's CONDSTORE/QRESYNC paths against a started server (RFC 7162): a `qresync: true` client
// reconnects with the UIDVALIDITY and HIGHESTMODSEQ it kept and learns only what changed (flags
// events and VANISHED (EARLIER) expunge events) after another session changed flags and expunged;
// `changedSince` FETCH; STORE `unchangedSince` leaves a message changed by someone else alone.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ImapFlow, type ExpungeEvent, type FlagsEvent } from 'imapflow';
import { FIXTURES, startTestServer, type TestServer } from '../harness/transcript.js';

const simple = fs.readFileSync(path.join(FIXTURES, 'simple.eml'));

function client(server: TestServer, options: { qresync?: boolean; compress?: boolean } = {}): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1',
    port: server.port,
    secure: false,
    auth: { user: 'user@example.com', pass: 'pass' },
    tls: { rejectUnauthorized: false },
    logger: false,
    disableAutoIdle: true,
    qresync: options.qresync ?? false,
    disableCompression: options.compress === false,
  });
}

describe('imapflow CONDSTORE/QRESYNC', () => {
  test('a QRESYNC reconnect reports only changed flags and the UIDs expunged meanwhile', async () => {
    const server = await startTestServer();
    try {
      for (let i = 0; i < 6; i++) await server.deliver(simple, 'user@example.com');
      const phone = client(server, { qresync: true });
      await phone.connect();
      assert.ok(phone.enabled.has('QRESYNC'));
      const first = await phone.mailboxOpen('INBOX');
      const uidValidity = first.uidValidity;
      const highest = first.highestModseq;
      assert.ok(highest && highest > 0n);
      await phone.logout();

      const desktop = client(server);
      await desktop.connect();
      await desktop.mailboxOpen('INBOX');
      await desktop.messageFlagsAdd('2', ['\\Seen'], { uid: true });
      await desktop.messageFlagsAdd('5', ['\\Flagged'], { uid: true });
      await desktop.messageDelete('3,6', { uid: true });
      await desktop.logout();

      const again = client(server, { qresync: true });
      const flags: FlagsEvent[] = [];
      const expunged: ExpungeEvent[] = [];
      again.on('flags', (e: FlagsEvent) => flags.push(e));
      again.on('expunge', (e: ExpungeEvent) => expunged.push(e));
      await again.connect();
      const reopened = await again.mailboxOpen('INBOX', { uidValidity, changedSince: highest });
      assert.equal(reopened.exists, 4);
      assert.deepEqual(expunged.map((e) => e.uid).sort(), [3, 6]);
      assert.ok(expunged.every((e) => e.vanished && e.earlier));
      assert.deepEqual(flags.map((f) => [f.uid, [...f.flags].sort()]).sort(), [[2, ['\\Seen']], [5, ['\\Flagged']]]);
      assert.ok(flags.every((f) => typeof f.modseq === 'bigint' && f.modseq > highest!));

      // FETCH (CHANGEDSINCE): only the two changed messages.
      const changed: number[] = [];
      for await (const m of again.fetch('1:*', { uid: true, flags: true }, { uid: true, changedSince: highest! })) changed.push(m.uid);
      assert.deepEqual(changed.sort(), [2, 5]);
      await again.logout();
    } finally {
      await server.close();
    }
  });

  test('STORE unchangedSince leaves a message another session changed since then', async () => {
    const server = await startTestServer();
    try {
      await server.deliver(simple, 'user@example.com');
      await server.deliver(simple, 'user@example.com');
      const a = client(server, { compress: false });
      await a.connect();
      const box = await a.mailboxOpen('INBOX');
      const before = box.highestModseq!;
      const b = client(server);
      await b.connect();
      await b.mailboxOpen('INBOX');
      await b.messageFlagsAdd('1', ['\\Answered'], { uid: true });
      await b.logout();
      const stored = await a.messageFlagsAdd('1:2', ['\\Flagged'], { uid: true, unchangedSince: before });
      assert.equal(stored, true);
      const state = new Map<number, string[]>();
      for await (const m of a.fetch('1:*', { uid: true, flags: true }, { uid: true })) state.set(m.uid, [...(m.flags ?? [])].sort());
      assert.deepEqual(state.get(1), ['\\Answered']);
      assert.deepEqual(state.get(2), ['\\Flagged']);
      await a.logout();
    } finally {
      await server.close();
    }
  });
});
