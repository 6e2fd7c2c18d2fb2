import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { indexMessage, buildIndex, MAX_PARTS } from '../../src/mail/parse.js';
import type { BodyPart, EnvelopeAddress } from '../../src/mail/types.js';
import * as c from './corpus.js';
import { assertSoundIndex, bodyOf, headerOf } from './check.js';

const addr = (name: string | null, mailbox: string | null, host: string | null, adl: string | null = null): EnvelopeAddress => ({
  name,
  adl,
  mailbox,
  host,
});

const leaf = (over: Partial<BodyPart>): BodyPart => ({
  type: 'text',
  subtype: 'plain',
  params: [['charset', 'us-ascii']],
  id: null,
  description: null,
  encoding: '7BIT',
  md5: null,
  disposition: null,
  language: null,
  location: null,
  headerStart: 0,
  bodyStart: 0,
  bodyEnd: 0,
  lines: 0,
  ...over,
});

describe('indexMessage: single-part messages', () => {
  test('a simple text message gives the full envelope, search fields and a text/plain body', () => {
    const raw = c.simple;
    const index = buildIndex(raw);
    const bodyStart = raw.indexOf('Shall we');
    const alice = [addr('Alice Example', 'alice', 'example.org')];
    assert.deepEqual(index, {
      version: 1,
      size: raw.length,
      envelope: {
        date: 'Tue, 3 Mar 2026 12:30:00 +0100',
        subject: 'Lunch',
        from: alice,
        sender: alice,
        replyTo: alice,
        to: [addr(null, 'bob', 'example.com')],
        cc: null,
        bcc: null,
        inReplyTo: null,
        messageId: '<lunch-1@example.org>',
      },
      body: leaf({ headerStart: 0, bodyStart, bodyEnd: raw.length, lines: 2 }),
      search: {
        from: 'Alice Example <alice@example.org>',
        to: 'bob@example.com',
        cc: '',
        bcc: '',
        subject: 'Lunch',
        messageId: '<lunch-1@example.org>',
        inReplyTo: '',
        references: '',
        date: Date.UTC(2026, 2, 3, 11, 30, 0),
      },
    });
    assert.ok(headerOf(raw, index.body).endsWith('\r\n\r\n'), 'the header range includes the blank line');
  });

  test('an empty body ends the message right after the blank line', () => {
    const index = buildIndex(c.emptyBody);
    assert.equal(index.body.bodyStart, c.emptyBody.length);
    assert.equal(index.body.bodyEnd, c.emptyBody.length);
    assert.equal(index.body.lines, 0);
    assert.equal(index.envelope.subject, 'nothing');
  });

  test('a message without a blank line is all header, with an empty body', () => {
    const index = buildIndex(c.noSeparator);
    assert.equal(index.body.bodyStart, c.noSeparator.length);
    assert.equal(index.body.bodyEnd, c.noSeparator.length);
    assert.equal(index.envelope.subject, 'only headers');
    assert.deepEqual(index.envelope.from, [addr(null, 'a', 'example.org')]);
  });

  test('a line that is not a header field starts the body', () => {
    const raw = c.crlf('Subject: x', 'this is not a header', 'more');
    const index = buildIndex(raw);
    assert.equal(index.body.bodyStart, raw.indexOf('this is'));
    assert.equal(index.body.lines, 2);
    assert.equal(index.envelope.subject, 'x');
  });

  test('an empty message gives an empty text/plain body', () => {
    const index = buildIndex(Buffer.alloc(0));
    assert.deepEqual(index.body, leaf({}));
    assert.equal(index.envelope.from, null);
    assert.equal(index.search.date, null);
  });

  test('a malformed Content-Type is text/plain; charset=us-ascii (RFC 2045 §5.2)', () => {
    const raw = c.crlf('Content-Type: text', 'Content-Transfer-Encoding: Quoted-Printable (comment)', '', 'x');
    const index = buildIndex(raw);
    assert.equal(index.body.type, 'text');
    assert.equal(index.body.subtype, 'plain');
    assert.deepEqual(index.body.params, [['charset', 'us-ascii']]);
    assert.equal(index.body.encoding, 'QUOTED-PRINTABLE');
  });

  test('an explicit text type without charset keeps its own (empty) parameter list', () => {
    const index = buildIndex(c.crlf('Content-Type: Text/HTML', '', '<p>x</p>'));
    assert.equal(index.body.type, 'text');
    assert.equal(index.body.subtype, 'html');
    assert.deepEqual(index.body.params, []);
    assert.equal(index.body.lines, 1);
  });

  test('an mbox "From " line before the header is skipped', () => {
    const raw = c.crlf('From alice@example.org Tue Mar  3 12:30:00 2026', 'Subject: mbox', '', 'b');
    const index = buildIndex(raw);
    assert.equal(index.envelope.subject, 'mbox');
    assert.equal(index.body.bodyStart, raw.indexOf('b\r\n', raw.indexOf('\r\n\r\n')));
  });
});

