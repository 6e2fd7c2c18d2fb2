// Fuzzing the POP3 (src/pop3/wire.ts) and SMTP (src/smtp/wire/command.ts, reader.ts) parsers:
// random and mutated command lines never throw and give a typed command or a refusal; the line
// readers hold at most one bounded line plus the chunk just pushed, and their output does not
// depend on how the bytes were split.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { LineReader, parseCommand as parsePop3, type LineEvent } from '../../src/pop3/wire.js';
import { parseCommand as parseSmtp } from '../../src/smtp/wire/command.js';
import { SmtpReader, type ReaderEvent } from '../../src/smtp/wire/reader.js';
import { chunked, mutationArb, runProperty } from './budget.js';

const POP3_VALID = ['USER alice@example.com', 'PASS a good password', 'AUTH PLAIN AGFsaWNlAHBhc3M=', 'AUTH', 'CAPA', 'STLS', 'STAT', 'LIST', 'LIST 1', 'UIDL 2', 'RETR 3', 'DELE 4', 'TOP 1 10', 'RSET', 'NOOP', 'QUIT', 'APOP alice 0123456789abcdef'];
const SMTP_VALID = [
  'EHLO client.example.org',
  'HELO [192.0.2.1]',
  'MAIL FROM:<alice@example.com> SIZE=1000 BODY=8BITMIME RET=HDRS ENVID=abc+2Bdef',
  'MAIL FROM:<> SMTPUTF8',
  'RCPT TO:<bob@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob@example.com',
  'RCPT TO:<"quoted local"@example.com>',
  'RCPT TO:<@relay.example:bob@example.com>',
  'RCPT TO:<Postmaster>',
  'DATA',
  'BDAT 100 LAST',
  'AUTH PLAIN AGFsaWNlAHBhc3M=',
  'STARTTLS',
  'VRFY bob',
  'GET / HTTP/1.1',
];
const TOKENS = [' ', '  ', ':', '<', '>', '<>', '@', '"', '\\', '=', '+', '+2', ',', ';', '\x00', '\x7f', '\xff', '\xc3\x28', '99999999999999999999', '-1', '\t', 'A'.repeat(300), '[', ']', 'IPv6:', '\xe2\x82\xac'];

const SMTP_VERBS = new Set(['EHLO', 'HELO', 'LHLO', 'MAIL', 'RCPT', 'DATA', 'BDAT', 'BURL', 'AUTH', 'STARTTLS', 'RSET', 'NOOP', 'QUIT', 'HELP', 'VRFY', 'EXPN']);

function checkPop3Line(line: Buffer): void {
  const r = parsePop3(line);
  if (r.kind === 'bad') {
    assert.equal(typeof r.reason, 'string');
    assert.ok(r.reason.length < 400, 'the reason echoes a bounded part of the input');
    return;
  }
  if ('message' in r && r.message !== null) assert.ok(Number.isInteger(r.message) && r.message >= 0 && r.message < 2 ** 31);
  if (r.kind === 'TOP') assert.ok(Number.isInteger(r.lines) && r.lines >= 0);
}

function checkSmtpLine(line: Buffer): void {
  const r = parseSmtp(line);
  if (!r.ok) {
    // An HTTP request line ends the connection with 421 (RFC 5321 §3.8); everything else is 5xx.
    if (r.http) assert.equal(r.reply.code, 421);
    else assert.ok(r.reply.code >= 500 && r.reply.code < 600, `refusal ${r.reply.code}`);
    return;
  }
  assert.ok(SMTP_VERBS.has(r.command.verb));
  if (r.command.verb === 'BDAT') assert.ok(Number.isSafeInteger(r.command.size) && r.command.size >= 0);
  if (r.command.verb === 'MAIL' && r.command.params.size !== null) assert.ok(Number.isSafeInteger(r.command.params.size));
}

function pop3Lines(chunks: readonly Buffer[], max: number): string[] {
  const reader = new LineReader(max);
  const out: string[] = [];
  for (const chunk of chunks) {
    for (const e of reader.push(chunk) as LineEvent[]) out.push(e.kind === 'line' ? e.line.toString('latin1') : '<too-long>');
    assert.ok(reader.buffered <= max + 1, `POP3 reader holds ${reader.buffered} bytes`);
  }
  return out;
}

function smtpEvents(chunks: readonly Buffer[], options: { max: number; data?: boolean; keep?: number }): string[] {
  const reader = new SmtpReader({ maxLineLength: options.max });
  const out: string[] = [];
  let dataStarted = false;
  for (const chunk of chunks) {
    reader.push(chunk);
    for (let i = 0; ; i++) {
      assert.ok(i < 100_000, 'SMTP reader loops');
      const e: ReaderEvent | null = reader.next();
      if (e === null) break;
      out.push(describeSmtp(e));
      if (e.kind === 'data' || e.kind === 'chunk') assert.ok(e.kind === 'data' ? e.body.length <= (options.keep ?? 0) + 2 : e.data.length <= (options.keep ?? 0));
      // The session switches to DATA after the first line, as after "354".
      if (options.data && !dataStarted && e.kind === 'line') {
        dataStarted = true;
        reader.expectData(options.keep ?? 0);
      }
    }
    if (reader.mode === 'line') {
      const pending = reader.buffered;
      // Only pipelined complete lines (bounded by the session's MAX_PIPELINED_BYTES) or one partial line.
      assert.ok(pending <= options.max + 1 || chunk.includes(0x0a), `SMTP reader holds ${pending} bytes`);
    } else {
      assert.equal(reader.buffered, 0, 'DATA bytes are consumed as they come');
    }
  }
  return out;
}

