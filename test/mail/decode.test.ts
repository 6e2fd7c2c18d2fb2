import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import iconv from 'iconv-lite';
import { bodyText, decodeBody, decodeHeaderBytes, decodeWords, isKnownEncoding } from '../../src/mail/decode.js';
import { buildIndex } from '../../src/mail/parse.js';
import * as c from './corpus.js';

describe('decodeWords (RFC 2047)', () => {
  const cases: Array<[string, string, string]> = [
    ['plain text passes through', 'Hello world', 'Hello world'],
    ['white space between adjacent words is dropped (§6.2)', '=?utf-8?Q?a?= =?utf-8?Q?b?=', 'ab'],
    ['several spaces and tabs between words are dropped', '=?ISO-8859-1?Q?a?=  \t =?ISO-8859-1?Q?b?=', 'ab'],
    ['white space between a word and text is kept', '=?utf-8?Q?a?= b', 'a b'],
    ['text before a word keeps its space', 'a =?utf-8?Q?b?=', 'a b'],
    ['"_" is a space in Q', '=?iso-8859-1?Q?a_b?=', 'a b'],
    ['a space encoded in the second word of another charset (RFC 2047 §8)', '=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=', 'a b'],
    ['lower-case b and a language suffix (RFC 2231 §5)', '=?utf-8*en?b?SMOpbGxv?=', 'Héllo'],
    ['a character split across two words is joined as bytes', '=?utf-8?B?4oI=?= =?utf-8?B?rA==?=', '€'],
    ['an unknown charset keeps the word raw', '=?x-unknown?Q?abc?= tail', '=?x-unknown?Q?abc?= tail'],
    ['an unknown charset keeps the gap to a following word', '=?x-unknown?Q?a?= =?utf-8?Q?b?=', '=?x-unknown?Q?a?= b'],
    ['an unterminated word stays as it is', '=?utf-8?Q?abc', '=?utf-8?Q?abc'],
    ['a word inside text without spaces is still decoded (lenient)', 'Re:=?utf-8?Q?x?=', 'Re:x'],
    ['invalid base64 characters are skipped', '=?utf-8?B?SG!!Vsb-G8=?=', 'Hello'],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => assert.equal(decodeWords(input), expected));
  }
  for (const [value, decoded] of c.encodedSubjects) {
    test(`decodes ${value.split('?')[1]}`, () => assert.equal(decodeWords(value), decoded));
  }
});

describe('decodeHeaderBytes', () => {
  test('valid UTF-8 is read as UTF-8', () => assert.equal(decodeHeaderBytes(Buffer.from('Grüße €', 'utf8')), 'Grüße €'));
  test('invalid UTF-8 is read as Windows-1252', () =>
    assert.equal(decodeHeaderBytes(Buffer.from([0x47, 0x72, 0xfc, 0xdf, 0x65, 0x20, 0x80])), 'Grüße €'));
});

describe('decodeBody (RFC 2045 §6)', () => {
  const cases: Array<[string, string, string, string]> = [
    ['base64 with line breaks', 'base64', 'SGVs\r\nbG8=\r\n', 'Hello'],
    ['base64 with garbage and spaces', 'BASE64', ' SG V*s#bG8 ', 'Hello'],
    ['concatenated base64 blocks with padding', 'base64', 'SGk=SGk=', 'HiHi'],
    ['base64 without padding', 'base64', 'SGVsbG8', 'Hello'],
    ['QP escapes', 'quoted-printable', 'a=3Db=C3=A9', 'a=bé'],
    ['QP soft line break (CRLF)', 'quoted-printable', 'soft=\r\nbreak', 'softbreak'],
    ['QP soft line break (LF) with white space after "="', 'quoted-printable', 'soft= \nbreak', 'softbreak'],
    ['QP trailing white space is transport padding', 'quoted-printable', 'a  \r\nb\t\nc ', 'a\r\nb\nc'],
    ['QP stray "=" is kept', 'quoted-printable', 'a=ZZ b=', 'a=ZZ b'],
    ['QP lower-case hex', 'quoted-printable', '=c3=a9', 'é'],
    ['7bit passes through', '7bit', 'a=3D\r\n', 'a=3D\r\n'],
    ['unknown encodings pass through', 'x-uuencode', 'begin', 'begin'],
  ];
  for (const [name, encoding, input, expected] of cases) {
    test(name, () => assert.equal(decodeBody(Buffer.from(input, 'latin1'), encoding).toString('utf8'), expected));
  }
  test('binary data survives a base64 round trip', () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 37) & 0xff));
    const encoded = data.toString('base64').replace(/.{76}/g, '$&\r\n');
    assert.deepEqual(decodeBody(Buffer.from(encoded), 'base64'), data);
  });
  test('isKnownEncoding lists what decodeBody understands', () => {
    assert.deepEqual(
      ['7BIT', 'Base64', 'quoted-printable', 'binary', 'x-uuencode'].map(isKnownEncoding),
      [true, true, true, true, false],
    );
  });
});

describe('bodyText', () => {
  test('text parts are decoded (QP, UTF-8) and HTML reduced to text; other parts skipped', () => {
    assert.equal(bodyText(c.nested, buildIndex(c.nested)), 'Café report\nCafé & report\n');
  });

  test('an attached message contributes its header and body', () => {
    const raw = c.attachedMessage;
    const inner = raw.toString('utf8', raw.indexOf('From: Grace'), raw.indexOf('Inner body line 1'));
    assert.equal(bodyText(raw, buildIndex(raw)), `See below.\n${inner}Inner body line 1\r\nInner body line 2\n`);
  });

  test('legacy charsets are converted: koi8-r base64 and 7-bit iso-2022-jp', () => {
    const koi = iconv.encode('Привет, мир', 'koi8-r').toString('base64');
    const raw = c.crlf(
      'Content-Type: multipart/mixed; boundary=z',
      '',
      '--z',
      'Content-Type: text/plain; charset=KOI8-R',
      'Content-Transfer-Encoding: base64',
      '',
      koi,
      '--z',
      'Content-Type: text/plain; charset=iso-2022-jp',
      '',
      '\x1b$B$3$s$K$A$O\x1b(B',
      '--z--',
    );
    assert.equal(bodyText(raw, buildIndex(raw)), 'Привет, мир\nこんにちは\n');
  });

  test('unlabelled 8-bit text falls back to Windows-1252', () => {
    const raw = Buffer.from('Subject: x\r\n\r\nGr\xfc\xdfe\r\n', 'latin1');
    assert.equal(bodyText(raw, buildIndex(raw)), 'Grüße\r\n\n');
  });

  test('the text is bounded by maxChars', () => {
    const raw = c.crlf('Subject: long', '', 'x'.repeat(5000));
    assert.equal(bodyText(raw, buildIndex(raw), { maxChars: 100 }), 'x'.repeat(100));
  });
});
