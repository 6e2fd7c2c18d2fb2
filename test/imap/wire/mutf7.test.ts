// Modified UTF-7 mailbox names (RFC 3501 §5.1.3).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { decodeMutf7, encodeMutf7 } from '../../../src/imap/wire/mutf7.js';

describe('modified UTF-7', () => {
  test('the RFC 3501 §5.1.3 example encodes and decodes', () => {
    const name = '~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e';
    assert.equal(encodeMutf7(name), '~peter/mail/&U,BTFw-/&ZeVnLIqe-');
    assert.equal(decodeMutf7('~peter/mail/&U,BTFw-/&ZeVnLIqe-'), name);
  });

  const vectors: Array<[string, string]> = [
    ['', ''],
    ['INBOX', 'INBOX'],
    ['&', '&-'],
    ['a&b&&', 'a&-b&-&-'],
    ['Entw\u00fcrfe', 'Entw&APw-rfe'],
    ['\u00e9t\u00e9', '&AOk-t&AOk-'],
    ['Gel\u00f6schte Elemente', 'Gel&APY-schte Elemente'],
    ['\ud83d\ude00', '&2D3eAA-'],
    ['tab\there', 'tab&AAk-here'],
    ['\u4e2d\u6587/&', '&Ti1lhw-/&-'],
  ];
  for (const [name, encoded] of vectors) {
    test(`${JSON.stringify(name)} ⇄ ${JSON.stringify(encoded)}`, () => {
      assert.equal(encodeMutf7(name), encoded);
      assert.equal(decodeMutf7(encoded), name);
    });
  }

  const invalid: Array<[string, RegExp]> = [
    ['&', /unterminated/],
    ['abc&U,BTFw', /unterminated/],
    ['&AGE-', /canonical/], // base64 for printable ASCII "a"
    ['&U,BTFw-&ZeVnLIqe-', /canonical/], // two adjacent shifts
    ['&U,BTFw==-', /invalid character/],
    ['&U/BTFw-', /invalid character/], // "/" instead of ","
    ['&2D0-', /surrogate/], // lone high surrogate
    ['&3gA-', /surrogate/], // lone low surrogate
    ['&AO-', /whole UTF-16|canonical/],
    ['&A-', /truncated/],
    ['caf\u00e9', /outside printable/],
    ['a\tb', /outside printable/],
  ];
  for (const [text, message] of invalid) {
    test(`refuses ${JSON.stringify(text)}`, () => {
      assert.throws(() => decodeMutf7(text), message);
    });
  }
});
