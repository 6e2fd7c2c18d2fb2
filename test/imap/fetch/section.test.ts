import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { indexMessage } from '../../../src/mail/parse.js';
import { applyPartial, binaryBytes, findPart, sectionBytes } from '../../../src/imap/fetch/section.js';
import type { SectionSpec } from '../../../src/imap/wire/types.js';
import { BadCommand, Refused } from '../../../src/shared/errors.js';
import { between, crlf, nested, simple } from './fixtures.js';

const nestedIndex = indexMessage(nested);
const nestedHeaderEnd = nested.indexOf('\r\n\r\n') + 4;
const innerStart = nested.indexOf('From: Carol');
const innerBodyStart = nested.indexOf('\r\n\r\n', innerStart) + 4;

const str = (b: Buffer | null): string | null => (b === null ? null : b.toString('utf8'));

describe('BODY[section] of a nested multipart message (RFC 9051 §6.4.5)', () => {
  const cases: Array<[string, SectionSpec, string | null]> = [
    ['[] is the whole message', { part: [] }, nested.toString()],
    ['[HEADER] is the header with its blank line', { part: [], text: 'HEADER' }, nested.subarray(0, nestedHeaderEnd).toString()],
    ['[TEXT] is everything after the header, epilogue included', { part: [], text: 'TEXT' }, nested.subarray(nestedHeaderEnd).toString()],
    ['[1] is the first part body, still encoded', { part: [1] }, 'Caf=C3=A9 =3D ok'],
    [
      '[1.MIME] is the part header',
      { part: [1], text: 'MIME' },
      'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n',
    ],
    ['[2] is the inner multipart body', { part: [2] }, between(nested, '--alt\r\n', '\r\n--outer').toString()],
    ['[2.1] numbers into the multipart', { part: [2, 1] }, 'alt plain'],
    ['[2.2]', { part: [2, 2] }, '<p>alt html</p>'],
    ['[3] is the whole encapsulated message', { part: [3] }, between(nested, 'From: Carol', '\r\n--outer').toString()],
    ['[3.HEADER] is the encapsulated header', { part: [3], text: 'HEADER' }, nested.subarray(innerStart, innerBodyStart).toString()],
    ['[3.TEXT] is the encapsulated body', { part: [3], text: 'TEXT' }, between(nested, '--in\r\n', '\r\n--outer').toString()],
    ['[3.1] numbers into the encapsulated multipart', { part: [3, 1] }, 'inner text'],
    ['[3.2]', { part: [3, 2] }, 'AAEC/w=='],
    [
      '[3.2.MIME]',
      { part: [3, 2], text: 'MIME' },
      'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="a.bin"\r\n\r\n',
    ],
    ['[3.HEADER.FIELDS (Subject)] selects from the encapsulated header', { part: [3], text: 'HEADER.FIELDS', fields: ['Subject'] }, 'Subject: Inner\r\n\r\n'],
    ['[4] the last part', { part: [4] }, 'R0lGODdh'],
    ['[5] does not exist', { part: [5] }, null],
    ['[1.1] a leaf has no sub-parts', { part: [1, 1] }, null],
    ['[2.3] past the end of a multipart', { part: [2, 3] }, null],
    ['[1.HEADER] of a non-message part names nothing', { part: [1], text: 'HEADER' }, null],
    ['[2.TEXT] of a multipart names nothing', { part: [2], text: 'TEXT' }, null],
    ['[0] does not exist', { part: [0] }, null],
  ];
  for (const [name, section, expected] of cases) {
    test(name, () => assert.equal(str(sectionBytes(nested, nestedIndex, section)), expected));
  }

  test('HEADER.FIELDS keeps the requested fields in message order, case-insensitively, with the blank line', () => {
    const got = sectionBytes(nested, nestedIndex, { part: [], text: 'HEADER.FIELDS', fields: ['subject', 'FROM', 'X-None'] });
    assert.equal(str(got), 'From: Alice <alice@example.com>\r\nSubject: Nested\r\n\r\n');
  });

  test('HEADER.FIELDS.NOT drops the named fields', () => {
    const got = sectionBytes(nested, nestedIndex, { part: [], text: 'HEADER.FIELDS.NOT', fields: ['Content-Type', 'MIME-Version', 'To'] });
    assert.equal(str(got), 'From: Alice <alice@example.com>\r\nSubject: Nested\r\n\r\n');
  });
});