describe('indexMessage: multipart', () => {
  test('nested mixed > alternative > related parts have exact types, params and offsets', () => {
    const raw = c.nested;
    const index = buildIndex(raw);
    assertSoundIndex(index, raw);
    const root = index.body;
    assert.equal(root.type, 'multipart');
    assert.equal(root.subtype, 'mixed');
    assert.deepEqual(root.params, [['boundary', 'outer']]);
    assert.equal(root.bodyStart, raw.indexOf('This is a multi-part'));
    assert.equal(root.parts?.length, 2);

    const [alt, pdf] = root.parts!;
    assert.equal(alt!.subtype, 'alternative');
    assert.equal(alt!.headerStart, raw.indexOf('Content-Type: multipart/alternative'));
    assert.equal(alt!.bodyStart, raw.indexOf('--alt'));
    assert.equal(alt!.bodyEnd, raw.indexOf('\r\n--outer\r\nContent-Type: application/pdf'));
    assert.equal(alt!.parts?.length, 2);

    const [plain, related] = alt!.parts!;
    assert.deepEqual(
      plain,
      leaf({
        params: [['charset', 'UTF-8']],
        encoding: 'QUOTED-PRINTABLE',
        headerStart: raw.indexOf('Content-Type: text/plain; charset=UTF-8'),
        bodyStart: raw.indexOf('Caf=C3=A9'),
        bodyEnd: raw.indexOf('Caf=C3=A9') + 'Caf=C3=A9 report'.length,
        lines: 1,
      }),
    );
    assert.deepEqual(related!.params, [
      ['boundary', 'rel'],
      ['type', 'text/html'],
    ]);
    const [html, png] = related!.parts!;
    assert.equal(html!.subtype, 'html');
    assert.equal(bodyOf(raw, html!), '<p>Café &amp; <b>report</b></p>\n<img src="cid:logo@x">');
    assert.equal(html!.lines, 2, 'an LF inside a CRLF message counts as a line end');
    assert.equal(png!.type, 'image');
    assert.equal(png!.subtype, 'png');
    assert.deepEqual(png!.params, []);
    assert.equal(png!.id, '<logo@x>');
    assert.equal(png!.encoding, 'BASE64');
    assert.equal(bodyOf(raw, png!), 'iVBORw0KGgo=');
    assert.equal(png!.lines, 0);

    assert.deepEqual(
      pdf,
      leaf({
        type: 'application',
        subtype: 'pdf',
        params: [['name', 'report.pdf']],
        description: 'The report',
        encoding: 'BASE64',
        md5: 'Q2hlY2sgSW50ZWdyaXR5IQ==',
        disposition: {
          type: 'attachment',
          params: [
            ['filename', 'report.pdf'],
            ['size', '4'],
          ],
        },
        language: ['en', 'de'],
        location: 'http://example.net/report.pdf',
        headerStart: raw.indexOf('Content-Type: application/pdf'),
        bodyStart: raw.indexOf('JVBERg=='),
        bodyEnd: raw.indexOf('JVBERg==') + 8,
        lines: 0,
      }),
    );
  });

  test('an attached message/rfc822 is parsed into its own envelope and body', () => {
    const raw = c.attachedMessage;
    const index = buildIndex(raw);
    assertSoundIndex(index, raw);
    const fwd = index.body.parts![1]!;
    assert.equal(fwd.type, 'message');
    assert.equal(fwd.subtype, 'rfc822');
    assert.equal(fwd.bodyStart, raw.indexOf('From: Grace'));
    assert.equal(fwd.bodyEnd, raw.indexOf('\r\n--fwd--'));
    assert.equal(fwd.lines, 8);
    const grace = [addr('Grace', 'grace', 'example.org')];
    assert.deepEqual(fwd.message?.envelope, {
      date: 'Wed, 4 Mar 2026 08:00:00 +0000',
      subject: 'hello',
      from: grace,
      sender: grace,
      replyTo: grace,
      to: [addr(null, 'eve', 'example.org')],
      cc: null,
      bcc: null,
      inReplyTo: null,
      messageId: '<inner@example.org>',
    });
    assert.deepEqual(
      fwd.message?.body,
      leaf({ headerStart: fwd.bodyStart, bodyStart: raw.indexOf('Inner body line 1'), bodyEnd: fwd.bodyEnd, lines: 2 }),
    );
    assert.equal(index.envelope.subject, 'Fwd: hello', 'the outer envelope is the outer header');
  });

  test('a missing final boundary ends the last part at the end of the message', () => {
    const raw = c.missingFinalBoundary;
    const index = buildIndex(raw);
    assertSoundIndex(index, raw);
    const parts = index.body.parts!;
    assert.equal(parts.length, 2);
    assert.equal(bodyOf(raw, parts[0]!), 'first');
    assert.equal(bodyOf(raw, parts[1]!), 'second, truncated\r\n');
    assert.equal(parts[1]!.bodyEnd, raw.length);
    assert.equal(parts[1]!.lines, 1);
  });

  test('a multipart without boundary parameter is served as text/plain with the whole body', () => {
    const raw = c.missingBoundaryParam;
    const index = buildIndex(raw);
    assert.deepEqual(index.body, leaf({ bodyStart: raw.indexOf('Just text'), bodyEnd: raw.length, lines: 2 }));
  });

  test('a multipart whose boundary never occurs is served as text/plain', () => {
    const raw = c.boundaryNeverFound;
    const index = buildIndex(raw);
    assert.deepEqual(index.body, leaf({ bodyStart: raw.indexOf('--other'), bodyEnd: raw.length, lines: 3 }));
  });

  test('a boundary that prefixes another is not confused with it; padded delimiters count', () => {
    const raw = c.prefixBoundaries;
    const index = buildIndex(raw);
    assertSoundIndex(index, raw);
    const [alt, empty] = index.body.parts!;
    assert.equal(alt!.subtype, 'alternative');
    assert.equal(bodyOf(raw, alt!), '--b2\r\n\r\ninner one\r\n--b2--');
    assert.equal(alt!.parts!.length, 1);
    assert.equal(bodyOf(raw, alt!.parts![0]!), 'inner one');
    assert.equal(headerOf(raw, empty!), '\r\n', 'a part that is only a blank line has an empty header');
    assert.equal(empty!.bodyStart, empty!.bodyEnd);
    assert.equal(empty!.lines, 0);
  });

  test('LF-only line ends work, and a part without header lines defaults to text/plain', () => {
    const raw = c.lfOnly;
    const index = buildIndex(raw);
    assertSoundIndex(index, raw);
    assert.equal(index.envelope.subject, 'LF only');
    assert.equal(index.body.bodyStart, raw.indexOf('--x\n'));
    const [first, second] = index.body.parts!;
    assert.deepEqual(first!.params, []);
    assert.equal(bodyOf(raw, first!), 'line one\nline two');
    assert.equal(first!.lines, 2);
    assert.deepEqual(
      second,
      leaf({ headerStart: raw.indexOf('\nno header') , bodyStart: raw.indexOf('no header'), bodyEnd: raw.indexOf('\n--x--'), lines: 1 }),
    );
  });

  test('parts of a multipart/digest default to message/rfc822 (RFC 2046 §5.1.5)', () => {
    const raw = c.digest;
    const index = buildIndex(raw);
    assertSoundIndex(index, raw);
    const [msg, text] = index.body.parts!;
    assert.equal(msg!.type, 'message');
    assert.equal(msg!.subtype, 'rfc822');
    assert.deepEqual(msg!.params, []);
    assert.equal(msg!.message?.envelope.subject, 'first');
    assert.equal(bodyOf(raw, msg!.message!.body), 'Body one');
    assert.equal(msg!.lines, 4);
    assert.equal(text!.type, 'text');
    assert.equal(bodyOf(raw, text!), 'Not a message');
  });

  test('RFC 2231 continuations and charsets are joined and decoded; the extended value wins', () => {
    const index = buildIndex(c.rfc2231);
    const part = index.body.parts![0]!;
    assert.deepEqual(part.params, [['name', 'Grüße.txt']]);
    assert.deepEqual(part.disposition, { type: 'attachment', params: [['filename', '日本語.txt']] });
  });

  test('a base64-encoded message/rfc822 is served as application/octet-stream', () => {
    const raw = c.crlf('Content-Type: message/rfc822', 'Content-Transfer-Encoding: base64', '', 'U3ViamVjdDogeA0KDQp5');
    const index = buildIndex(raw);
    assert.equal(index.body.type, 'application');
    assert.equal(index.body.subtype, 'octet-stream');
    assert.equal(index.body.message, undefined);
  });

  test('nesting deeper than 64 levels is cut off into a text/plain leaf', () => {
    const depth = 100;
    const lines: string[] = [];
    for (let i = 0; i < depth; i++) lines.push(`Content-Type: multipart/mixed; boundary="d${i}"`, '', `--d${i}`);
    lines.push('Content-Type: text/plain', '', 'deep');
    const raw = c.crlf(...lines);
    const index = buildIndex(raw);
    assertSoundIndex(index, raw);
    let levels = 0;
    let part = index.body;
    while (part.parts) {
      part = part.parts[0]!;
      levels++;
    }
    assert.equal(levels, 64);
    assert.equal(part.type, 'text');
  });

  test('at most 1,000 parts are indexed', () => {
    const lines = ['Content-Type: multipart/mixed; boundary=m', ''];
    for (let i = 0; i < 3000; i++) lines.push('--m', '', `part ${i}`);
    lines.push('--m--');
    const raw = c.crlf(...lines);
    const index = buildIndex(raw);
    assertSoundIndex(index, raw);
    assert.equal(index.body.parts!.length, MAX_PARTS - 1);
    assert.equal(bodyOf(raw, index.body.parts![998]!), 'part 998');
  });
});

