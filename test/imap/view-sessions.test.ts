// The selected-mailbox view as two sessions see it over the wire (view.ts): it opens from a store
// snapshot without the messages' flags, yet announces another session's flag change to a message
// it never fetched, does not echo a session's own STORE, reports UNSEEN by sequence number across
// gaps, and answers a QRESYNC SELECT (RFC 7162 §3.2.5) without repeating it at the next NOOP.
// On SQLite and on PostgreSQL when reachable.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LineClient, startTestServer, type TestServer } from '../harness/transcript.js';
import { engines } from '../harness/engines.js';

function message(i: number): string {
  return `From: a@example.org\r\nTo: user@example.com\r\nSubject: m${i}\r\nMessage-ID: <m${i}@example.org>\r\n\r\nbody ${i}\r\n`;
}

async function login(server: TestServer, enable?: string): Promise<LineClient> {
  const c = await LineClient.connect(server.port);
  await c.readLine();
  assert.match((await c.command('l', 'LOGIN user@example.com pass')).at(-1)!, /^l OK/);
  if (enable) assert.match((await c.command('e', `ENABLE ${enable}`)).at(-1)!, /^e OK/);
  return c;
}

/** The untagged lines of a command, after checking it completed OK. */
async function untagged(c: LineClient, tag: string, text: string): Promise<string[]> {
  const lines = await c.command(tag, text);
  assert.match(lines.at(-1)!, new RegExp(`^${tag} OK`), lines.join('\n'));
  return lines.slice(0, -1);
}

async function withServer(engine: (typeof engines)[number], messages: number, fn: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await startTestServer({ engine });
  try {
    for (let i = 1; i <= messages; i++) await server.deliver(message(i), 'user@example.com');
    await fn(server);
  } finally {
    await server.close();
  }
}

for (const engine of engines) {
  describe(`selected mailbox across sessions (${engine})`, () => {
    test('a flag change by another session reaches a session that never fetched flags, once; its own STORE is not echoed', async () => {
      await withServer(engine, 3, async (server) => {
        const a = await login(server);
        const b = await login(server);
        await untagged(a, 'a1', 'SELECT INBOX');
        await untagged(b, 'b1', 'SELECT INBOX');
        assert.equal((await untagged(b, 'b2', 'STORE 2 +FLAGS.SILENT (\\Flagged $Later)')).length, 2, 'FLAGS and PERMANENTFLAGS for $Later');
        // FLAGS grows by the new keyword before the FETCH that carries it (RFC 9051 §7.3.5); the
        // first rev1 session to select claimed \\Recent (RFC 3501 §2.3.2), the other did not.
        const seen = await untagged(a, 'a2', 'NOOP');
        assert.deepEqual(seen.slice(-1), ['* 2 FETCH (FLAGS (\\Flagged $Later \\Recent) UID 2)']);
        assert.match(seen[0]!, /^\* FLAGS \(.*\$Later\)$/);
        assert.deepEqual(await untagged(a, 'a3', 'NOOP'), []);
        assert.deepEqual(await untagged(a, 'a4', 'STORE 1 +FLAGS (\\Seen)'), ['* 1 FETCH (FLAGS (\\Seen \\Recent))']);
        // Already set: reported with the flags as stored, and not again later.
        assert.deepEqual(await untagged(a, 'a5', 'STORE 2 +FLAGS (\\Flagged)'), ['* 2 FETCH (FLAGS (\\Flagged $Later \\Recent))']);
        assert.deepEqual(await untagged(a, 'a6', 'NOOP'), []);
        assert.deepEqual(await untagged(b, 'b3', 'NOOP'), ['* 1 FETCH (FLAGS (\\Seen) UID 1)']);
        a.close();
        b.close();
      });
    });

    test('UNSEEN is the sequence number of the first unseen message across expunged UIDs', async () => {
      await withServer(engine, 6, async (server) => {
        const b = await login(server);
        await untagged(b, 'b1', 'SELECT INBOX');
        await untagged(b, 'b2', 'STORE 1,2 +FLAGS.SILENT (\\Deleted)');
        await untagged(b, 'b3', 'STORE 3 +FLAGS.SILENT (\\Seen)');
        await untagged(b, 'b4', 'EXPUNGE');
        const a = await login(server);
        const selected = await untagged(a, 'a1', 'EXAMINE INBOX');
        assert.ok(selected.includes('* 4 EXISTS'), selected.join('\n'));
        assert.ok(selected.includes('* OK [UNSEEN 2] Message 2 is first unseen'), selected.join('\n'));
        assert.ok(selected.includes('* OK [UIDNEXT 7] Predicted next UID'), selected.join('\n'));
        a.close();
        b.close();
      });
    });

    test('SELECT (QRESYNC) reports what changed since the client left, and the next NOOP does not repeat it', async () => {
      await withServer(engine, 5, async (server) => {
        const a = await login(server, 'QRESYNC');
        const first = await untagged(a, 'a1', 'SELECT INBOX');
        const uidValidity = /UIDVALIDITY (\d+)/.exec(first.join('\n'))![1];
        const modseq = /HIGHESTMODSEQ (\d+)/.exec(first.join('\n'))![1];
        a.close();
        const b = await login(server);
        await untagged(b, 'b1', 'SELECT INBOX');
        await untagged(b, 'b2', 'STORE 2 +FLAGS.SILENT (\\Answered)');
        await untagged(b, 'b3', 'STORE 3 +FLAGS.SILENT (\\Deleted)');
        await untagged(b, 'b4', 'EXPUNGE');
        await untagged(b, 'b5', 'UID STORE 4 +FLAGS.SILENT (\\Seen)');
        const c = await login(server, 'QRESYNC');
        const answer = await untagged(c, 'c1', `SELECT INBOX (QRESYNC (${uidValidity} ${modseq}))`);
        const resync = answer.filter((l) => /^\* (VANISHED|\d+ FETCH)/.test(l));
        assert.deepEqual(resync.map((l) => l.replace(/MODSEQ \(\d+\)/, 'MODSEQ (n)')), [
          '* VANISHED (EARLIER) 3',
          '* 2 FETCH (UID 2 FLAGS (\\Answered) MODSEQ (n))',
          '* 3 FETCH (UID 4 FLAGS (\\Seen) MODSEQ (n))',
        ]);
        assert.deepEqual(await untagged(c, 'c2', 'NOOP'), []);
        // A change after the reconnect is announced as usual, with its MODSEQ.
        await untagged(b, 'b6', 'STORE 1 +FLAGS.SILENT (\\Flagged)');
        const later = await untagged(c, 'c3', 'NOOP');
        assert.equal(later.length, 1);
        assert.match(later[0]!, /^\* 1 FETCH \(FLAGS \(\\Flagged\) UID 1 MODSEQ \(\d+\)\)$/);
        b.close();
        c.close();
      });
    });
  });
}
