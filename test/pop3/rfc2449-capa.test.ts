// RFC 2449 CAPA per connection state, and the response codes of RFC 2449 §8 / RFC 3206
// ([IN-USE], [AUTH], [SYS/TEMP], [SYS/PERM]).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Pop3Client, PASSWORD, USER, startFixture, type Pop3Fixture } from './fixture.js';

async function greeted(c: Pop3Client): Promise<Pop3Client> {
  assert.equal(await c.readLine(), '+OK Pigeon POP3 server ready');
  return c;
}

const BASE = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING'];

describe('RFC 2449 §5 CAPA lists what can be used now', () => {
  let f: Pop3Fixture;
  let open: Pop3Fixture;
  before(async () => {
    f = await startFixture();
    open = await startFixture({ allowPlaintext: true });
  });
  after(async () => {
    await f.close();
    await open.close();
  });

  const cases: Array<[string, (fx: () => { f: Pop3Fixture; open: Pop3Fixture }) => Promise<Pop3Client>, string[]]> = [
    [
      'port 110 before TLS: STLS, no USER or SASL',
      async (fx) => greeted(await Pop3Client.connect(fx().f.port)),
      [...BASE, 'STLS', 'IMPLEMENTATION Pigeon'],
    ],
    [
      'port 110 before TLS with allow_plaintext: USER, SASL PLAIN and STLS',
      async (fx) => greeted(await Pop3Client.connect(fx().open.port)),
      [...BASE, 'USER', 'SASL PLAIN', 'STLS', 'IMPLEMENTATION Pigeon'],
    ],
    [
      'after STLS: USER and SASL PLAIN, no STLS',
      async (fx) => {
        const c = await Pop3Client.connect(fx().f.port);
        await c.readLine();
        await c.startTls();
        return c;
      },
      [...BASE, 'USER', 'SASL PLAIN', 'IMPLEMENTATION Pigeon'],
    ],
    [
      'port 995: USER and SASL PLAIN, no STLS',
      async (fx) => greeted(await Pop3Client.connect(fx().f.tlsPort, { tls: true })),
      [...BASE, 'USER', 'SASL PLAIN', 'IMPLEMENTATION Pigeon'],
    ],
    [
      'after login: no USER, SASL or STLS',
      async (fx) => {
        const c = await Pop3Client.connect(fx().f.tlsPort, { tls: true });
        await c.readLine();
        assert.match(await c.login(), /^\+OK /);
        return c;
      },
      [...BASE, 'IMPLEMENTATION Pigeon'],
    ],
  ];
  for (const [name, connect, expected] of cases) {
    test(name, async () => {
      const c = await connect(() => ({ f, open }));
      assert.deepEqual(await c.multi('CAPA'), ['+OK Capability list follows', expected]);
      await c.command('QUIT');
      c.destroy();
    });
  }
});

