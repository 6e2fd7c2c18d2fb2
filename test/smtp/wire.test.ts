// Wire tables: bytes → reader events, command lines → typed commands, replies → text.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SmtpReader, LineEndingCheck, type ReaderEvent } from '../../src/smtp/wire/reader.js';
import { parseCommand, type ParseResult } from '../../src/smtp/wire/command.js';
import { formatReply, parseReplyLines, reply } from '../../src/smtp/wire/reply.js';
import { parsePath } from '../../src/smtp/wire/path.js';

function events(reader: SmtpReader, ...chunks: string[]): ReaderEvent[] {
  const out: ReaderEvent[] = [];
  for (const c of chunks) {
    reader.push(Buffer.from(c, 'latin1'));
    for (let e = reader.next(); e; e = reader.next()) out.push(e);
  }
  return out;
}

function dataOf(input: string | string[], keep = 1000): ReaderEvent | undefined {
  const r = new SmtpReader({ maxLineLength: 100 });
  r.expectData(keep);
  return events(r, ...(Array.isArray(input) ? input : [input]))[0];
}

describe('reader: command lines (RFC 5321 §2.3.8, §4.5.3.1.4)', () => {
  test('splits pipelined lines and strips CRLF', () => {
    const ev = events(new SmtpReader({ maxLineLength: 100 }), 'MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDA', 'TA\r\n');
    assert.deepEqual(
      ev.map((e) => (e.kind === 'line' ? e.line.toString() : e.kind)),
      ['MAIL FROM:<a@b>', 'RCPT TO:<c@d>', 'DATA'],
    );
  });
  test('a line longer than the limit is reported once and skipped up to its end', () => {
    const r = new SmtpReader({ maxLineLength: 10 });
    const ev = events(r, 'X'.repeat(8), 'Y'.repeat(8), 'Z'.repeat(8), '\r\nNOOP\r\n');
    assert.deepEqual(ev.map((e) => (e.kind === 'line' ? e.line.toString() : e.kind)), ['line-too-long', 'NOOP']);
  });
  test('a complete line just over the limit is refused', () => {
    const ev = events(new SmtpReader({ maxLineLength: 4 }), 'ABCDE\r\nABCD\r\n');
    assert.deepEqual(ev.map((e) => (e.kind === 'line' ? e.line.toString() : e.kind)), ['line-too-long', 'ABCD']);
  });
  test('discard() drops every buffered byte (STARTTLS, RFC 3207 §4.2)', () => {
    const r = new SmtpReader({ maxLineLength: 100 });
    r.push(Buffer.from('MAIL FROM:<evil@x>\r\nRCPT'));
    r.discard();
    assert.equal(r.next(), null);
    assert.equal(r.buffered, 0);
  });
});

describe('reader: DATA (RFC 5321 §4.1.1.4, §4.5.2)', () => {
  const table: Array<{ name: string; input: string | string[]; body: string; bareCr?: boolean; bareLf?: boolean }> = [
    { name: 'plain message', input: 'a\r\nb\r\n.\r\n', body: 'a\r\nb\r\n' },
    { name: 'empty message', input: '.\r\n', body: '' },
    { name: 'dot-stuffed lines are unstuffed', input: '..hidden\r\n...\r\n.\r\n', body: '.hidden\r\n..\r\n' },
    { name: 'terminator split across packets', input: ['a\r', '\n.', '\r', '\n'], body: 'a\r\n' },
    { name: 'bare LF is flagged and does not end a line', input: 'a\n.\nb\r\n.\r\n', body: 'a\n.\nb\r\n', bareLf: true },
    { name: '<LF>.<CR><LF> does not end DATA (smuggling)', input: 'a\n.\r\nMAIL FROM:<x>\r\n.\r\n', body: 'a\n.\r\nMAIL FROM:<x>\r\n', bareLf: true },
    { name: 'bare CR is flagged', input: 'a\rb\r\n.\r\n', body: 'a\rb\r\n', bareCr: true },
    { name: '<CR>.<CR> is not a terminator', input: 'a\r.\rb\r\n.\r\n', body: 'a\r.\rb\r\n', bareCr: true },
  ];
  for (const row of table) {
    test(row.name, () => {
      const ev = dataOf(row.input);
      assert.ok(ev && ev.kind === 'data');
      assert.equal(ev.body.toString('latin1'), row.body);
      assert.equal(ev.bareCr, row.bareCr ?? false);
      assert.equal(ev.bareLf, row.bareLf ?? false);
      assert.equal(ev.tooBig, false);
    });
  }
  test('bytes after the terminator stay for the next command', () => {
    const r = new SmtpReader({ maxLineLength: 100 });
    r.expectData(100);
    const ev = events(r, 'x\r\n.\r\nQUIT\r\n');
    assert.equal(ev.length, 2);
    assert.equal(ev[1]!.kind === 'line' && ev[1]!.line.toString(), 'QUIT');
  });
  test('over the limit: counted, not kept (bounded memory)', () => {
    const ev = dataOf(['x'.repeat(600) + '\r\n', 'y'.repeat(600) + '\r\n.\r\n'], 1000);
    assert.ok(ev && ev.kind === 'data');
    assert.equal(ev.tooBig, true);
    assert.equal(ev.size, 1204);
    assert.equal(ev.body.length, 0);
  });
});