describe('indexMessage: headers and envelope', () => {
  test('raw UTF-8 headers are read as UTF-8', () => {
    const index = buildIndex(c.rawUtf8Headers);
    assert.equal(index.envelope.subject, 'Grüße aus Köln');
    assert.deepEqual(index.envelope.from, [addr('Jürgen Groß', 'juergen', 'example.de')]);
    assert.equal(index.search.subject, 'Grüße aus Köln');
  });

  test('raw Latin-1 headers are read as Windows-1252', () => {
    const index = buildIndex(c.latin1Headers);
    assert.equal(index.envelope.subject, 'Grüße');
    assert.deepEqual(index.envelope.from, [addr('Jürgen', 'j', 'example.de')]);
  });

  for (const [value, decoded] of c.encodedSubjects) {
    const charset = value.split('?')[1];
    test(`an RFC 2047 ${charset} subject stays raw in the envelope and is decoded for search`, () => {
      const index = buildIndex(c.crlf(`Subject: ${value}`, '', 'x'));
      assert.equal(index.envelope.subject, value);
      assert.equal(index.search.subject, decoded);
    });
  }

  test('folded headers are unfolded, white space kept', () => {
    const index = buildIndex(c.crlf('Subject: a long', '\tsubject line', 'References: <a@x>', ' <b@x>', '', ''));
    assert.equal(index.envelope.subject, 'a long\tsubject line');
    assert.equal(index.search.references, '<a@x> <b@x>');
  });

  test('groups, route addresses and an empty Reply-To (which takes From) in the envelope', () => {
    const index = buildIndex(c.groups);
    assert.deepEqual(index.envelope.to, [
      addr(null, 'Friends', null),
      addr(null, 'ann', 'example.org'),
      addr('Bo, B.', 'bo', 'example.org'),
      addr(null, null, null),
      addr(null, 'undisclosed-recipients', null),
      addr(null, null, null),
    ]);
    assert.deepEqual(index.envelope.cc, [
      addr('=?utf-8?Q?J=C3=B6rg?=', 'joerg', 'example.de'),
      addr('route', 'kim', 'example.kr', '@relay.example,@r2.example'),
    ]);
    assert.deepEqual(index.envelope.replyTo, [addr('Sales', 'sales', 'example.com')]);
    assert.equal(index.search.cc, 'Jörg <joerg@example.de>, route <@relay.example,@r2.example:kim@example.kr>');
  });

  test('present but empty Subject is the empty string; absent is null', () => {
    const index = buildIndex(c.crlf('Subject:', '', 'x'));
    assert.equal(index.envelope.subject, '');
    assert.equal(index.envelope.messageId, null);
  });

  test('a 1 MB header is indexed, fields after it still found', () => {
    const filler: string[] = [];
    for (let i = 0; filler.length * 50 < 1024 * 1024; i++) filler.push(`X-Filler-${i}: ${'x'.repeat(40)}`);
    const raw = c.crlf(...filler, 'Subject: after the filler', '', 'body');
    assert.ok(raw.length > 1024 * 1024, 'the header is over 1 MB');
    const index = buildIndex(raw);
    assert.equal(index.envelope.subject, 'after the filler');
    assert.equal(index.body.bodyStart, raw.length - 'body\r\n'.length);
    assert.equal(index.body.lines, 1);
  });

  test('a header beyond 8 MB is cut: the rest is body', () => {
    const line = `X-Big: ${'y'.repeat(1000)}\r\n`;
    const raw = Buffer.concat([Buffer.from(line.repeat(9 * 1024)), Buffer.from('Subject: lost\r\n\r\nbody\r\n')]);
    const index = buildIndex(raw);
    assertSoundIndex(index, raw);
    assert.equal(index.envelope.subject, null);
    assert.ok(index.body.bodyStart <= 8 * 1024 * 1024, 'the header stops at 8 MB');
    assert.equal(index.body.bodyStart % line.length, 0, 'cut at a line boundary');
  });
});

