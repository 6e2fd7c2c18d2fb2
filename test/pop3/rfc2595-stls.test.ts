// RFC 2595 §4 STLS on port 110, and the "no password before TLS" rule (config.auth.allow_plaintext).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Pop3Client, PASSWORD, USER, startFixture, type Pop3Fixture } from './fixture.js';

describe('RFC 2595 §4 STLS', () => {
  let f: Pop3Fixture;
  before(async () => {
    f = await startFixture();
  });
  after(() => f.close());

  test('STLS then USER/PASS over TLS logs in', async () => {
    const c = await Pop3Client.connect(f.port);
    assert.equal(await c.readLine(), '+OK Pigeon POP3 server ready');
    assert.equal(await c.startTls(), '+OK Begin TLS negotiation');
    assert.equal(await c.login(), '+OK maildrop locked and ready: 0 messages (0 octets)');
    await c.command('QUIT');
  });

  test('a second STLS, or STLS on port 995, is refused', async () => {
    const c = await Pop3Client.connect(f.port);
    await c.readLine();
    await c.startTls();
    assert.equal(await c.command('STLS'), '-ERR already using TLS');
    const s = await Pop3Client.connect(f.tlsPort, { tls: true });
    await s.readLine();
    assert.equal(await s.command('STLS'), '-ERR already using TLS');
    c.destroy();
    s.destroy();
  });

  test('commands pipelined after STLS are discarded, not run after the handshake', async () => {
    const c = await Pop3Client.connect(f.port);
    await c.readLine();
    // Allowed-plaintext does not matter here: the injected USER must simply never take effect.
    c.write(`STLS\r\nUSER ${USER}\r\n`);
    assert.equal(await c.readLine(), '+OK Begin TLS negotiation');
    await c.handshake();
    // Had "USER" survived, PASS would log in.
    assert.equal(await c.command(`PASS ${PASSWORD}`), '-ERR send USER first');
    c.destroy();
  });

  test('a partial line sent before the handshake does not prefix the first line after it', async () => {
    const c = await Pop3Client.connect(f.port);
    await c.readLine();
    c.write('STLS\r\nUSER ali');
    assert.equal(await c.readLine(), '+OK Begin TLS negotiation');
    await c.handshake();
    assert.equal(await c.command('NOOP'), '-ERR NOOP is not valid before login');
    c.destroy();
  });

  test('plaintext after STLS that is not a TLS handshake ends the connection', async () => {
    const c = await Pop3Client.connect(f.port);
    await c.readLine();
    assert.equal(await c.command('STLS'), '+OK Begin TLS negotiation');
    c.write(`USER ${USER}\r\nPASS ${PASSWORD}\r\n`);
    const rest = await c.closed();
    assert.ok(!rest.includes('+OK'), `no plaintext +OK after STLS, got ${JSON.stringify(rest)}`);
  });
});

describe('config.auth.allow_plaintext', () => {
  let open: Pop3Fixture;
  before(async () => {
    open = await startFixture({ allowPlaintext: true });
  });
  after(() => open.close());

  test('when allowed, USER/PASS work on port 110 without TLS', async () => {
    const c = await Pop3Client.connect(open.port);
    await c.readLine();
    assert.equal(await c.login(), '+OK maildrop locked and ready: 0 messages (0 octets)');
    await c.command('QUIT');
  });
});
