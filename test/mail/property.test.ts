import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildIndex } from '../../src/mail/parse.js';
import { bodyText, decodeBody, decodeWords } from '../../src/mail/decode.js';
import { selectHeaderFields } from '../../src/mail/headers.js';
import { parseAddressList, parseAddress } from '../../src/mail/address.js';
import { parseDate } from '../../src/mail/date.js';
import type { BodyPart } from '../../src/mail/types.js';
import { corpus } from './corpus.js';
import { assertSoundIndex } from './check.js';

/** Everything that must hold for any input (buildIndex is indexMessage without its safety net,
 * so a throw here is a real parser bug). */
function checkMessage(raw: Buffer): void {
  const index = buildIndex(raw);
  assertSoundIndex(index, raw);
  assert.deepEqual(buildIndex(raw), index, 'parsing is deterministic');
  assert.deepEqual(JSON.parse(JSON.stringify(index)), index, 'the index survives the store as JSON');
  const text = bodyText(raw, index, { maxChars: 10_000 });
  assert.ok(text.length <= 10_000, 'bodyText is bounded');
  const visit = (part: BodyPart): void => {
    selectHeaderFields(raw.subarray(part.headerStart, part.bodyStart), ['subject', 'content-type'], false);
    decodeBody(raw.subarray(part.bodyStart, part.bodyEnd), part.encoding);
    part.parts?.forEach(visit);
    if (part.message) visit(part.message.body);
  };
  visit(index.body);
}

const INSERTS = [
  '\r\n',
  '\n',
  '\r',
  '--',
  '--outer',
  '--outer--',
  '\r\n--alt\r\n',
  '\r\n--fwd--\r\n',
  ':',
  ';',
  '"',
  '(',
  ' ',
  '=?utf-8?B?',
  '?=',
  'Content-Type: multipart/mixed; boundary=outer\r\n',
  'Content-Type: message/rfc822\r\n\r\n',
  'Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n',
  '\r\n\r\n',
  '\x00',
  '\xff\xfe',
];

type Mutation =
  | { kind: 'flip'; at: number; byte: number }
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'insert'; at: number; text: string }
  | { kind: 'truncate'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.nat({ max: 200 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom(...INSERTS) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(raw: Buffer, mutations: Mutation[]): Buffer {
  let buf = Buffer.from(raw);
  for (const m of mutations) {
    const at = m.at % (buf.length + 1);
    switch (m.kind) {
      case 'flip':
        if (buf.length > 0) buf[at % buf.length] = m.byte;
        break;
      case 'delete':
        buf = Buffer.concat([buf.subarray(0, at), buf.subarray(at + m.len)]);
        break;
      case 'insert':
        buf = Buffer.concat([buf.subarray(0, at), Buffer.from(m.text, 'latin1'), buf.subarray(at)]);
        break;
      case 'truncate':
        buf = buf.subarray(0, at);
        break;
    }
  }
  return buf;
}

/** Message-like lines from a small vocabulary, joined with mixed line ends. */
const mailish = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        '',
        'Content-Type: multipart/mixed; boundary=q',
        'Content-Type: multipart/alternative; boundary="r"',
        'Content-Type: message/rfc822',
        'Content-Type: text/plain; charset*0*=utf-8\'\'%E2%82; charset*1*=%AC',
        'Content-Transfer-Encoding: base64',
        'Subject: =?utf-8?Q?x?= =?koi8-r?B?8NLJ?=',
        'From: a@b, G: c@d;, "x" <y@z>',
        '--q',
        '--q--',
        '--r',
        '--r--',
        ' folded',
        'body text',
      ),
      fc.string({ maxLength: 40 }),
      fc.constantFrom('--q', '--r', ''),
    ),
    { maxLength: 60 },
  )
  .chain((lines) => fc.tuple(fc.constant(lines), fc.array(fc.constantFrom('\r\n', '\n'), { minLength: lines.length, maxLength: lines.length })))
  .map(([lines, ends]) => Buffer.from('Content-Type: multipart/mixed; boundary=q\n\n' + lines.map((l, i) => l + ends[i]).join(''), 'utf8'));

describe('property: the indexer is total, bounded and deterministic', () => {
  test('random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (bytes) => checkMessage(Buffer.from(bytes))),
      { numRuns: 300 },
    );
  });

  test('random mutations of corpus messages', () => {
    const names = Object.keys(corpus);
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.array(mutation, { minLength: 1, maxLength: 8 }), (name, mutations) =>
        checkMessage(mutate(corpus[name]!, mutations)),
      ),
      { numRuns: 600 },
    );
  });

  test('random message-like line sequences', () => {
    fc.assert(fc.property(mailish, (raw) => checkMessage(raw)), { numRuns: 400 });
  });

  test('header-level parsers never throw on arbitrary strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
        decodeWords(s);
        const list = parseAddressList(s);
        assert.ok(list === null || list.length > 0, 'an address list is NIL or non-empty');
        parseAddress(s);
        const date = parseDate(s);
        assert.ok(date === null || Number.isFinite(date), 'a date is a finite number or null');
      }),
      { numRuns: 1000 },
    );
  });
});
