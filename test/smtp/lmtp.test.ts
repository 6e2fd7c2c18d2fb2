// LMTP (RFC 2033): LHLO, local recipients only, one reply per recipient after the message.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectReply, inbox, message, SmtpClient, withServer } from './harness.js';

describe('RFC 2033: LMTP', () => {
  test('LHLO is required; EHLO is refused', () =>
    withServer({}, async (s) => {
      const c = await SmtpClient.connect(s.port('lmtp'));
      const g = await c.read();
      expectReply(g, 220);
      assert.match(g!.lines[0]!, /LMTP/);
      expectReply(await c.cmd('EHLO mta.test'), 500);
      const r = await c.cmd('LHLO mta.test');
      expectReply(r, 250);
      assert.ok(!r!.lines.includes('STARTTLS'));
      assert.ok(!r!.lines.some((l) => l.startsWith('AUTH')));
      c.close();
    }));

  test('one reply per accepted recipient after the final dot, in RCPT order', () =>
    withServer({}, async (s) => {
      const c = await SmtpClient.connect(s.port('lmtp'));
      await c.read();
      expectReply(await c.cmd('LHLO mta.test'), 250);
      // Fill carol's mailbox so her delivery fails at DATA time.
      const carol = await s.store.getAccountByEmail('carol@example.org');
      await s.store.updateAccount(carol!.id, { quota: 1 });
      expectReply(await c.cmd('MAIL FROM:<sender@remote.test>'), 250);
      expectReply(await c.cmd('RCPT TO:<bob@example.com>'), 250, '2.1.5');
      expectReply(await c.cmd('RCPT TO:<someone@remote.test>'), 550, '5.1.1'); // no relaying
      expectReply(await c.cmd('RCPT TO:<nobody@example.com>'), 550, '5.1.1');
      expectReply(await c.cmd('RCPT TO:<carol@example.org>'), 250);
      expectReply(await c.cmd('RCPT TO:<alice@example.com>'), 250);
      expectReply(await c.cmd('DATA'), 354);
      c.write(`${message('lmtp')}.\r\n`);
      const replies = [await c.read(), await c.read(), await c.read()];
      assert.deepEqual(
        replies.map((r) => [r!.code, r!.enhanced]),
        [
          [250, '2.0.0'],
          [452, '4.2.2'],
          [250, '2.0.0'],
        ],
      );
      expectReply(await c.cmd('NOOP'), 250);
      const [raw] = await inbox(s.store, 'bob@example.com');
      assert.ok(raw!.startsWith('Return-Path: <sender@remote.test>\r\nReceived: from mta.test ([127.0.0.1])\r\n\tby mx.example.com (Pigeon) with LMTP id '));
      assert.ok(!raw!.includes('Authentication-Results'));
      assert.equal((await inbox(s.store, 'carol@example.org')).length, 0);
      c.close();
    }));

  test('a refused message gets one refusal per recipient', () =>
    withServer({}, async (s) => {
      const c = await SmtpClient.connect(s.port('lmtp'));
      await c.read();
      expectReply(await c.cmd('LHLO mta.test'), 250);
      expectReply(await c.cmd('MAIL FROM:<sender@remote.test>'), 250);
      expectReply(await c.cmd('RCPT TO:<bob@example.com>'), 250);
      expectReply(await c.cmd('RCPT TO:<alice@example.com>'), 250);
      expectReply(await c.cmd('DATA'), 354);
      c.write('Subject: x\n\nbare\r\n.\r\n');
      expectReply(await c.read(), 554, '5.6.0');
      expectReply(await c.read(), 554, '5.6.0');
      c.close();
    }));
});
