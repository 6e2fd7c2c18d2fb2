import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeValue } from '../../../src/imap/wire/encoder.js';
import { formatDateTime, needsIndex, needsRaw, rawRange, renderFetchItem, sectionName } from '../../../src/imap/fetch/fetch.js';
import { previewText } from '../../../src/imap/fetch/preview.js';
import { indexMessage } from '../../../src/mail/parse.js';
import type { FetchAttribute } from '../../../src/imap/wire/types.js';
import { crlf, nested, record, simple } from './fixtures.js';

const opts = { utf8: false };

function item(attr: FetchAttribute, raw: Buffer = simple, extra: { recentFlag?: boolean; prefix?: number } = {}) {
  const rec = record(raw);
  const bytes = extra.prefix === undefined ? raw : raw.subarray(0, extra.prefix);
  return renderFetchItem(attr, { record: rec, raw: bytes, seq: 3, recentFlag: extra.recentFlag ?? false }, opts);
}

describe('FETCH data items (RFC 9051 §7.5.2)', () => {
  test('UID, RFC822.SIZE and FLAGS', () => {
    assert.deepEqual(item({ kind: 'UID' }), { name: { atom: 'UID' }, value: 7 });
    assert.deepEqual(item({ kind: 'RFC822.SIZE' }), { name: { atom: 'RFC822.SIZE' }, value: simple.length });
    assert.deepEqual(item({ kind: 'FLAGS' }), { name: { atom: 'FLAGS' }, value: [{ atom: '\\Seen' }, { atom: 'Work' }] });
  });

  test('FLAGS carries \\Recent when the session holds it', () => {
    assert.deepEqual(item({ kind: 'FLAGS' }, simple, { recentFlag: true }).value, [{ atom: '\\Seen' }, { atom: 'Work' }, { atom: '\\Recent' }]);
  });

  test('INTERNALDATE uses the date-time format with a space-padded day', () => {
    assert.deepEqual(item({ kind: 'INTERNALDATE' }), { name: { atom: 'INTERNALDATE' }, value: ' 7-Jul-1996 02:44:25 +0000' });
    assert.equal(formatDateTime(Date.UTC(1996, 6, 17, 9, 44, 25), -420), '17-Jul-1996 02:44:25 -0700');
    assert.equal(formatDateTime(Date.UTC(2026, 11, 31, 23, 59, 59), 330), ' 1-Jan-2027 05:29:59 +0530');
  });

  test('MODSEQ, SAVEDATE, EMAILID and THREADID', () => {
    assert.deepEqual(item({ kind: 'MODSEQ' }), { name: { atom: 'MODSEQ' }, value: [42] });
    assert.deepEqual(item({ kind: 'SAVEDATE' }), { name: { atom: 'SAVEDATE' }, value: ' 2-Jan-2026 03:04:05 +0000' });
    assert.deepEqual(item({ kind: 'EMAILID' }), { name: { atom: 'EMAILID' }, value: [{ atom: 'M6d99ac3275bb4e' }] });
    assert.deepEqual(item({ kind: 'THREADID' }), { name: { atom: 'THREADID' }, value: [{ atom: 'T64b478a75b7ea9' }] });
    const noThread = renderFetchItem({ kind: 'THREADID' }, { record: record(simple, { threadId: '' }), seq: 1 }, opts);
    assert.equal(noThread.value, null);
  });

  test('ENVELOPE and BODYSTRUCTURE come from the index without raw bytes', () => {
    const rec = record(simple);
    const env = renderFetchItem({ kind: 'ENVELOPE' }, { record: rec, seq: 1 }, opts);
    assert.deepEqual(env.name, { atom: 'ENVELOPE' });
    assert.equal(encodeValue(env.value, { utf8: false }).toString(),
          '("Wed, 17 Jul 1996 02:23:25 -0700" "IMAP4rev2 WG mtg summary" (("Terry Gray" NIL "gray" "cac.washington.edu")) ' +
          '(("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ' +
          '((NIL NIL "imap" "cac.washington.edu")) NIL NIL NIL "<B27397-0100000@cac.washington.edu>")');
    const bs = renderFetchItem({ kind: 'BODYSTRUCTURE' }, { record: rec, seq: 1 }, opts);
    assert.deepEqual(bs.name, { atom: 'BODYSTRUCTURE' });
    assert.equal(encodeValue(bs.value, { utf8: false }).toString(), '("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 28 2 NIL NIL NIL NIL)');
    const body = renderFetchItem({ kind: 'BODY' }, { record: rec, seq: 1 }, opts);
    assert.deepEqual(body.name, { atom: 'BODY' });
    assert.equal(encodeValue(body.value, { utf8: false }).toString(), '("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 28 2)');
  });

  test('BODY.PEEK[HEADER.FIELDS (…)] answers as BODY[…] and echoes the field names', () => {
    const got = item({ kind: 'BODY[]', section: { part: [], text: 'HEADER.FIELDS', fields: ['Subject', 'From'] }, peek: true });
    assert.deepEqual(got.name, { atom: 'BODY[HEADER.FIELDS (Subject From)]' });
    assert.deepEqual(got.value, Buffer.from('From: Terry Gray <gray@cac.washington.edu>\r\nSubject: IMAP4rev2 WG mtg summary\r\n\r\n'));
  });

  test('a partial fetch names its origin and returns the truncated bytes', () => {
    const got = item({ kind: 'BODY[]', section: { part: [] }, partial: { offset: 0, length: 6 }, peek: false });
    assert.deepEqual(got, { name: { atom: 'BODY[]<0>' }, value: Buffer.from('Date: ') });
    const tail = item({ kind: 'BODY[]', section: { part: [1] }, partial: { offset: 21, length: 1000 }, peek: false });
    assert.deepEqual(tail, { name: { atom: 'BODY[1]<21>' }, value: Buffer.from('line.\r\n') });
  });

  test('a partial fetch that starts past the end, and a nonexistent part, are the empty string', () => {
    const past = item({ kind: 'BODY[]', section: { part: [] }, partial: { offset: 100_000, length: 10 }, peek: false });
    assert.deepEqual(past, { name: { atom: 'BODY[]<100000>' }, value: '' });
    const none = item({ kind: 'BODY[]', section: { part: [4, 1] }, peek: true }, nested);
    assert.deepEqual(none, { name: { atom: 'BODY[4.1]' }, value: '' });
  });

  test('RFC822, RFC822.HEADER and RFC822.TEXT', () => {
    const headerEnd = simple.indexOf('\r\n\r\n') + 4;
    assert.deepEqual(item({ kind: 'RFC822' }), { name: { atom: 'RFC822' }, value: simple });
    assert.deepEqual(item({ kind: 'RFC822.HEADER' }), { name: { atom: 'RFC822.HEADER' }, value: simple.subarray(0, headerEnd) });
    assert.deepEqual(item({ kind: 'RFC822.TEXT' }), { name: { atom: 'RFC822.TEXT' }, value: simple.subarray(headerEnd) });
  });

  test('BINARY returns decoded bytes as literal8 when they hold NUL, BINARY.SIZE their length', () => {
    assert.deepEqual(item({ kind: 'BINARY', part: [3, 2], peek: true }, nested), {
      name: { atom: 'BINARY[3.2]' },
      value: { literal: Buffer.from([0, 1, 2, 255]), binary: true },
    });
    assert.deepEqual(item({ kind: 'BINARY', part: [1], partial: { offset: 0, length: 4 }, peek: false }, nested), {
      name: { atom: 'BINARY[1]<0>' },
      value: Buffer.from('Café'.slice(0, 3) + '\xc3', 'latin1'),
    });
    assert.deepEqual(item({ kind: 'BINARY.SIZE', part: [1] }, nested), { name: { atom: 'BINARY.SIZE[1]' }, value: Buffer.byteLength('Café = ok') });
    assert.deepEqual(item({ kind: 'BINARY.SIZE', part: [2, 1] }, nested), { name: { atom: 'BINARY.SIZE[2.1]' }, value: 9 });
  });

  test('PREVIEW is the first text part, decoded', () => {
    assert.deepEqual(item({ kind: 'PREVIEW', lazy: false }, nested), { name: { atom: 'PREVIEW' }, value: 'Café = ok' });
  });

  test('section names quote field names that are not atoms', () => {
    assert.equal(sectionName({ part: [1, 2], text: 'HEADER.FIELDS.NOT', fields: ['X-A', 'odd name'] }), '1.2.HEADER.FIELDS.NOT (X-A "odd name")');
    assert.equal(sectionName({ part: [3], text: 'MIME' }), '3.MIME');
  });
});

