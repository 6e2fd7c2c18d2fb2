// Stamping and hand-off: Received, Return-Path and Authentication-Results on stored mail; forged
// verdicts with our authserv-id removed (RFC 8601 §5); SPF/DKIM/DMARC through the injected resolver.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { expectReply, inbox, message, ready, send, submitter, withServer } from './harness.js';
import { stripOwnAuthResults, withProtocol } from '../../src/smtp/inbound.js';
import type { Envelope } from '../../src/smtp/session.js';
import type { DNSResolver } from '../../src/smtp/inbound.js';

describe('trace and authentication fields', () => {
  test('a message submitted on 587 is stored with Return-Path, Received (ESMTPSA) and Authentication-Results', () =>
    withServer({}, async (s) => {
      const c = await submitter(s);
      expectReply(await send(c, 'alice@example.com', ['bob@example.com'], message('from 587')), 250);
      const [raw] = await inbox(s.store, 'bob@example.com');
      const header = raw!.slice(0, raw!.indexOf('\r\n\r\n') + 2);
      const fields = header.split(/\r\n(?![ \t])/).filter(Boolean).map((f) => f.slice(0, f.indexOf(':')));
      assert.deepEqual(fields.slice(0, 3), ['Return-Path', 'Received', 'Authentication-Results']);
      assert.match(header, /\r\n\tby mx\.example\.com \(Pigeon\) with ESMTPSA id /);
      assert.match(header, /Authentication-Results: mx\.example\.com;\r\n\tauth=pass smtp\.auth=alice@example\.com\r\n/);
      assert.match(header, /\r\nSubject: from 587\r\n/);
      c.close();
    }));

  test('forged Authentication-Results claiming our host are removed; others are kept', () =>
    withServer({}, async (s) => {
      const c = await ready(s.port('smtp'));
      const forged = 'Authentication-Results: mx.example.com;\r\n\tdkim=pass header.d=example.com\r\nAuthentication-Results: other.test; spf=pass\r\n';
      expectReply(await send(c, 'a@remote.test', ['bob@example.com'], message('forged', 'x\r\n', forged)), 250);
      const [raw] = await inbox(s.store, 'bob@example.com');
      const ours = raw!.match(/^Authentication-Results: mx\.example\.com;/gm) ?? [];
      assert.equal(ours.length, 1);
      assert.ok(!raw!.includes('dkim=pass header.d=example.com'));
      assert.ok(raw!.includes('Authentication-Results: other.test; spf=pass\r\n'));
      c.close();
    }));

  test('SPF is evaluated with the injected resolver', () => {
    const resolver: DNSResolver = async (name, type) => {
      if (type === 'TXT' && name === 'remote.test') return [['v=spf1 ip4:127.0.0.1 -all']];
      throw Object.assign(new Error('no such name'), { code: 'ENOTFOUND' });
    };
    return withServer({ resolver }, async (s) => {
      const c = await ready(s.port('smtp'));
      expectReply(await send(c, 'a@remote.test', ['bob@example.com'], message('spf')), 250);
      const [raw] = await inbox(s.store, 'bob@example.com');
      assert.match(raw!, /\r\n spf=pass \(mx\.example\.com: domain of a@remote\.test designates 127\.0\.0\.1 as permitted sender\) smtp\.mailfrom=a@remote\.test/);
      c.close();
    });
  });

  test('stripOwnAuthResults leaves the body alone', () => {
    const m = Buffer.from('Authentication-Results: MX.example.com; dkim=pass\r\n\tfolded\r\nSubject: s\r\n\r\nAuthentication-Results: mx.example.com; body text\r\n');
    assert.equal(stripOwnAuthResults(m, 'mx.example.com').toString(), 'Subject: s\r\n\r\nAuthentication-Results: mx.example.com; body text\r\n');
  });

  test('the "with" protocol names follow RFC 3848 and RFC 6531', () => {
    const e = (over: Partial<Envelope>): Envelope =>
      ({ esmtp: true, tls: null, account: null, kind: 'mx', params: { smtputf8: false }, ...over }) as Envelope;
    const account = { id: 1 } as Envelope['account'];
    const tls = { protocol: 'TLSv1.3', cipher: 'x' };
    assert.equal(withProtocol(e({ esmtp: false })), 'SMTP');
    assert.equal(withProtocol(e({})), 'ESMTP');
    assert.equal(withProtocol(e({ tls })), 'ESMTPS');
    assert.equal(withProtocol(e({ tls, account })), 'ESMTPSA');
    assert.equal(withProtocol(e({ account })), 'ESMTPA');
    assert.equal(withProtocol(e({ kind: 'lmtp' })), 'LMTP');
    assert.equal(withProtocol(e({ tls, params: { smtputf8: true } as Envelope['params'] })), 'UTF8SMTPS');
  });
});
