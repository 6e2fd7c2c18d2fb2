// A message deleted over POP3 reaches a running IMAP session as an expunge (through the store's
// change feed), with imapflow as the IMAP client.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ImapFlow } from 'imapflow';
import { silentLogger } from '../../src/shared/logger.js';
import { startImapServer } from '../../src/imap/server.js';
import { Pop3Client, PASSWORD, USER, message, startFixture, type Pop3Fixture } from './fixture.js';

describe('POP3 deletions and IMAP sessions', () => {
  let f: Pop3Fixture;
  before(async () => {
    f = await startFixture();
  });
  after(() => f.close());

  test('a message deleted over POP3 is seen expunged by an IMAP session (imapflow, IDLE)', async () => {
    const imap = await startImapServer({
      config: { ...f.config, listen: { ...f.config.listen, imap: '', imaps: '127.0.0.1:0' } },
      store: f.store,
      authenticator: f.authenticator,
      tls: f.tls,
      logger: silentLogger(),
    });
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: imap.listening[0]!.port,
      secure: true,
      tls: { rejectUnauthorized: false },
      auth: { user: USER, pass: PASSWORD },
      logger: false,
    });
    try {
      const uid = await f.append(message('to delete over pop3'));
      await client.connect();
      await client.mailboxOpen('INBOX');
      assert.equal(client.mailbox && client.mailbox.exists, 1);
      const expunged = new Promise<number>((resolve) => client.on('expunge', (data: { seq: number }) => resolve(data.seq)));
      void client.idle();
      const c = await Pop3Client.connect(f.tlsPort, { tls: true });
      await c.readLine();
      assert.match(await c.login(), /^\+OK maildrop locked/);
      assert.equal(await c.command('DELE 1'), '+OK message 1 deleted');
      assert.equal(await c.command('QUIT'), '+OK Pigeon POP3 server signing off (1 message deleted)');
      assert.equal(await expunged, 1);
      assert.deepEqual(await f.store.listMessageStates(f.inbox.id), []);
      assert.ok(uid > 0);
    } finally {
      await client.logout().catch(() => undefined);
      await imap.close({ timeoutMs: 1000 });
    }
  });

});