describe('reader: BDAT chunks (RFC 3030 §2)', () => {
  test('reads exactly n octets, binary-safe, then returns to lines', () => {
    const r = new SmtpReader({ maxLineLength: 100 });
    r.expectChunk(5, 100);
    const ev = events(r, 'a\r\n', '.\r\nNOOP\r\n');
    assert.equal(ev[0]!.kind, 'chunk');
    assert.equal(ev[0]!.kind === 'chunk' && ev[0]!.data.toString(), 'a\r\n.\r');
    assert.equal(ev[1]!.kind === 'line' && ev[1]!.line.toString(), '');
    assert.equal(ev[2]!.kind === 'line' && ev[2]!.line.toString(), 'NOOP');
  });
  test('a zero-length chunk is an immediate event', () => {
    const r = new SmtpReader({ maxLineLength: 100 });
    r.expectChunk(0, 100);
    const e = r.next();
    assert.ok(e && e.kind === 'chunk' && e.size === 0);
  });
  test('beyond keep the chunk is read and dropped', () => {
    const r = new SmtpReader({ maxLineLength: 100 });
    r.expectChunk(10, 4);
    const ev = events(r, '0123456789');
    assert.ok(ev[0]!.kind === 'chunk' && ev[0]!.tooBig && ev[0]!.size === 10 && ev[0]!.data.length === 0);
  });
  test('line-ending check spans chunk boundaries', () => {
    const ok = new LineEndingCheck();
    ok.feed(Buffer.from('a\r'));
    ok.feed(Buffer.from('\nb\r\n'));
    ok.end();
    assert.deepEqual([ok.bareCr, ok.bareLf], [false, false]);
    const lf = new LineEndingCheck();
    lf.feed(Buffer.from('a\n'));
    lf.end();
    assert.deepEqual([lf.bareCr, lf.bareLf], [false, true]);
    const cr = new LineEndingCheck();
    cr.feed(Buffer.from('a\r'));
    cr.end();
    assert.deepEqual([cr.bareCr, cr.bareLf], [true, false]);
  });
});

function ok(line: string) {
  const r = parseCommand(Buffer.from(line));
  if (!r.ok) assert.fail(`${line}: ${r.reply.code} ${r.reply.lines.join(' ')}`);
  return r.command;
}
function refused(line: string | Buffer): Extract<ParseResult, { ok: false }> {
  const r = parseCommand(Buffer.isBuffer(line) ? line : Buffer.from(line));
  assert.equal(r.ok, false, `${line.toString()} should be refused`);
  return r as Extract<ParseResult, { ok: false }>;
}

