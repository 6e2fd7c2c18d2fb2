// Extensions and security order over real connections: RFC 3207 STARTTLS, RFC 4954 AUTH on each
// port, RFC 1870 SIZE, RFC 3030 CHUNKING, RFC 6531 SMTPUTF8, RFC 3461 DSN.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectReply, inbox, message, PASSWORD, ready, send, SmtpClient, submitter, withServer } from './harness.js';

describe('RFC 3207: STARTTLS', () => {
  test('port 25 offers STARTTLS and no AUTH before TLS; after TLS it offers AUTH and not STARTTLS', () =>
    withServer({}, async (s) => {
      const c = await SmtpClient.connect(s.port('smtp'));
      await c.read();
      const before = await c.ehlo();
      assert.ok(before.includes('STARTTLS'));
      assert.ok(!before.some((e) => e.startsWith('AUTH')));
      expectReply(await c.cmd('AUTH PLAIN AGFsaWNlAHB3'), 538, '5.7.11');
      expectReply(await c.starttls(), 220, '2.0.0');
      const after = await c.ehlo();
      assert.ok(!after.includes('STARTTLS'));
      assert.ok(after.includes('AUTH PLAIN LOGIN'));
      expectReply(await c.cmd('STARTTLS'), 503, '5.5.1');
      c.close();
    }));

  test('STARTTLS is never required on 25: plain mail is accepted', () =>
    withServer({}, async (s) => {
      const c = await ready(s.port('smtp'));
      expectReply(await send(c, 'a@remote.test', ['bob@example.com'], message('plain')), 250);
      c.close();
    }));

  test('commands pipelined after STARTTLS are discarded and the session starts over', () =>
    withServer({}, async (s) => {
      const c = await ready(s.port('smtp'));
      expectReply(await c.starttls('MAIL FROM:<evil@remote.test>\r\nRCPT TO:<bob@example.com>\r\n'), 220);
      // No EHLO yet after TLS: the pipelined MAIL did not count, the state was reset.
      expectReply(await c.cmd('RCPT TO:<bob@example.com>'), 503);
      expectReply(await c.cmd('MAIL FROM:<a@remote.test>'), 503);
      await c.ehlo();
      expectReply(await c.cmd('RCPT TO:<bob@example.com>'), 503, '5.5.1');
      c.close();
    }));

  test('the Received field notes TLS (ESMTPS)', () =>
    withServer({}, async (s) => {
      const c = await ready(s.port('smtp'));
      await c.starttls();
      await c.ehlo();
      expectReply(await send(c, 'a@remote.test', ['bob@example.com'], message('tls')), 250);
      const [raw] = await inbox(s.store, 'bob@example.com');
      assert.match(raw!, /\r\n\tby mx\.example\.com \(Pigeon\) with ESMTPS id [0-9A-F]+\r\n\t\(using TLSv1\.[23] with cipher [A-Z0-9_-]+\)\r\n/);
      c.close();
    }));
});

