// RFC 1939 case tables: the AUTHORIZATION, TRANSACTION and UPDATE states and their commands,
// against a started server (implicit TLS on the pop3s port) on the real store.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Pop3Client, PASSWORD, USER, message, startFixture, type Pop3Fixture } from './fixture.js';

type Step = [command: string, status: string, lines?: string[]];

async function run(client: Pop3Client, steps: Step[]): Promise<void> {
  for (const [command, status, lines] of steps) {
    if (lines) {
      assert.deepEqual(await client.multi(command), [status, lines], command);
    } else {
      assert.equal(await client.command(command), status, command);
    }
  }
}

describe('RFC 1939 §4 AUTHORIZATION state', () => {
  let f: Pop3Fixture;
  before(async () => {
    f = await startFixture();
  });
  after(() => f.close());

  test('greeting, then only USER/PASS/AUTH/CAPA/STLS/QUIT are accepted', async () => {
    const c = await Pop3Client.connect(f.tlsPort, { tls: true });
    assert.equal(await c.readLine(), '+OK Pigeon POP3 server ready');
    await run(c, [
      ['STAT', '-ERR STAT is not valid before login'],
      ['LIST', '-ERR LIST is not valid before login'],
      ['RETR 1', '-ERR RETR is not valid before login'],
      ['NOOP', '-ERR NOOP is not valid before login'],
      ['PASS secret', '-ERR send USER first'],
      ['APOP alice@example.com c4c9334bac560ecc979e58001b3e22fb', '-ERR APOP is not supported; use USER/PASS or AUTH PLAIN over TLS'],
      [`USER ${USER}`, '+OK send PASS'],
      ['PASS wrong password', '-ERR [AUTH] invalid user name or password (log in with your full email address)'],
      // A failed PASS forgets the user: the client starts again with USER (RFC 1939 §7 PASS).
      [`PASS ${PASSWORD}`, '-ERR send USER first'],
      ['USER nobody@example.com', '+OK send PASS'],
      [`PASS ${PASSWORD}`, '-ERR [AUTH] invalid user name or password (log in with your full email address)'],
      ['USER alice', '+OK send PASS'],
      [`PASS ${PASSWORD}`, '-ERR [AUTH] invalid user name or password (log in with your full email address)'],
      [`USER ${USER}`, '+OK send PASS'],
      [`PASS ${PASSWORD}`, '+OK maildrop locked and ready: 0 messages (0 octets)'],
    ]);
    assert.equal(await c.command('QUIT'), '+OK Pigeon POP3 server signing off (0 messages deleted)');
    await c.closed();
  });

  test('QUIT before login says goodbye and closes', async () => {
    const c = await Pop3Client.connect(f.tlsPort, { tls: true });
    await c.readLine();
    assert.equal(await c.command('QUIT'), '+OK Pigeon POP3 server signing off');
    assert.equal(await c.closed(), '');
  });

  test('the login name is the full address, domain in any case', async () => {
    const c = await Pop3Client.connect(f.tlsPort, { tls: true });
    await c.readLine();
    assert.equal(await c.login('alice@EXAMPLE.com'), '+OK maildrop locked and ready: 0 messages (0 octets)');
    await c.command('QUIT');
  });
});