describe('commands: RFC 5321 §4.1.1', () => {
  test('verbs are case-insensitive and typed', () => {
    assert.deepEqual(ok('ehlo client.example'), { verb: 'EHLO', domain: 'client.example' });
    assert.deepEqual(ok('HELO [192.0.2.1]'), { verb: 'HELO', domain: '[192.0.2.1]' });
    assert.deepEqual(ok('LHLO mta'), { verb: 'LHLO', domain: 'mta' });
    assert.deepEqual(ok('data'), { verb: 'DATA' });
    assert.deepEqual(ok('NOOP anything'), { verb: 'NOOP' });
    assert.deepEqual(ok('VRFY bob'), { verb: 'VRFY', argument: 'bob' });
  });
  test('MAIL FROM with the null path and a space after the colon', () => {
    const c = ok('MAIL FROM: <>');
    assert.ok(c.verb === 'MAIL' && c.from === null);
  });
  test('paths: quoted local parts, source routes, address literals, case of the domain', () => {
    const q = ok('RCPT TO:<"john doe"@Example.COM>');
    assert.ok(q.verb === 'RCPT' && q.to !== 'postmaster');
    assert.equal(q.to.address, '"john doe"@example.com');
    const route = ok('RCPT TO:<@relay.example,@b.example:user@remote.example>');
    assert.ok(route.verb === 'RCPT' && route.to !== 'postmaster');
    assert.deepEqual(route.to.sourceRoute, ['relay.example', 'b.example']);
    assert.equal(route.to.address, 'user@remote.example');
    const lit = ok('RCPT TO:<user@[192.0.2.1]>');
    assert.ok(lit.verb === 'RCPT' && lit.to !== 'postmaster' && lit.to.addressLiteral);
    assert.deepEqual(ok('RCPT TO:<Postmaster>'), { verb: 'RCPT', to: 'postmaster', params: { notify: [], orcpt: null } });
  });
  const bad: Array<[string, number, string]> = [
    ['FOO bar', 500, '5.5.1'],
    ['MAIL TO:<a@b.c>', 501, '5.5.4'],
    ['MAIL FROM:a@b.c', 501, '5.1.7'],
    ['RCPT TO:<>', 501, '5.1.3'],
    ['RCPT TO:<user@remote.example.>', 501, '5.1.3'],
    ['RCPT TO:<user@-bad.example>', 501, '5.1.3'],
    ['RCPT TO:<a..b@example.com>', 501, '5.1.3'],
    ['RCPT TO:<user@[1.2.3]>', 501, '5.1.3'],
    [`RCPT TO:<${'a'.repeat(65)}@example.com>`, 501, '5.1.3'],
    ['RCPT TO:<a@b.c> FOO=BAR', 555, '5.5.4'],
    ['EHLO', 501, '5.5.4'],
    ['DATA now', 501, '5.5.4'],
  ];
  for (const [line, code, enhanced] of bad) {
    test(`refuses ${JSON.stringify(line.slice(0, 40))} with ${code} ${enhanced}`, () => {
      const r = refused(line);
      assert.equal(r.reply.code, code);
      assert.equal(r.reply.enhanced, enhanced);
    });
  }
  test('control characters and invalid UTF-8 are refused', () => {
    assert.equal(refused('NOOP \x00').reply.code, 500);
    assert.equal(refused(Buffer.from([0x4e, 0x4f, 0x4f, 0x50, 0x20, 0xff])).reply.code, 500);
  });
  test('an HTTP request line is recognised', () => {
    assert.equal(refused('GET / HTTP/1.1').http, true);
    assert.equal(refused('POST /x HTTP/1.0').http, true);
  });
});

describe('commands: RFC 1870 SIZE, RFC 6152 BODY', () => {
  test('SIZE and BODY are typed', () => {
    const c = ok('MAIL FROM:<a@b.c> SIZE=12345 BODY=8bitmime');
    assert.ok(c.verb === 'MAIL');
    assert.equal(c.params.size, 12345);
    assert.equal(c.params.body, '8BITMIME');
  });
  test('bad SIZE and BINARYMIME are refused', () => {
    assert.equal(refused('MAIL FROM:<a@b.c> SIZE=abc').reply.code, 501);
    assert.equal(refused('MAIL FROM:<a@b.c> BODY=BINARYMIME').reply.code, 555);
    assert.equal(refused('MAIL FROM:<a@b.c> SIZE=1 SIZE=2').reply.code, 501);
  });
});