describe('part numbering of a non-multipart message (RFC 9051 §6.4.5)', () => {
  const index = indexMessage(simple);
  test('part 1 is the body', () => assert.equal(str(sectionBytes(simple, index, { part: [1] })), 'Hello world,\r\nsecond line.\r\n'));
  test('part 2 does not exist', () => assert.equal(sectionBytes(simple, index, { part: [2] }), null));
  test('part 1.1 does not exist', () => assert.equal(findPart(index, [1, 1]), null));

  test('a message/rfc822 whose body is not multipart has that body as part N.1', () => {
    const raw = crlf([
      'Content-Type: multipart/mixed; boundary=b',
      '',
      '--b',
      'Content-Type: message/rfc822',
      '',
      'Subject: inner',
      '',
      'just text',
      '--b--',
      '',
    ]);
    const index = indexMessage(raw);
    assert.equal(str(sectionBytes(raw, index, { part: [1, 1] })), 'just text');
    assert.equal(sectionBytes(raw, index, { part: [1, 2] }), null);
    assert.equal(str(sectionBytes(raw, index, { part: [1], text: 'HEADER' })), 'Subject: inner\r\n\r\n');
  });
});

describe('partial <offset.length> (RFC 9051 §6.4.5)', () => {
  const buf = Buffer.from('0123456789');
  const cases: Array<[string, { offset: number; length: number }, string]> = [
    ['from 0', { offset: 0, length: 4 }, '0123'],
    ['in the middle', { offset: 3, length: 2 }, '34'],
    ['ending exactly at the end', { offset: 6, length: 4 }, '6789'],
    ['truncated at the end', { offset: 8, length: 100 }, '89'],
    ['starting at the end is empty', { offset: 10, length: 5 }, ''],
    ['starting beyond the end is empty', { offset: 11, length: 5 }, ''],
  ];
  for (const [name, partial, expected] of cases) {
    test(name, () => assert.equal(applyPartial(buf, partial).toString(), expected));
  }
  test('no partial returns the buffer unchanged', () => assert.equal(applyPartial(buf, undefined), buf));
});

describe('BINARY[part] (RFC 3516)', () => {
  test('quoted-printable is decoded', () => {
    assert.equal(binaryBytes(nested, nestedIndex, { part: [1] })!.toString('utf8'), 'Café = ok');
  });

  test('base64 is decoded, inside an encapsulated message too', () => {
    assert.deepEqual(binaryBytes(nested, nestedIndex, { part: [3, 2] }), Buffer.from([0, 1, 2, 255]));
  });

  test('7bit is passed through', () => assert.equal(binaryBytes(nested, nestedIndex, { part: [2, 1] })!.toString(), 'alt plain'));

  test('a nonexistent part gives null', () => assert.equal(binaryBytes(nested, nestedIndex, { part: [9] }), null));

  test('a multipart part is a BAD command', () => {
    assert.throws(() => binaryBytes(nested, nestedIndex, { part: [2] }), BadCommand);
  });

  test('a message/rfc822 part is a BAD command', () => {
    assert.throws(() => binaryBytes(nested, nestedIndex, { part: [3] }), BadCommand);
  });

  test('an unknown Content-Transfer-Encoding is refused with UNKNOWN-CTE', () => {
    const raw = crlf(['Content-Type: text/plain', 'Content-Transfer-Encoding: x-uuencode', '', 'begin 644 x', '']);
    assert.throws(
      () => binaryBytes(raw, indexMessage(raw), { part: [1] }),
      (err: unknown) => err instanceof Refused && err.code === 'UNKNOWN-CTE',
    );
  });
});