describe('what a FETCH must load', () => {
  const index = indexMessage(nested);
  const headerEnd = nested.indexOf('\r\n\r\n') + 4;

  test('flags and envelope need no raw bytes; envelope needs the index', () => {
    assert.equal(needsRaw([{ kind: 'FLAGS' }, { kind: 'UID' }, { kind: 'ENVELOPE' }]), false);
    assert.equal(needsIndex([{ kind: 'FLAGS' }, { kind: 'UID' }]), false);
    assert.equal(needsIndex([{ kind: 'ENVELOPE' }]), true);
    assert.equal(needsRaw([{ kind: 'BODY[]', section: { part: [], text: 'HEADER' }, peek: true }]), true);
  });

  test('a headers-only fetch reads only the header prefix, and renders the same from it', () => {
    const attrs: FetchAttribute[] = [
      { kind: 'BODY[]', section: { part: [], text: 'HEADER.FIELDS', fields: ['Subject'] }, peek: true },
      { kind: 'RFC822.HEADER' },
    ];
    const range = rawRange(attrs, index);
    assert.deepEqual(range, { start: 0, end: headerEnd });
    for (const attr of attrs) {
      assert.deepEqual(item(attr, nested, { prefix: range.end }), item(attr, nested));
    }
  });

  test('a part MIME header needs the bytes up to its end only', () => {
    const mimeEnd = nested.indexOf('\r\n\r\n', nested.indexOf('--outer')) + 4;
    assert.deepEqual(rawRange([{ kind: 'BODY[]', section: { part: [1], text: 'MIME' }, peek: true }], index), { start: 0, end: mimeEnd });
  });

  test('a body fetch needs the whole message', () => {
    assert.deepEqual(rawRange([{ kind: 'BODY[]', section: { part: [] }, peek: true }], index), { start: 0, end: nested.length });
  });

  test('a preview reads up to the end of the first text part only, and renders the same from it', () => {
    const range = rawRange([{ kind: 'PREVIEW', lazy: true }, { kind: 'FLAGS' }], index);
    assert.ok(range.end > headerEnd && range.end < nested.length, JSON.stringify(range));
    const preview: FetchAttribute = { kind: 'PREVIEW', lazy: false };
    assert.deepEqual(item(preview, nested, { prefix: range.end }), item(preview, nested));
    assert.notEqual((item(preview, nested) as { value: unknown }).value, '');
  });
});

