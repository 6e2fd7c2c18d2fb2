// A representative set of protocol checks against a whole Pigeon on PostgreSQL: SMTP delivery with
// nodemailer, IMAP LOGIN/SELECT/FETCH/IDLE with imapflow, POP3 RETR/DELE over TLS, and what one
// protocol did seen by another. (The full IMAP/POP3/SMTP suites run on PostgreSQL with
// PIGEON_TEST_STORE=postgres; see docs/scaling.md.)
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestPigeon, type TestPigeon } from '../harness/pigeon.js';
import { hasPostgres } from '../harness/engines.js';
import { Pop3, imapConnect, sendSmtp } from './clients.js';

async function withPigeon(fn: (p: TestPigeon) => Promise<void>): Promise<void> {
  const pigeon = await startTestPigeon({ store: { driver: 'postgres' } });
  try {
    await pigeon.addUser('alice@example.com', 'alice pw');
    await fn(pigeon);
  } finally {
    await pigeon.close({ timeoutMs: 0 });
  }
}

describe('protocols on PostgreSQL', { skip: hasPostgres ? false : 'PostgreSQL not reachable' }, () => {
  test('a message delivered over SMTP is fetched over IMAP with its UID, flags and body', async () => {
    await withPigeon(async (pigeon) => {
      assert.equal(pigeon.store.driver, 'postgres');
      await sendSmtp(pigeon.ports['smtp']!, { subject: 'first' });
      const imap = await imapConnect(pigeon.ports['imaps']!);
      try {
        const box = await imap.mailboxOpen('INBOX');
        assert.equal(box.exists, 1);
        const msg = await imap.fetchOne('1', { uid: true, flags: true, source: true, envelope: true });
        assert.ok(msg);
        assert.equal(msg.uid, 1);
        assert.equal(msg.envelope?.subject, 'first');
        assert.ok(!msg.flags?.has('\\Seen'));
        assert.match(msg.source!.toString('latin1'), /Hello from first\./);
        await imap.messageFlagsAdd('1', ['\\Seen', '$Label']);
        const again = await imap.fetchOne('1', { flags: true });
        assert.ok(again && again.flags?.has('\\Seen') && again.flags.has('$Label'));
      } finally {
        await imap.logout();
      }
    });
  });

  test('IDLE receives EXISTS for a message delivered over SMTP', async () => {
    await withPigeon(async (pigeon) => {
      const imap = await imapConnect(pigeon.ports['imaps']!);
      try {
        await imap.mailboxOpen('INBOX');
        const exists = new Promise<{ count: number }>((resolve) => imap.once('exists', resolve));
        const idle = imap.idle();
        await sendSmtp(pigeon.ports['smtp']!, { subject: 'during idle' });
        assert.equal((await exists).count, 1);
        await imap.noop();
        await idle;
      } finally {
        await imap.logout();
      }
    });
  });

  test('POP3 lists, retrieves and deletes; IMAP then sees the message gone', async () => {
    await withPigeon(async (pigeon) => {
      await sendSmtp(pigeon.ports['smtp']!, { subject: 'one' });
      await sendSmtp(pigeon.ports['smtp']!, { subject: 'two' });
      const { pop, greeting } = await Pop3.connect(pigeon.ports['pop3s']!);
      try {
        assert.match(greeting, /^\+OK/);
        assert.match(await pop.command('USER alice@example.com'), /^\+OK/);
        assert.match(await pop.command('PASS alice pw'), /^\+OK/);
        assert.match(await pop.command('STAT'), /^\+OK 2 \d+$/);
        const retr = await pop.multi('RETR 1');
        assert.match(retr.status, /^\+OK/);
        assert.ok(retr.lines.includes('Subject: one'));
        assert.match(await pop.command('DELE 1'), /^\+OK/);
        assert.match(await pop.command('QUIT'), /^\+OK/);
      } finally {
        pop.close();
      }
      const imap = await imapConnect(pigeon.ports['imaps']!);
      try {
        const box = await imap.mailboxOpen('INBOX');
        assert.equal(box.exists, 1);
        const left = await imap.fetchOne('1', { envelope: true, uid: true });
        assert.ok(left);
        assert.equal(left.envelope?.subject, 'two');
        assert.equal(left.uid, 2);
      } finally {
        await imap.logout();
      }
    });
  });
});
