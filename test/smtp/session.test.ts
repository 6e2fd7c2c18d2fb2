// SMTP sessions over real connections, grouped by RFC section: command sequencing (RFC 5321),
// PIPELINING (RFC 2920), limits and hostile input.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectReply, inbox, message, ready, send, SmtpClient, withServer } from './harness.js';

describe('RFC 5321 §4.3.1, §4.1.4: greeting and command order', () => {
  test('the greeting is immediate and names the host; EHLO lists the extensions of port 25', () =>
    withServer({}, async (s) => {
      const c = await SmtpClient.connect(s.port('smtp'));
      const greeting = await c.read();
      expectReply(greeting, 220, null);
      assert.equal(greeting!.lines[0], 'mx.example.com ESMTP Pigeon ready');
      const ext = await c.ehlo();
      assert.deepEqual(ext, ['PIPELINING', `SIZE ${50 * 1024 * 1024}`, '8BITMIME', 'SMTPUTF8', 'ENHANCEDSTATUSCODES', 'DSN', 'CHUNKING', 'STARTTLS']);
      c.close();
    }));

  test('commands out of order are refused with 503 5.5.1 and leave the session usable', () =>
    withServer({}, async (s) => {
      const c = await SmtpClient.connect(s.port('smtp'));
      await c.read();
      expectReply(await c.cmd('MAIL FROM:<a@remote.test>'), 503, null); // no EHLO yet: no enhanced codes
      await c.ehlo();
      expectReply(await c.cmd('RCPT TO:<bob@example.com>'), 503, '5.5.1');
      expectReply(await c.cmd('DATA'), 503, '5.5.1');
      expectReply(await c.cmd('MAIL FROM:<a@remote.test>'), 250, '2.1.0');
      expectReply(await c.cmd('MAIL FROM:<a@remote.test>'), 503, '5.5.1');
      expectReply(await c.cmd('DATA'), 554, '5.5.1');
      expectReply(await c.cmd('RSET'), 250, '2.0.0');
      expectReply(await c.cmd('RCPT TO:<bob@example.com>'), 503, '5.5.1');
      expectReply(await c.cmd('MAIL FROM:<a@remote.test>'), 250);
      await c.ehlo(); // EHLO resets the transaction
      expectReply(await c.cmd('RCPT TO:<bob@example.com>'), 503, '5.5.1');
      c.close();
    }));

  test('HELO sessions get no enhanced codes and no extension parameters', () =>
    withServer({}, async (s) => {
      const c = await SmtpClient.connect(s.port('smtp'));
      await c.read();
      expectReply(await c.cmd('HELO client.test'), 250, null);
      expectReply(await c.cmd('MAIL FROM:<a@remote.test> SIZE=100'), 555, null);
      expectReply(await c.cmd('MAIL FROM:<a@remote.test>'), 250, null);
      c.close();
    }));

  test('VRFY does not disclose mailboxes, EXPN is not offered, HELP and NOOP answer, QUIT closes', () =>
    withServer({}, async (s) => {
      const c = await ready(s.port('smtp'));
      expectReply(await c.cmd('VRFY bob'), 252, '2.5.0');
      expectReply(await c.cmd('EXPN staff'), 502, '5.5.1');
      expectReply(await c.cmd('HELP'), 214, '2.0.0');
      expectReply(await c.cmd('NOOP'), 250, '2.0.0');
      expectReply(await c.cmd('BURL imap://x LAST'), 502, '5.5.1');
      expectReply(await c.cmd('QUIT'), 221, '2.0.0');
      await c.closed;
    }));

  test('a message to a local user is delivered with trace fields (RFC 5321 §4.4)', () =>
    withServer({}, async (s) => {
      const c = await ready(s.port('smtp'));
      expectReply(await send(c, 'sender@remote.test', ['Bob@EXAMPLE.com'], message('trace')), 250, '2.0.0');
      const [raw] = await inbox(s.store, 'bob@example.com');
      assert.ok(raw);
      const lines = raw.split('\r\n');
      assert.equal(lines[0], 'Return-Path: <sender@remote.test>');
      assert.match(lines[1]!, /^Received: from client\.test \(\[127\.0\.0\.1\]\)$/);
      assert.match(lines[2]!, /^\tby mx\.example\.com \(Pigeon\) with ESMTP id [0-9A-F]{16}$/);
      assert.equal(lines[3], '\tfor <Bob@EXAMPLE.com>;');
      assert.ok(raw.includes('\r\nAuthentication-Results: mx.example.com;\r\n'));
      assert.ok(raw.endsWith('\r\n\r\nHello.\r\n'));
      c.close();
    }));
});

