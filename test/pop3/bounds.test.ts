// Bounds: line length (RFC 2449 §4), bad commands, commands before login, connections per
// address, and the autologout timer (RFC 1939 §3), which deletes nothing.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Pop3Client, message, startFixture, type Pop3Fixture } from './fixture.js';

describe('line length and bad commands', () => {
  let f: Pop3Fixture;
  before(async () => {
    f = await startFixture({ limits: { max_line_length: 1024, max_bad_commands: 3, max_commands_before_login: 6 } });
  });
  after(() => f.close());

  test('a line longer than the limit gets -ERR and the session goes on', async () => {
    const c = await Pop3Client.connect(f.tlsPort, { tls: true });
    await c.readLine();
    assert.equal(await c.command(`USER ${'x'.repeat(2000)}`), '-ERR command line too long');
    // RFC 2449 §4: 255 octets must be accepted.
    assert.equal(await c.command(`USER ${'a'.repeat(240)}@example.com`), '+OK send PASS');
    assert.equal(await c.command('QUIT'), '+OK Pigeon POP3 server signing off');
  });

  test('max_bad_commands closes the connection with -ERR', async () => {
    const c = await Pop3Client.connect(f.tlsPort, { tls: true });
    await c.readLine();
    assert.equal(await c.command('HELO'), '-ERR unknown command');
    assert.equal(await c.command('RETR 1'), '-ERR RETR is not valid before login');
    assert.equal(await c.command('FOO bar'), '-ERR unknown command; too many bad commands, closing');
    assert.equal(await c.closed(), '');
  });

  test('max_commands_before_login closes the connection', async () => {
    const c = await Pop3Client.connect(f.tlsPort, { tls: true });
    await c.readLine();
    for (let i = 0; i < 6; i++) {
      assert.equal(await c.command('CAPA'), '+OK Capability list follows', `CAPA ${i}`);
      await c.readBody();
    }
    assert.equal(await c.command('CAPA'), '-ERR [SYS/PERM] too many commands before login; closing');
    assert.equal(await c.closed(), '');
  });

  test('an endless line without CRLF is cut off, not buffered', async () => {
    const c = await Pop3Client.connect(f.tlsPort, { tls: true });
    await c.readLine();
    c.write(Buffer.alloc(1_000_000, 0x41));
    assert.equal(await c.readLine(), '-ERR command line too long');
    c.write('\r\n');
    assert.equal(await c.command('QUIT'), '+OK Pigeon POP3 server signing off');
  });
});

describe('connections per address', () => {
  let f: Pop3Fixture;
  before(async () => {
    f = await startFixture({ limits: { max_connections_per_address: 2 } });
  });
  after(() => f.close());

  test('beyond max_connections_per_address (both POP3 ports together) the greeting is -ERR [SYS/TEMP]', async () => {
    const a = await Pop3Client.connect(f.port);
    assert.equal(await a.readLine(), '+OK Pigeon POP3 server ready');
    const b = await Pop3Client.connect(f.tlsPort, { tls: true });
    assert.equal(await b.readLine(), '+OK Pigeon POP3 server ready');
    const c = await Pop3Client.connect(f.port);
    assert.equal(await c.readLine(), '-ERR [SYS/TEMP] too many connections from your address; try again later');
    await c.closed();
    assert.equal(await a.command('QUIT'), '+OK Pigeon POP3 server signing off');
    await a.closed();
    // A slot is free again once the server has seen the close; retry (bounded) rather than sleep.
    let greeting = '';
    for (let i = 0; i < 40 && greeting !== '+OK Pigeon POP3 server ready'; i++) {
      const d = await Pop3Client.connect(f.port);
      greeting = await d.readLine();
      d.destroy();
    }
    assert.equal(greeting, '+OK Pigeon POP3 server ready');
    b.destroy();
  });
});

describe('RFC 1939 §3 autologout timer', () => {
  let f: Pop3Fixture;
  before(async () => {
    f = await startFixture({ idleTimeoutMs: 300 });
  });
  after(() => f.close());

  test('an idle session is closed without a response and without deleting', async () => {
    const uid = await f.append(message('kept'));
    const c = await Pop3Client.connect(f.tlsPort, { tls: true });
    await c.readLine();
    await c.login();
    assert.equal(await c.command('DELE 1'), '+OK message 1 deleted');
    assert.equal(await c.closed(), '');
    assert.deepEqual((await f.store.listMessageStates(f.inbox.id)).map((s) => s.uid), [uid]);
    // And the maildrop lock went with it.
    const d = await Pop3Client.connect(f.tlsPort, { tls: true });
    await d.readLine();
    assert.equal(await d.login(), `+OK maildrop locked and ready: 1 messages (${Buffer.byteLength(message('kept'))} octets)`);
    await d.command('QUIT');
  });
});

describe('server shutdown', () => {
  test('close() says goodbye to open sessions and deletes nothing', async () => {
    const f = await startFixture();
    try {
      const uid = await f.append(message('stays'));
      const c = await Pop3Client.connect(f.tlsPort, { tls: true });
      await c.readLine();
      await c.login();
      assert.equal(await c.command('DELE 1'), '+OK message 1 deleted');
      await f.service.close({ timeoutMs: 5000 });
      assert.equal(await c.closed(), '-ERR [SYS/TEMP] server shutting down; nothing was deleted, connect again later\r\n');
      assert.deepEqual((await f.store.listMessageStates(f.inbox.id)).map((s) => s.uid), [uid]);
    } finally {
      await f.close();
    }
  });
});
