// The listener and session bounds: STARTTLS drops pipelined plaintext, implicit TLS, connections
// per address and per account, backpressure on output, autologout before login, IDLE keepalive,
// overlong lines.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LineClient, startTestServer, type TestServer, type TestServerOptions } from '../harness/transcript.js';

async function withServer(options: TestServerOptions, fn: (server: TestServer) => Promise<void>): Promise<void> {
  const server = await startTestServer(options);
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('IMAP listener', () => {
  test('STARTTLS discards commands pipelined before the handshake', async () => {
    await withServer({ config: { auth: { allow_plaintext: false } } }, async (server) => {
      const c = await LineClient.connect(server.port);
      try {
        assert.match(await c.readLine(), /^\* OK \[CAPABILITY .* STARTTLS LOGINDISABLED\]/);
        c.send('a STARTTLS\r\nb LOGIN user@example.com pass\r\nc NOOP');
        assert.equal(await c.readLine(), 'a OK Begin TLS negotiation now');
        await c.upgrade();
        const caps = await c.command('d', 'CAPABILITY');
        assert.equal(caps.length, 2);
        assert.ok(caps[0]!.includes(' AUTH=PLAIN'));
        assert.ok(!caps[0]!.includes('STARTTLS') && !caps[0]!.includes('LOGINDISABLED'));
        assert.equal(caps[1], 'd OK CAPABILITY completed');
        // b and c never ran: the session is still not authenticated.
        assert.deepEqual(await c.command('e', 'SELECT INBOX'), ['e BAD SELECT: Log in first']);
        assert.deepEqual(await c.command('f', 'STARTTLS'), ['f BAD TLS is already active']);
        const login = await c.command('g', 'LOGIN user@example.com pass');
        assert.match(login[0]!, /^g OK /);
      } finally {
        c.close();
      }
    });
  });

  test('port 993 speaks TLS at once and offers AUTH without STARTTLS', async () => {
    await withServer({ config: { auth: { allow_plaintext: false } } }, async (server) => {
      const c = await LineClient.connectTls(server.tlsPort);
      try {
        const greeting = await c.readLine();
        assert.match(greeting, /AUTH=PLAIN AUTH=LOGIN\] Pigeon IMAP ready$/);
        assert.ok(!greeting.includes('STARTTLS'));
        assert.match((await c.command('a', 'LOGIN user@example.com pass'))[0]!, /^a OK /);
      } finally {
        c.close();
      }
    });
  });

  test('connections beyond the per-address limit get BYE', async () => {
    await withServer({ config: { limits: { max_connections_per_address: 2 } } }, async (server) => {
      const a = await LineClient.connect(server.port);
      const b = await LineClient.connect(server.port);
      await a.readLine();
      await b.readLine();
      const c = await LineClient.connect(server.port);
      assert.equal(await c.readLine(), '* BYE Too many connections from your address');
      await c.waitClosed();
      a.close();
      await until(() => server.service.stats().sessions === 1);
      const d = await LineClient.connect(server.port);
      assert.match(await d.readLine(), /^\* OK /);
      b.close();
      d.close();
    });
  });

  test('logins beyond the per-account limit are refused with LIMIT', async () => {
    await withServer({ config: { limits: { max_connections_per_account: 1 } } }, async (server) => {
      const a = await LineClient.connect(server.port);
      const b = await LineClient.connect(server.port);
      await a.readLine();
      await b.readLine();
      assert.match((await a.command('a', 'LOGIN user@example.com pass'))[0]!, /^a OK /);
      assert.deepEqual(await b.command('b', 'LOGIN user@example.com pass'), ['b NO [LIMIT] Too many connections for this account']);
      assert.match((await b.command('c', 'LOGIN other@example.com pass'))[0]!, /^c OK /);
      a.close();
      b.close();
    });
  });

  test('a client that does not read its FETCH output does not grow server memory', async () => {
    await withServer({}, async (server) => {
      const body = Buffer.from(`${'a'.repeat(1022)}\r\n`.repeat(1024));
      await server.deliver(Buffer.concat([Buffer.from('Subject: big\r\n\r\n'), body]), 'user@example.com');
      const c = await LineClient.connect(server.port);
      try {
        await c.readLine();
        await c.command('a', 'LOGIN user@example.com pass');
        await c.command('b', 'SELECT INBOX');
        c.pause();
        const commands = 60;
        let pipeline = '';
        for (let i = 0; i < commands; i++) pipeline += `f${i} FETCH 1 BODY.PEEK[]\r\n`;
        c.send(Buffer.from(pipeline));
        // Wait until the server has filled what the socket accepts, then watch its buffer.
        await until(() => server.service.stats().bufferedOutputBytes > 0);
        let max = 0;
        for (let i = 0; i < 40; i++) {
          max = Math.max(max, server.service.stats().bufferedOutputBytes);
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        assert.ok(max < 4 * 1024 * 1024, `server buffered ${max} bytes for a client that does not read`);
        c.resume();
        let done = 0;
        for (;;) {
          const line = await c.readLine(20_000);
          if (/^f\d+ OK /.test(line)) done++;
          if (line === `f${commands - 1} OK FETCH completed`) break;
        }
        assert.equal(done, commands);
      } finally {
        c.close();
      }
    });
  });

  test('a connection that says nothing before login is logged out', async () => {
    await withServer({ config: { imap: { preauth_timeout_seconds: 1 } } }, async (server) => {
      const c = await LineClient.connect(server.port);
      await c.readLine();
      assert.equal(await c.readLine(3000), '* BYE Autologout; idle for too long');
      await c.waitClosed();
    });
  });

  test('a login slower than the inactivity timeout is answered, not cut off', async () => {
    const options = { authDelays: true, config: { imap: { preauth_timeout_seconds: 1 }, auth: { failure_delay_ms: 1500, max_failure_delay_ms: 1500 } } };
    await withServer(options, async (server) => {
      const c = await LineClient.connect(server.port);
      await c.readLine();
      c.send('a LOGIN user@example.com wrong');
      assert.equal(await c.readLine(5000), 'a NO [AUTHENTICATIONFAILED] Invalid credentials');
      assert.equal(await c.readLine(3000), '* BYE Autologout; idle for too long');
    });
  });

  test('IDLE sends "* OK Still here" every keepalive interval', async () => {
    await withServer({ config: { imap: { idle_keepalive_seconds: 1 } } }, async (server) => {
      const c = await LineClient.connect(server.port);
      try {
        await c.readLine();
        await c.command('a', 'LOGIN user@example.com pass');
        await c.command('b', 'SELECT INBOX');
        c.send('c IDLE');
        assert.equal(await c.readLine(), '+ idling');
        assert.equal(await c.readLine(3000), '* OK Still here');
        c.send('DONE');
        assert.equal(await c.readLine(), 'c OK IDLE terminated');
      } finally {
        c.close();
      }
    });
  });

  test('an overlong line is refused and the connection stays usable', async () => {
    await withServer({ config: { limits: { max_line_length: 1024 } } }, async (server) => {
      const c = await LineClient.connect(server.port);
      try {
        await c.readLine();
        c.send(`a LOGIN ${'x'.repeat(5000)} pass`);
        assert.match(await c.readLine(), /^a BAD /);
        assert.deepEqual(await c.command('b', 'NOOP'), ['b OK NOOP completed']);
      } finally {
        c.close();
      }
    });
  });

  test('shutting down says BYE to an idling client and to one between commands', async () => {
    const server = await startTestServer();
    try {
      const idler = await LineClient.connect(server.port);
      const quiet = await LineClient.connect(server.port);
      await idler.readLine();
      await quiet.readLine();
      await idler.command('a', 'LOGIN user@example.com pass');
      await idler.command('b', 'SELECT INBOX');
      idler.send('c IDLE');
      assert.equal(await idler.readLine(), '+ idling');
      await server.service.close({ timeoutMs: 2000 });
      assert.equal(await idler.readLine(), '* BYE Server shutting down');
      assert.equal(await quiet.readLine(), '* BYE Server shutting down');
      await idler.waitClosed();
      await quiet.waitClosed();
    } finally {
      await server.close();
    }
  });
});
