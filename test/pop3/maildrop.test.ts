// The maildrop through the store: deletions happen at QUIT as store expunges (journal, change feed,
// IMAP sessions), a cut connection deletes nothing, UIDL survives sessions and restarts, and
// messages leave with CRLF line ends whatever the stored form. (IMAP: imap-expunge.test.ts.)
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { Change } from '../../src/store/changes.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { silentLogger } from '../../src/shared/logger.js';
import { startPop3Server } from '../../src/pop3/server.js';
import { Pop3Client, PASSWORD, USER, message, startFixture, type Pop3Fixture } from './fixture.js';

async function session(f: Pop3Fixture, port = f.tlsPort): Promise<Pop3Client> {
  const c = await Pop3Client.connect(port, { tls: true });
  await c.readLine();
  assert.match(await c.login(), /^\+OK maildrop locked/);
  return c;
}

describe('deletions go through the store at QUIT', () => {
  let f: Pop3Fixture;
  before(async () => {
    f = await startFixture();
  });
  after(() => f.close());

  test('DELE + QUIT expunges: the journal (changesSince) and the change feed show it', async () => {
    const keep = await f.append(message('keep'));
    const gone = await f.append(message('gone'));
    const since = (await f.store.getMailbox(f.account.id, 'INBOX'))!.highestModseq;
    const changes: Change[] = [];
    const unsubscribe = f.store.feed.subscribe(f.account.id, (list) => changes.push(...list));
    const c = await session(f);
    assert.equal(await c.command('DELE 2'), '+OK message 2 deleted');
    assert.equal(changes.length, 0, 'nothing happens before QUIT');
    assert.equal(await c.command('QUIT'), '+OK Pigeon POP3 server signing off (1 message deleted)');
    unsubscribe();
    const journal = await f.store.changesSince(f.inbox.id, since);
    assert.deepEqual(journal.expunged, [gone]);
    assert.deepEqual(
      changes.flatMap((ch) => (ch.kind === 'message-expunged' ? [ch.uid] : [])),
      [gone],
    );
    assert.deepEqual((await f.store.listMessageStates(f.inbox.id)).map((s) => s.uid), [keep]);
    await f.store.expunge(f.inbox.id, [keep]);
  });

  test('a connection cut mid-session deletes nothing', async () => {
    const uids = [await f.append(message('a')), await f.append(message('b'))];
    const c = await session(f);
    assert.equal(await c.command('DELE 1'), '+OK message 1 deleted');
    assert.equal(await c.command('DELE 2'), '+OK message 2 deleted');
    c.destroy();
    await c.closed();
    // The next session (once the server has noticed the cut) finds both messages.
    const d = await Pop3Client.connect(f.tlsPort, { tls: true });
    await d.readLine();
    let reply = '';
    for (let i = 0; i < 40; i++) {
      reply = await d.login();
      if (!reply.startsWith('-ERR [IN-USE]')) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.match(reply, /^\+OK maildrop locked and ready: 2 messages/);
    assert.equal(await d.command('QUIT'), '+OK Pigeon POP3 server signing off (0 messages deleted)');
    assert.deepEqual((await f.store.listMessageStates(f.inbox.id)).map((s) => s.uid), uids);
    await f.store.expunge(f.inbox.id, uids);
  });

  test('LF-only stored lines leave as CRLF, dot-stuffed', async () => {
    const raw = 'From: a@example.org\nSubject: lf\n\nline\n.dot\n';
    await f.append(raw);
    const c = await session(f);
    assert.match(await c.command('RETR 1'), /^\+OK \d+ octets$/);
    assert.equal((await c.readBody()).toString(), raw.replace(/\n/g, '\r\n'));
    assert.equal(await c.command('QUIT'), '+OK Pigeon POP3 server signing off (0 messages deleted)');
  });
});

describe('UIDL is stable across sessions and restarts', () => {
  test('the same unique-ids after reopening the store and restarting the server', async () => {
    const f = await startFixture();
    await f.append(message('one'));
    await f.append(message('two'));
    await f.append(message('three'));
    let c = await session(f);
    const [, first] = await c.multi('UIDL');
    assert.equal(await c.command('DELE 2'), '+OK message 2 deleted');
    await c.command('QUIT');
    // RFC 1939 §7: unique-ids are 1-70 characters in 0x21..0x7E.
    for (const line of first) assert.match(line.split(' ')[1]!, /^[\x21-\x7e]{1,70}$/);
    assert.equal(new Set(first.map((l) => l.split(' ')[1])).size, 3);

    await f.service.close();
    await f.store.close();
    const store = await f.reopenStore();
    const authenticator = new Authenticator(store, { auth: f.config.auth, sleep: async () => {} });
    const service = await startPop3Server({ config: f.config, store, authenticator, tls: f.tls, logger: silentLogger() });
    try {
      const port = service.listening.find((l) => l.listener === 'pop3s')!.port;
      c = await Pop3Client.connect(port, { tls: true });
      await c.readLine();
      await c.login();
      const [, again] = await c.multi('UIDL');
      // Message 2 is gone; 1 and 3 keep their ids (3 is now number 2).
      assert.deepEqual(again.map((l) => l.split(' ')[1]), [first[0]!.split(' ')[1], first[2]!.split(' ')[1]]);
      await c.command('QUIT');
    } finally {
      await service.close();
      f.tls.close();
      await store.close();
      rmSync(f.dir, { recursive: true, force: true });
    }
  });
});

describe('the maildrop lock and dropped connections', () => {
  let f: Pop3Fixture;
  before(async () => {
    f = await startFixture();
  });
  after(() => f.close());

  test('a connection dropped while its login is being checked does not leave the maildrop locked', async () => {
    const c = await Pop3Client.connect(f.tlsPort, { tls: true });
    await c.readLine();
    assert.equal(await c.command(`USER ${USER}`), '+OK send PASS');
    await new Promise((resolve) => c.socket.write(`PASS ${PASSWORD}\r\n`, resolve));
    c.socket.end();
    const d = await Pop3Client.connect(f.tlsPort, { tls: true });
    await d.readLine();
    // Each attempt costs a password check, so this waits out the first login without sleeping.
    let reply = '';
    for (let i = 0; i < 30; i++) {
      reply = await d.login();
      if (!reply.startsWith('-ERR [IN-USE]')) break;
    }
    assert.equal(reply, '+OK maildrop locked and ready: 0 messages (0 octets)');
    await d.command('QUIT');
  });
});