describe('indexMessage: robustness', () => {
  test('indexMessage never throws and is deterministic on garbage', () => {
    const raw = Buffer.from('\x00\xff:\r\n\r\r\n--\n=?\n', 'latin1');
    const a = indexMessage(raw);
    assertSoundIndex(a, raw);
    assert.deepEqual(indexMessage(raw), a);
  });

  test('adversarial header values take linear time (no regex backtracking)', () => {
    const raw = c.crlf(
      `Subject: ${' '.repeat(400_000)}x${' '.repeat(400_000)}y`,
      `To: a@b${':'.repeat(200_000)}`,
      `Cc: ${'=?'.repeat(100_000)}`,
      `Content-Type: text/plain; name=${' '.repeat(400_000)}x; a=${'('.repeat(100_000)}`,
      '',
      'x',
    );
    const started = performance.now();
    const index = buildIndex(raw);
    const elapsed = performance.now() - started;
    // Quadratic behaviour here would take minutes; the margin is for a loaded CI machine.
    assert.ok(elapsed < 5000, `indexing took ${elapsed.toFixed(0)} ms`);
    assert.equal(index.envelope.subject, `x${' '.repeat(400_000)}y`);
    assert.equal(index.body.params[0]?.[1], 'x');
  });

  test('boundary searches stay inside their multipart (work is bounded by parts × part size)', () => {
    const lines = ['Content-Type: multipart/mixed; boundary=top', ''];
    for (let i = 0; i < 900; i++) lines.push('--top', 'Content-Type: multipart/mixed; boundary=never', '', 'x');
    lines.push('--top', 'Content-Type: application/octet-stream', '', '--neveX\r\n'.repeat(1024 * 1024), '--top--');
    const raw = c.crlf(...lines);
    const started = performance.now();
    const index = buildIndex(raw);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 3000, `indexing took ${elapsed.toFixed(0)} ms`);
    assert.equal(index.body.parts!.length, 901);
    assert.equal(index.body.parts![0]!.type, 'text', 'a multipart whose boundary never occurs is text/plain');
  });

  test('a 50 MB base64 attachment is indexed quickly with exact offsets', () => {
    const line = 'QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n';
    const attachment = Buffer.alloc(50 * 1024 * 1024 - ((50 * 1024 * 1024) % line.length));
    attachment.fill(line);
    const head = Buffer.from(
      c
        .crlf(
          'From: big@example.org',
          'Subject: big',
          'Content-Type: multipart/mixed; boundary="----=_Part_0_123.456"',
          '',
          '------=_Part_0_123.456',
          'Content-Type: text/plain; charset=utf-8',
          '',
          'See attachment.',
          '------=_Part_0_123.456',
          'Content-Type: application/octet-stream; name=big.bin',
          'Content-Transfer-Encoding: base64',
          '',
        )
        .toString(),
    );
    const tail = Buffer.from('------=_Part_0_123.456--\r\n');
    const raw = Buffer.concat([head, attachment, tail]);
    const started = performance.now();
    const index = indexMessage(raw);
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 2000, `indexing took ${elapsed.toFixed(0)} ms`);
    const [text, bin] = index.body.parts!;
    assert.equal(bodyOf(raw, text!), 'See attachment.');
    assert.equal(bin!.bodyStart, head.length);
    assert.equal(bin!.bodyEnd, head.length + attachment.length - 2, 'the CRLF before the delimiter is not part of the body');
    assert.equal(bin!.encoding, 'BASE64');
    assert.deepEqual(bin!.params, [['name', 'big.bin']]);
  });
});