describe('RFC 4954: AUTH and submission order', () => {
  test('587: MAIL needs STARTTLS first (530 5.7.0), then AUTH (530 5.7.0); after AUTH PLAIN mail goes anywhere', () =>
    withServer({}, async (s) => {
      const c = await ready(s.port('submission'));
      expectReply(await c.cmd('MAIL FROM:<alice@example.com>'), 530, '5.7.0');
      expectReply(await c.cmd('AUTH PLAIN AGFsaWNlAHB3'), 538, '5.7.11');
      await c.starttls();
      const ext = await c.ehlo();
      assert.ok(ext.includes('AUTH PLAIN LOGIN'));
      expectReply(await c.cmd('MAIL FROM:<alice@example.com>'), 530, '5.7.0');
      expectReply(await c.authPlain('alice@example.com', PASSWORD), 235, '2.7.0');
      expectReply(await c.authPlain('alice@example.com', PASSWORD), 503, '5.5.1');
      expectReply(await send(c, 'alice@example.com', ['someone@remote.test', 'bob@example.com'], message('submitted')), 250);
      const queue = await s.store.listQueue();
      assert.equal(queue.length, 1);
      assert.equal(queue[0]!.sender, 'alice@example.com');
      assert.deepEqual(queue[0]!.recipients.map((r) => r.address), ['someone@remote.test']);
      assert.equal((await inbox(s.store, 'bob@example.com')).length, 1);
      c.close();
    }));

  test('AUTH LOGIN and AUTH PLAIN without initial response use 334 challenges; "*" cancels', () =>
    withServer({}, async (s) => {
      const c = await ready(s.port('submission'));
      await c.starttls();
      await c.ehlo();
      const r1 = await c.cmd('AUTH LOGIN');
      expectReply(r1, 334, null);
      assert.equal(r1!.lines[0], 'VXNlcm5hbWU6');
      const r2 = await c.cmd(Buffer.from('alice@example.com').toString('base64'));
      expectReply(r2, 334, null);
      assert.equal(r2!.lines[0], 'UGFzc3dvcmQ6');
      expectReply(await c.cmd('*'), 501, '5.0.0');
      expectReply(await c.cmd('AUTH PLAIN'), 334);
      expectReply(await c.cmd(Buffer.from(`\0alice@example.com\0${PASSWORD}`).toString('base64')), 235, '2.7.0');
      c.close();
    }));

  test('wrong passwords: 535 5.7.8, the third closes the connection; unknown mechanisms: 504', () =>
    withServer({}, async (s) => {
      const c = await ready(s.port('submission'));
      await c.starttls();
      await c.ehlo();
      expectReply(await c.cmd('AUTH CRAM-MD5'), 504, '5.5.4');
      expectReply(await c.authPlain('alice@example.com', 'wrong'), 535, '5.7.8');
      expectReply(await c.authPlain('alice@example.com', 'wrong'), 535, '5.7.8');
      expectReply(await c.authPlain('alice@example.com', 'wrong'), 535, '5.7.8');
      expectReply(await c.read(), 421, '4.7.0');
      await c.closed;
    }));

  test('465: implicit TLS, AUTH offered, no STARTTLS, MAIL needs AUTH', () =>
    withServer({}, async (s) => {
      const c = await ready(s.port('submissions'), { tls: true });
      expectReply(await c.cmd('MAIL FROM:<alice@example.com>'), 530, '5.7.0');
      await c.ehlo();
      expectReply(await c.cmd('STARTTLS'), 502, '5.5.1');
      expectReply(await c.authPlain('alice@example.com', PASSWORD), 235);
      expectReply(await send(c, 'alice@example.com', ['bob@example.com'], message('on 465')), 250);
      c.close();
    }));

  test('allow_plaintext offers AUTH before TLS', () =>
    withServer({ config: { auth: { allow_plaintext: true } } }, async (s) => {
      const c = await ready(s.port('submission'));
      const ext = await c.ehlo();
      assert.ok(ext.includes('AUTH PLAIN LOGIN'));
      expectReply(await c.authPlain('alice@example.com', PASSWORD), 235);
      expectReply(await c.cmd('MAIL FROM:<alice@example.com>'), 250);
      c.close();
    }));

  test('an authenticated user may send only as themselves or their aliases, unless the domain allows it', () =>
    withServer({}, async (s) => {
      await s.store.addAlias('sales@example.com', ['alice@example.com']);
      await s.store.addAlias('support@example.com', ['bob@example.com']);
      const c = await submitter(s);
      expectReply(await c.cmd('MAIL FROM:<bob@example.com>'), 553, '5.7.1');
      expectReply(await c.cmd('MAIL FROM:<support@example.com>'), 553, '5.7.1');
      expectReply(await c.cmd('MAIL FROM:<ceo@remote.test>'), 553, '5.7.1');
      expectReply(await c.cmd('MAIL FROM:<Sales@Example.com>'), 250, '2.1.0');
      expectReply(await c.cmd('RSET'), 250);
      expectReply(await c.cmd('MAIL FROM:<ALICE@example.com>'), 250);
      expectReply(await c.cmd('RSET'), 250);
      await s.store.updateDomainSettings('example.com', { enforceSender: false });
      expectReply(await c.cmd('MAIL FROM:<bob@example.com>'), 250);
      c.close();
    }));
});

describe('RFC 1870: SIZE', () => {
  test('SIZE is advertised; a declared size over it is 552 5.3.4; a real size over it is 552 after DATA and nothing is kept', () =>
    withServer({ config: { limits: { max_message_size: 2048 } } }, async (s) => {
      const c = await SmtpClient.connect(s.port('smtp'));
      await c.read();
      assert.ok((await c.ehlo()).includes('SIZE 2048'));
      expectReply(await c.cmd('MAIL FROM:<a@remote.test> SIZE=2049'), 552, '5.3.4');
      const r = await send(c, 'a@remote.test', ['bob@example.com'], message('big', 'x'.repeat(70) + '\r\n'.repeat(1) + ('y'.repeat(78) + '\r\n').repeat(40)));
      expectReply(r, 552, '5.3.4');
      assert.equal((await inbox(s.store, 'bob@example.com')).length, 0);
      expectReply(await send(c, 'a@remote.test', ['bob@example.com'], message('small')), 250);
      c.close();
    }));
});