describe('RFC 1939 §5 TRANSACTION state and §6 UPDATE state', () => {
  let f: Pop3Fixture;
  const m1 = message('first');
  const m2 = message('second', 'Line one\r\n.starts with a dot\r\n..two dots\r\nlast\r\n');
  const m3 = message('third', 'a\r\nb\r\nc\r\n');
  const size = (s: string): number => Buffer.byteLength(s);
  let uids: number[];
  before(async () => {
    f = await startFixture();
    uids = [await f.append(m1), await f.append(m2), await f.append(m3)];
  });
  after(() => f.close());

  test('STAT, LIST, UIDL, RETR, TOP, DELE, RSET, NOOP keep RFC 1939 semantics; nothing changes before QUIT', async () => {
    const c = await Pop3Client.connect(f.tlsPort, { tls: true });
    await c.readLine();
    const total = size(m1) + size(m2) + size(m3);
    assert.equal(await c.login(), `+OK maildrop locked and ready: 3 messages (${total} octets)`);
    const v = f.inbox.uidValidity;
    await run(c, [
      ['STAT', `+OK 3 ${total}`],
      ['LIST', `+OK 3 messages (${total} octets)`, [`1 ${size(m1)}`, `2 ${size(m2)}`, `3 ${size(m3)}`]],
      ['LIST 2', `+OK 2 ${size(m2)}`],
      ['LIST 4', '-ERR no such message: 4'],
      ['LIST 0', '-ERR no such message: 0'],
      ['UIDL', '+OK unique-id listing follows', [`1 ${v}.${uids[0]}`, `2 ${v}.${uids[1]}`, `3 ${v}.${uids[2]}`]],
      ['UIDL 3', `+OK 3 ${v}.${uids[2]}`],
      ['UIDL 9', '-ERR no such message: 9'],
      ['TOP 2 2', '+OK top of message follows', [...m2.split('\r\n\r\n')[0]!.split('\r\n'), '', 'Line one', '.starts with a dot']],
      ['TOP 4 1', '-ERR no such message: 4'],
      ['NOOP', '+OK'],
      ['DELE 1', '+OK message 1 deleted'],
      ['DELE 1', '-ERR message 1 is deleted'],
      ['RETR 1', '-ERR message 1 is deleted'],
      ['LIST 1', '-ERR message 1 is deleted'],
      ['UIDL 1', '-ERR message 1 is deleted'],
      ['TOP 1 0', '-ERR message 1 is deleted'],
      ['STAT', `+OK 2 ${total - size(m1)}`],
      ['LIST', `+OK 2 messages (${total - size(m1)} octets)`, [`2 ${size(m2)}`, `3 ${size(m3)}`]],
      ['UIDL', '+OK unique-id listing follows', [`2 ${v}.${uids[1]}`, `3 ${v}.${uids[2]}`]],
      ['RSET', `+OK maildrop has 3 messages (${total} octets)`],
      ['LIST 1', `+OK 1 ${size(m1)}`],
      ['USER x@example.com', '-ERR USER is not valid after login'],
      ['STLS', '-ERR STLS is not valid after login'],
      ['AUTH PLAIN', '-ERR AUTH is not valid after login'],
    ]);
    assert.equal(await c.command('RETR 2'), `+OK ${size(m2)} octets`);
    assert.equal((await c.readBody()).toString(), m2);
    assert.equal(await c.command('DELE 3'), '+OK message 3 deleted');
    // Still all there in the store: DELE only marks.
    assert.deepEqual((await f.store.listMessageStates(f.inbox.id)).map((s) => s.uid), uids);
    assert.equal(await c.command('QUIT'), '+OK Pigeon POP3 server signing off (1 message deleted)');
    await c.closed();
    const after = await f.store.listMessageStates(f.inbox.id);
    assert.deepEqual(after.map((s) => s.uid), [uids[0], uids[1]]);
    // RETR (not TOP) marks \Seen at QUIT.
    assert.deepEqual(after.map((s) => s.flags.includes('\\Seen')), [false, true]);
  });
});

describe('RFC 1939 §4 the maildrop is a snapshot taken at login', () => {
  let f: Pop3Fixture;
  before(async () => {
    f = await startFixture();
  });
  after(() => f.close());

  test('mail arriving during the session does not renumber it; the next session sees it', async () => {
    await f.append(message('old'));
    const c = await Pop3Client.connect(f.tlsPort, { tls: true });
    await c.readLine();
    await c.login();
    const before = await c.command('STAT');
    await f.append(message('new'));
    assert.equal(await c.command('STAT'), before);
    assert.equal(await c.command('LIST 2'), '-ERR no such message: 2');
    await c.command('QUIT');
    await c.closed();
    const d = await Pop3Client.connect(f.tlsPort, { tls: true });
    await d.readLine();
    await d.login();
    assert.equal((await d.command('STAT')).split(' ')[1], '2');
    await d.command('QUIT');
  });

  test('a message expunged elsewhere mid-session: RETR answers -ERR and the session goes on', async () => {
    const uid = await f.append(message('doomed', 'unique body for this test only 8d1f\r\n'));
    const c = await Pop3Client.connect(f.tlsPort, { tls: true });
    await c.readLine();
    await c.login();
    const [, list] = await c.multi('UIDL');
    const n = list.find((l) => l.endsWith(`.${uid}`))!.split(' ')[0]!;
    await f.store.expunge(f.inbox.id, [uid]);
    assert.equal(await c.command(`RETR ${n}`), `-ERR [SYS/TEMP] message ${n} cannot be read now; try again later`);
    assert.equal(await c.command('NOOP'), '+OK');
    assert.equal(await c.command(`DELE ${n}`), `+OK message ${n} deleted`);
    assert.equal(await c.command('QUIT'), '+OK Pigeon POP3 server signing off (1 message deleted)');
  });
});