describe('commands: RFC 3461 DSN', () => {
  test('RET, ENVID, NOTIFY, ORCPT are parsed and kept', () => {
    const m = ok('MAIL FROM:<a@b.c> RET=HDRS ENVID=QQ314159+2B1');
    assert.ok(m.verb === 'MAIL');
    assert.equal(m.params.ret, 'HDRS');
    assert.equal(m.params.envid, 'QQ314159+2B1');
    const r = ok('RCPT TO:<x@y.z> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;x@y.z');
    assert.ok(r.verb === 'RCPT');
    assert.deepEqual(r.params, { notify: ['SUCCESS', 'FAILURE'], orcpt: 'rfc822;x@y.z' });
  });
  const bad = ['MAIL FROM:<a@b.c> RET=ALL', 'MAIL FROM:<a@b.c> ENVID=a+zz', 'RCPT TO:<x@y.z> NOTIFY=NEVER,SUCCESS', 'RCPT TO:<x@y.z> NOTIFY=SOMETIMES', 'RCPT TO:<x@y.z> ORCPT=nosemicolon'];
  for (const line of bad) test(`refuses ${line}`, () => assert.equal(refused(line).reply.code, 501));
});

describe('commands: RFC 6531 SMTPUTF8', () => {
  test('UTF-8 addresses parse; the domain is converted to an A-label', () => {
    const m = ok('MAIL FROM:<用户@例子.广告> SMTPUTF8');
    assert.ok(m.verb === 'MAIL' && m.from);
    assert.equal(m.params.smtputf8, true);
    assert.equal(m.from.utf8, true);
    assert.equal(m.from.domain, 'xn--fsqu00a.xn--4rr70v');
  });
  test('SMTPUTF8 takes no value', () => assert.equal(refused('MAIL FROM:<a@b.c> SMTPUTF8=yes').reply.code, 501));
});

describe('commands: RFC 3030 BDAT, RFC 4468 BURL, RFC 4954 AUTH', () => {
  test('BDAT size [LAST]', () => {
    assert.deepEqual(ok('BDAT 1000'), { verb: 'BDAT', size: 1000, last: false });
    assert.deepEqual(ok('bdat 0 last'), { verb: 'BDAT', size: 0, last: true });
    assert.equal(refused('BDAT -1').reply.code, 501);
    assert.equal(refused('BDAT 10 NOTLAST').reply.code, 501);
  });
  test('BURL is parsed (the seam for the outbound issue)', () => {
    assert.deepEqual(ok('BURL imap://u@h/INBOX;UIDVALIDITY=1/;UID=2;urlauth=x LAST'), { verb: 'BURL', url: 'imap://u@h/INBOX;UIDVALIDITY=1/;UID=2;urlauth=x', last: true });
  });
  test('AUTH mechanism [initial-response]', () => {
    assert.deepEqual(ok('AUTH plain AGJvYgBwdw=='), { verb: 'AUTH', mechanism: 'PLAIN', initial: 'AGJvYgBwdw==' });
    assert.deepEqual(ok('AUTH LOGIN'), { verb: 'AUTH', mechanism: 'LOGIN', initial: null });
  });
});

describe('paths: bounds (RFC 5321 §4.5.3.1)', () => {
  test('a path over 256 octets is refused', () => {
    assert.throws(() => parsePath(`<${'a'.repeat(60)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.com>`, { utf8: false }));
  });
});

describe('replies: RFC 5321 §4.2.1, RFC 2034', () => {
  test('multiline replies use "-" on all but the last line, with the enhanced code on each', () => {
    assert.equal(formatReply(reply('250 2.0.0', ['a', 'b', 'c']), { enhanced: true }), '250-2.0.0 a\r\n250-2.0.0 b\r\n250 2.0.0 c\r\n');
  });
  test('without EHLO the enhanced code is left out', () => {
    assert.equal(formatReply(reply('550 5.1.1', 'no'), { enhanced: false }), '550 no\r\n');
  });
  test('control characters cannot break the framing', () => {
    assert.equal(formatReply(reply('250', 'a\r\n250 fake'), { enhanced: true }), '250 a  250 fake\r\n');
  });
  test('format and parse round-trip', () => {
    const r = reply('451 4.3.0', ['try', 'later']);
    const text = formatReply(r, { enhanced: true });
    assert.deepEqual(parseReplyLines(text.trimEnd().split('\r\n')), r);
  });
});