describe('RFC 3030: CHUNKING', () => {
  test('a message in BDAT chunks is stored byte for byte (no dot-unstuffing)', () =>
    withServer({}, async (s) => {
      const c = await ready(s.port('smtp'));
      expectReply(await c.cmd('MAIL FROM:<a@remote.test>'), 250);
      expectReply(await c.cmd('RCPT TO:<bob@example.com>'), 250);
      const body = message('chunks', '..two dots stay\r\n.\r\nafter a lone dot\r\n');
      const half = Math.floor(body.length / 2);
      c.write(`BDAT ${half}\r\n${body.slice(0, half)}`);
      expectReply(await c.read(), 250, '2.0.0');
      c.write(`BDAT ${body.length - half} LAST\r\n${body.slice(half)}`);
      expectReply(await c.read(), 250, '2.0.0');
      const [raw] = await inbox(s.store, 'bob@example.com');
      assert.ok(raw!.endsWith(`\r\n\r\n..two dots stay\r\n.\r\nafter a lone dot\r\n`));
      assert.ok(raw!.includes('Subject: chunks\r\n'));
      c.close();
    }));

  test('BDAT without a transaction is answered 503 after its chunk is read; DATA after BDAT is 503', () =>
    withServer({}, async (s) => {
      const c = await ready(s.port('smtp'));
      c.write('BDAT 12\r\nQUIT\r\nQUIT\r\n');
      expectReply(await c.read(), 503, '5.5.1');
      expectReply(await c.cmd('MAIL FROM:<a@remote.test>'), 250);
      expectReply(await c.cmd('RCPT TO:<bob@example.com>'), 250);
      c.write('BDAT 4\r\nabcd');
      expectReply(await c.read(), 250);
      expectReply(await c.cmd('DATA'), 503, '5.5.1');
      c.close();
    }));

  test('BDAT with a bare LF is refused; over the size limit is 552', () =>
    withServer({ config: { limits: { max_message_size: 1024 } } }, async (s) => {
      const c = await ready(s.port('smtp'));
      expectReply(await c.cmd('MAIL FROM:<a@remote.test>'), 250);
      expectReply(await c.cmd('RCPT TO:<bob@example.com>'), 250);
      c.write('BDAT 16 LAST\r\nSubject: x\n\nbody');
      expectReply(await c.read(), 554, '5.6.0');
      expectReply(await c.cmd('MAIL FROM:<a@remote.test>'), 250);
      expectReply(await c.cmd('RCPT TO:<bob@example.com>'), 250);
      c.write(`BDAT 1000\r\n${'x'.repeat(998)}\r\n`);
      expectReply(await c.read(), 250);
      c.write(`BDAT 100 LAST\r\n${'x'.repeat(98)}\r\n`);
      expectReply(await c.read(), 552, '5.3.4');
      assert.equal((await inbox(s.store, 'bob@example.com')).length, 0);
      c.close();
    }));
});

describe('RFC 6531: SMTPUTF8', () => {
  test('a non-ASCII address needs the SMTPUTF8 parameter (553 5.6.7); with it the mail is delivered', () =>
    withServer({}, async (s) => {
      const c = await ready(s.port('smtp'));
      expectReply(await c.cmd('MAIL FROM:<josé@remote.test>'), 553, '5.6.7');
      expectReply(await c.cmd('MAIL FROM:<josé@remote.test> SMTPUTF8'), 250);
      expectReply(await c.cmd('RCPT TO:<bob@example.com>'), 250);
      expectReply(await c.cmd('DATA'), 354);
      c.write(`${message('utf8', 'Olá\r\n')}.\r\n`);
      expectReply(await c.read(), 250);
      const [raw] = await inbox(s.store, 'bob@example.com');
      assert.ok(raw!.startsWith('Return-Path: <josé@remote.test>\r\n'));
      assert.match(raw!, /with UTF8SMTP id/);
      c.close();
    }));
});

describe('RFC 3461: DSN parameters', () => {
  test('RET, ENVID, NOTIFY and ORCPT are kept in the queue', () =>
    withServer({}, async (s) => {
      const c = await submitter(s);
      expectReply(await c.cmd('MAIL FROM:<alice@example.com> RET=HDRS ENVID=QQ314159'), 250);
      expectReply(await c.cmd('RCPT TO:<x@remote.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@remote.test'), 250);
      expectReply(await c.cmd('RCPT TO:<y@remote.test> NOTIFY=NEVER'), 250);
      expectReply(await c.cmd('DATA'), 354);
      c.write(`${message('dsn')}.\r\n`);
      expectReply(await c.read(), 250);
      const [q] = await s.store.listQueue();
      assert.equal(q!.dsnRet, 'HDRS');
      assert.equal(q!.dsnEnvid, 'QQ314159');
      assert.deepEqual(
        q!.recipients.map((r) => [r.address, r.notify, r.orcpt]),
        [
          ['x@remote.test', ['SUCCESS', 'FAILURE'], 'rfc822;x@remote.test'],
          ['y@remote.test', ['NEVER'], null],
        ],
      );
      const account = await s.store.getAccountByEmail('alice@example.com');
      assert.equal(q!.accountId, account!.id);
      c.close();
    }));
});