describe('RFC 2920: PIPELINING', () => {
  test('pipelined commands are answered in order, in one go', () =>
    withServer({}, async (s) => {
      const c = await ready(s.port('smtp'));
      c.write('MAIL FROM:<a@remote.test>\r\nRCPT TO:<bob@example.com>\r\nRCPT TO:<nobody@example.com>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\n');
      const replies = [await c.read(), await c.read(), await c.read(), await c.read(), await c.read()];
      assert.deepEqual(
        replies.map((r) => [r!.code, r!.enhanced]),
        [[250, '2.1.0'], [250, '2.1.5'], [550, '5.1.1'], [250, '2.1.5'], [354, null]],
      );
      c.write(`${message('pipelined')}.\r\nQUIT\r\n`);
      expectReply(await c.read(), 250);
      expectReply(await c.read(), 221);
      assert.equal((await inbox(s.store, 'bob@example.com')).length, 1);
      assert.equal((await inbox(s.store, 'alice@example.com')).length, 1);
    }));
});

describe('limits and hostile input', () => {
  test('bare LF in DATA is refused (SMTP smuggling): nothing is delivered, the smuggled command does not run', () =>
    withServer({}, async (s) => {
      const c = await ready(s.port('smtp'));
      expectReply(await c.cmd('MAIL FROM:<a@remote.test>'), 250);
      expectReply(await c.cmd('RCPT TO:<bob@example.com>'), 250);
      expectReply(await c.cmd('DATA'), 354);
      c.write('Subject: one\r\n\r\nfirst\n.\r\nMAIL FROM:<admin@example.com>\r\nRCPT TO:<alice@example.com>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\n');
      expectReply(await c.read(), 554, '5.6.0');
      expectReply(await c.cmd('NOOP'), 250);
      assert.equal((await inbox(s.store, 'bob@example.com')).length, 0);
      assert.equal((await inbox(s.store, 'alice@example.com')).length, 0);
      c.close();
    }));

  test('bare CR in DATA is refused too', () =>
    withServer({}, async (s) => {
      const c = await ready(s.port('smtp'));
      const r = await send(c, 'a@remote.test', ['bob@example.com'], 'Subject: x\r\n\r\nab\rcd\r\n');
      expectReply(r, 554, '5.6.0');
      assert.equal((await inbox(s.store, 'bob@example.com')).length, 0);
      c.close();
    }));

  test('too many recipients: 452 4.5.3', () =>
    withServer({ config: { limits: { max_recipients: 2 } } }, async (s) => {
      const c = await ready(s.port('smtp'));
      expectReply(await c.cmd('MAIL FROM:<a@remote.test>'), 250);
      expectReply(await c.cmd('RCPT TO:<bob@example.com>'), 250);
      expectReply(await c.cmd('RCPT TO:<alice@example.com>'), 250);
      expectReply(await c.cmd('RCPT TO:<carol@example.org>'), 452, '4.5.3');
      c.close();
    }));

  test('repeated RCPT of one address counts toward the recipient limit', () =>
    withServer({ config: { limits: { max_recipients: 2 } } }, async (s) => {
      const c = await ready(s.port('smtp'));
      expectReply(await c.cmd('MAIL FROM:<a@remote.test>'), 250);
      expectReply(await c.cmd('RCPT TO:<bob@example.com>'), 250);
      expectReply(await c.cmd('RCPT TO:<BOB@example.com>'), 250);
      expectReply(await c.cmd('RCPT TO:<bob@example.com>'), 452, '4.5.3');
      c.close();
    }));

  test('too many bad commands: 421 and the connection closes', () =>
    withServer({ config: { limits: { max_bad_commands: 3 } } }, async (s) => {
      const c = await ready(s.port('smtp'));
      expectReply(await c.cmd('FOO'), 500, '5.5.1');
      expectReply(await c.cmd('BAR'), 500, '5.5.1');
      expectReply(await c.cmd('BAZ'), 500, '5.5.1');
      expectReply(await c.read(), 421, '4.7.0');
      await c.closed;
    }));

  test('an HTTP request ends the connection with 421', () =>
    withServer({}, async (s) => {
      const c = await SmtpClient.connect(s.port('smtp'));
      await c.read();
      c.write('GET / HTTP/1.1\r\nHost: mx.example.com\r\n\r\n');
      expectReply(await c.read(), 421);
      await c.closed;
      assert.equal(await c.read(), null);
    }));

  test('a command line over the limit is refused and the session goes on', () =>
    withServer({ config: { limits: { max_line_length: 1024 } } }, async (s) => {
      const c = await ready(s.port('smtp'));
      expectReply(await c.cmd(`NOOP ${'x'.repeat(2000)}`), 500, '5.5.2');
      expectReply(await c.cmd('NOOP'), 250);
      c.close();
    }));

  test('too many commands before MAIL: 421 and close', () =>
    withServer({ config: { limits: { max_commands_before_login: 4 } } }, async (s) => {
      const c = await ready(s.port('smtp')); // EHLO is the first
      expectReply(await c.cmd('NOOP'), 250);
      expectReply(await c.cmd('NOOP'), 250);
      expectReply(await c.cmd('NOOP'), 250);
      expectReply(await c.cmd('NOOP'), 421, '4.7.0');
      await c.closed;
    }));

  test('connections per address are limited at the greeting (421 4.7.0)', () =>
    withServer({ config: { limits: { max_connections_per_address: 2 } } }, async (s) => {
      const a = await SmtpClient.connect(s.port('smtp'));
      const b = await SmtpClient.connect(s.port('smtp'));
      expectReply(await a.read(), 220);
      expectReply(await b.read(), 220);
      const c = await SmtpClient.connect(s.port('smtp'));
      const r = await c.read();
      expectReply(r, 421);
      assert.match(r!.lines[0]!, /Too many connections/);
      await c.closed;
      a.close();
      await a.closed;
      // The slot is free again once a connection ends; wait for the server to see the close.
      for (;;) {
        const d = await SmtpClient.connect(s.port('smtp'));
        const g = await d.read();
        d.close();
        if (g?.code === 220) break;
      }
      b.close();
    }));

  test('an idle session is closed with 421 4.4.2', () =>
    withServer({ idleTimeoutMs: 150 }, async (s) => {
      const c = await ready(s.port('smtp'));
      const r = await c.read();
      expectReply(r, 421, '4.4.2');
      await c.closed;
    }));

  test('unknown local recipient: 550 5.1.1; over quota: 452 4.2.2, or 552 5.2.2 when the message alone is too big', () =>
    withServer({}, async (s) => {
      const c = await ready(s.port('smtp'));
      expectReply(await send(c, 'a@remote.test', ['bob@example.com'], message('fill')), 250);
      const bob = await s.store.getAccountByEmail('bob@example.com');
      await s.store.updateAccount(bob!.id, { quota: 100 });
      expectReply(await c.cmd('MAIL FROM:<a@remote.test>'), 250);
      expectReply(await c.cmd('RCPT TO:<nobody@example.com>'), 550, '5.1.1');
      expectReply(await c.cmd('RCPT TO:<bob@example.com>'), 452, '4.2.2');
      expectReply(await c.cmd('RSET'), 250);
      await s.store.updateAccount(bob!.id, { quota: 1_000_000 });
      expectReply(await c.cmd('MAIL FROM:<a@remote.test> SIZE=2000000'), 250);
      expectReply(await c.cmd('RCPT TO:<bob@example.com>'), 552, '5.2.2');
      c.close();
    }));
});

describe('connection handling', () => {
  test('a client that sends its last commands and half-closes still gets every reply', () =>
    withServer({}, async (s) => {
      const c = await ready(s.port('smtp'));
      expectReply(await c.cmd('MAIL FROM:<a@remote.test>'), 250);
      expectReply(await c.cmd('RCPT TO:<bob@example.com>'), 250);
      expectReply(await c.cmd('DATA'), 354);
      c.end(`${message('half-close')}.\r\nQUIT\r\n`);
      expectReply(await c.read(), 250, '2.0.0');
      expectReply(await c.read(), 221, '2.0.0');
      await c.closed;
      assert.equal((await inbox(s.store, 'bob@example.com')).length, 1);
    }));

  test('closing the service says 421 to idle sessions and refuses new ones', () =>
    withServer({}, async (s) => {
      const c = await ready(s.port('smtp'));
      const closing = s.service.close({ timeoutMs: 2000 });
      expectReply(await c.read(), 421, '4.3.2');
      await c.closed;
      await closing;
    }));
});