describe('PREVIEW text (RFC 8970)', () => {
  test('HTML is stripped of tags, scripts and entities, white space collapsed', () => {
    const raw = crlf([
      'Content-Type: text/html; charset=utf-8',
      '',
      '<html><head><style>p{}</style><title>T</title></head><body>',
      '<p>Hello&nbsp;&amp;   <b>welcome</b></p>',
      '<script>alert(1)</script>   to   Pigeon &#8212; ok',
      '</body></html>',
    ]);
    assert.equal(previewText(raw, indexMessage(raw)), 'Hello & welcome to Pigeon — ok');
  });

  test('the preview stops at 200 characters', () => {
    const raw = crlf(['Content-Type: text/plain', '', 'x'.repeat(300)]);
    assert.equal(previewText(raw, indexMessage(raw)), 'x'.repeat(200));
  });

  test('and at 256 octets of UTF-8', () => {
    const raw = crlf(['Content-Type: text/plain; charset=utf-8', '', 'é'.repeat(200)]);
    assert.equal(previewText(raw, indexMessage(raw)), 'é'.repeat(128));
  });

  test('a message without text/plain or text/html has an empty preview', () => {
    const raw = crlf(['Content-Type: image/png', 'Content-Transfer-Encoding: base64', '', 'iVBORw0KGgo=']);
    assert.equal(previewText(raw, indexMessage(raw)), '');
  });

  test('the first text part wins, skipping attachments', () => {
    const raw = crlf([
      'Content-Type: multipart/mixed; boundary=b',
      '',
      '--b',
      'Content-Type: text/plain',
      'Content-Disposition: attachment; filename=a.txt',
      '',
      'attached',
      '--b',
      'Content-Type: text/plain; charset=iso-8859-1',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'Gr=FC=DFe',
      '--b--',
    ]);
    assert.equal(previewText(raw, indexMessage(raw)), 'Grüße');
  });
});