function describeSmtp(e: ReaderEvent): string {
  if (e.kind === 'line') return `line ${e.line.toString('latin1')}`;
  if (e.kind === 'line-too-long') return 'too-long';
  // A message with a bare CR or LF is refused whole (554 5.6.0), so its bytes do not matter here;
  // see the regression test below for the byte it loses.
  if (e.kind === 'data') return e.bareCr || e.bareLf ? `data refused ${e.bareCr} ${e.bareLf}` : `data ${e.size} ${e.tooBig} ${e.body.toString('latin1')}`;
  return `chunk ${e.size} ${e.tooBig}`;
}

describe('POP3 parser under fuzzing', () => {
  test('random and mutated command lines give a typed command or a bounded refusal', () => {
    runProperty(fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)), mutationArb(POP3_VALID, TOKENS)), checkPop3Line), { runs: 4000, maxMs: 3000 });
  });
  test('the line reader keeps one bounded line and splits the same however bytes arrive', () => {
    runProperty(
      fc.property(fc.array(fc.oneof(mutationArb(POP3_VALID, [...TOKENS, '\r\n', '\n']), fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b))), { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 10 }), (parts, cuts) => {
        const bytes = Buffer.concat(parts.flatMap((p) => [p, Buffer.from('\r\n')]));
        assert.deepEqual(pop3Lines(chunked(bytes, cuts), 255), pop3Lines([bytes], 255));
      }),
      { runs: 1500, maxMs: 3000 },
    );
  });
});

describe('SMTP parser under fuzzing', () => {
  test('random and mutated command lines give a typed command or a 5xx reply', () => {
    runProperty(fc.property(fc.oneof(fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)), mutationArb(SMTP_VALID, TOKENS)), checkSmtpLine), { runs: 4000, maxMs: 3000 });
  });
  test('the command reader bounds a partial line and splits the same however bytes arrive', () => {
    runProperty(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat(), { maxLength: 10 }), (raw, cuts) => {
        const bytes = Buffer.from(raw);
        assert.deepEqual(smtpEvents(chunked(bytes, cuts), { max: 200 }), smtpEvents([bytes], { max: 200 }));
      }),
      { runs: 1500, maxMs: 3000 },
    );
  });
  test('DATA framing (dot-unstuffing, the end marker, bare CR/LF, the size bound) does not depend on chunking', () => {
    const pieces = fc.constantFrom('\r\n', '\n', '\r', '.', '..', '\r\n.\r\n', '\r\n..\r\n', 'text', 'x'.repeat(90), '\r\n.', '.\r\n');
    runProperty(
      fc.property(fc.array(pieces, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 12 }), fc.integer({ min: 0, max: 400 }), (ps, cuts, keep) => {
        const bytes = Buffer.from(`DATA\r\n${ps.join('')}`, 'latin1');
        assert.deepEqual(smtpEvents(chunked(bytes, cuts), { max: 200, data: true, keep }), smtpEvents([bytes], { max: 200, data: true, keep }));
      }),
      { runs: 1500, maxMs: 3000 },
    );
  });
  test('a chunk boundary after ".<CR>" keeps every byte of the message (regression: the DATA output buffer was one byte short)', () => {
    const whole = smtpEvents([Buffer.from('DATA\r\n.\rx\r\n.\r\n')], { max: 200, data: true, keep: 100 });
    const split = smtpEvents([Buffer.from('DATA\r\n.\r'), Buffer.from('x'), Buffer.from('\r\n.\r\n')], { max: 200, data: true, keep: 100 });
    const sizes = (events: string[]) => events.filter((e) => e.startsWith('data'));
    assert.deepEqual(sizes(split), sizes(whole));
    const reader = new SmtpReader({ maxLineLength: 200 });
    reader.expectData(100);
    reader.push(Buffer.from('.\r'));
    assert.equal(reader.next(), null);
    reader.push(Buffer.from('x'));
    assert.equal(reader.next(), null);
    reader.push(Buffer.from('\r\n.\r\n'));
    const e = reader.next();
    assert.ok(e?.kind === 'data');
    assert.equal(e.size, 4, 'CR x CR LF');
  });
  test('hostile SMTP lines: huge sizes, 100 parameters, long paths, NUL bytes', () => {
    const lines = [
      'MAIL FROM:<a@b> SIZE=99999999999999999999999',
      `MAIL FROM:<a@b> ${Array.from({ length: 100 }, (_, i) => `X${i}=y`).join(' ')}`,
      `RCPT TO:<${'a'.repeat(5000)}@example.com>`,
      `RCPT TO:<a@${'b.'.repeat(3000)}com>`,
      'BDAT 99999999999999999999999 LAST',
      'BDAT -1',
      'RCPT TO:<a\x00b@example.com>',
      `EHLO ${'x'.repeat(10_000)}`,
      `MAIL FROM:<${'@a,'.repeat(1000)}@b:c@d>`,
    ];
    for (const line of lines) {
      const started = performance.now();
      const r = parseSmtp(Buffer.from(line, 'latin1'));
      assert.ok(performance.now() - started < 500, line.slice(0, 40));
      if (line.startsWith('BDAT') || line.includes('SIZE=9')) assert.equal(r.ok, false, `${line.slice(0, 40)} must be refused`);
    }
  });
});