describe('RFC 2449 §8.1 [IN-USE]: one POP3 session per maildrop', () => {
  let f: Pop3Fixture;
  before(async () => {
    f = await startFixture();
  });
  after(() => f.close());

  test('a second session gets -ERR [IN-USE], stays in AUTHORIZATION, and gets in after the first QUITs', async () => {
    const first = await Pop3Client.connect(f.tlsPort, { tls: true });
    await first.readLine();
    assert.match(await first.login(), /^\+OK maildrop locked/);
    const second = await Pop3Client.connect(f.port);
    await second.readLine();
    await second.startTls();
    assert.equal(await second.login(), '-ERR [IN-USE] another POP3 session of this account is open; try again when it ends');
    // Still in AUTHORIZATION: STAT is refused, a new login may be tried.
    assert.equal(await second.command('STAT'), '-ERR STAT is not valid before login');
    assert.equal(
      await second.command(`AUTH PLAIN ${Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64')}`),
      '-ERR [IN-USE] another POP3 session of this account is open; try again when it ends',
    );
    assert.equal(await first.command('QUIT'), '+OK Pigeon POP3 server signing off (0 messages deleted)');
    await first.closed();
    assert.equal(await second.login(), '+OK maildrop locked and ready: 0 messages (0 octets)');
    await second.command('QUIT');
  });

  test('a dropped connection releases the lock', async () => {
    const first = await Pop3Client.connect(f.tlsPort, { tls: true });
    await first.readLine();
    await first.login();
    first.destroy();
    await first.closed();
    const second = await Pop3Client.connect(f.tlsPort, { tls: true });
    await second.readLine();
    // The server notices the close a moment later: retry while IN-USE (bounded), never sleep.
    let reply = '';
    for (let i = 0; i < 40; i++) {
      reply = await second.login();
      if (!reply.startsWith('-ERR [IN-USE]')) break;
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(reply, '+OK maildrop locked and ready: 0 messages (0 octets)');
    await second.command('QUIT');
  });
});

describe('RFC 3206 response codes on failed logins', () => {
  let f: Pop3Fixture;
  before(async () => {
    f = await startFixture({ auth: { lockout_failures: 2, lockout_seconds: 600 } });
  });
  after(() => f.close());

  test('[AUTH] for wrong credentials, then [SYS/TEMP] with a readable reason once locked out', async () => {
    const c = await Pop3Client.connect(f.tlsPort, { tls: true });
    await c.readLine();
    const invalid = '-ERR [AUTH] invalid user name or password (log in with your full email address)';
    assert.equal(await c.login(USER, 'nope 1'), invalid);
    assert.equal(await c.login(USER, 'nope 2'), invalid);
    assert.equal(await c.login(USER, PASSWORD), '-ERR [SYS/TEMP] too many failed logins; try again in 10 minutes');
  });

  test('[SYS/PERM] for a password before TLS', async () => {
    const c = await Pop3Client.connect(f.port);
    await c.readLine();
    const tlsFirst = '-ERR [SYS/PERM] STLS first: passwords are only accepted over TLS';
    assert.equal(await c.command(`USER ${USER}`), tlsFirst);
    assert.equal(await c.command(`PASS ${PASSWORD}`), tlsFirst);
    assert.equal(await c.command('AUTH PLAIN'), tlsFirst);
    assert.equal(await c.command(`AUTH PLAIN ${Buffer.from(`\0${USER}\0${PASSWORD}`).toString('base64')}`), tlsFirst);
    assert.deepEqual(await c.multi('AUTH'), ['+OK SASL mechanisms follow', []]);
    c.destroy();
  });
});

describe('RFC 2449 §6.6 PIPELINING', () => {
  let f: Pop3Fixture;
  before(async () => {
    f = await startFixture();
  });
  after(() => f.close());

  test('commands sent in one write are answered in order', async () => {
    const body = 'From: a@example.org\r\nSubject: p\r\n\r\n.x\r\n';
    await f.append(body);
    const c = await Pop3Client.connect(f.tlsPort, { tls: true });
    await c.readLine();
    c.write(`USER ${USER}\r\nPASS ${PASSWORD}\r\nSTAT\r\nRETR 1\r\nLIST 1\r\nDELE 1\r\nSTAT\r\nRSET\r\nQUIT\r\n`);
    const size = Buffer.byteLength(body);
    assert.equal(await c.readLine(), '+OK send PASS');
    assert.equal(await c.readLine(), `+OK maildrop locked and ready: 1 messages (${size} octets)`);
    assert.equal(await c.readLine(), `+OK 1 ${size}`);
    assert.equal(await c.readLine(), `+OK ${size} octets`);
    assert.equal((await c.readBody()).toString(), body);
    assert.equal(await c.readLine(), `+OK 1 ${size}`);
    assert.equal(await c.readLine(), '+OK message 1 deleted');
    assert.equal(await c.readLine(), '+OK 0 0');
    assert.equal(await c.readLine(), `+OK maildrop has 1 messages (${size} octets)`);
    assert.equal(await c.readLine(), '+OK Pigeon POP3 server signing off (0 messages deleted)');
    assert.equal(await c.closed(), '');
  });
});
