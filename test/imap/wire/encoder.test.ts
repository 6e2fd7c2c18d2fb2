// Response encoding (RFC 9051 §7, §4.3).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { compactSequence, encodeResponse, encodeValue, fetchItemName, formatDateTime, formatSequenceSet } from '../../../src/imap/wire/encoder.js';
import type { EncodeOptions, ImapValue, Response } from '../../../src/imap/wire/types.js';

const ascii: EncodeOptions = { utf8: false };
const utf8: EncodeOptions = { utf8: true };

describe('IMAP response encoder', () => {
  const responses: Array<[Response, string]> = [
    [{ kind: 'tagged', tag: 'A1', status: 'OK', text: 'LOGIN completed' }, 'A1 OK LOGIN completed\r\n'],
    [{ kind: 'tagged', tag: 'A2', status: 'NO', code: { code: 'TRYCREATE' }, text: 'No such mailbox' }, 'A2 NO [TRYCREATE] No such mailbox\r\n'],
    [{ kind: 'tagged', tag: 'A3', status: 'OK', code: { code: 'READ-WRITE' }, text: '' }, 'A3 OK [READ-WRITE] done\r\n'],
    [{ kind: 'status', status: 'OK', code: { code: 'UIDVALIDITY', args: [3857529045] }, text: 'UIDs valid' }, '* OK [UIDVALIDITY 3857529045] UIDs valid\r\n'],
    [{ kind: 'status', status: 'OK', code: { code: 'PERMANENTFLAGS', args: [[{ atom: '\\Deleted' }, { atom: '\\Seen' }, { atom: '\\*' }]] }, text: 'Limited' }, '* OK [PERMANENTFLAGS (\\Deleted \\Seen \\*)] Limited\r\n'],
    [{ kind: 'status', status: 'OK', code: { code: 'HIGHESTMODSEQ', args: [90060115194045000n] }, text: 'x' }, '* OK [HIGHESTMODSEQ 90060115194045000] x\r\n'],
    [{ kind: 'status', status: 'BYE', text: 'Autologout;\r\nidle for too long' }, '* BYE Autologout; idle for too long\r\n'],
    [{ kind: 'status', status: 'PREAUTH', text: 'Hi' }, '* PREAUTH Hi\r\n'],
    [{ kind: 'data', values: [172, { atom: 'EXISTS' }] }, '* 172 EXISTS\r\n'],
    [{ kind: 'data', values: [{ atom: 'FLAGS' }, [{ atom: '\\Answered' }, { atom: '$Forwarded' }]] }, '* FLAGS (\\Answered $Forwarded)\r\n'],
    [{ kind: 'data', values: [{ atom: 'LIST' }, [{ atom: '\\HasNoChildren' }], '/', { mailbox: '\u53f0\u5317' }] }, '* LIST (\\HasNoChildren) "/" "&U,BTFw-"\r\n'],
    [{ kind: 'data', values: [{ atom: 'ID' }, null] }, '* ID NIL\r\n'],
    [{ kind: 'data', values: [12, { atom: 'FETCH' }, [{ atom: 'UID' }, 7, { atom: 'BODY[]' }, Buffer.from('a\r\nb')]] }, '* 12 FETCH (UID 7 BODY[] {4}\r\na\r\nb)\r\n'],
    [{ kind: 'data', values: [1, { atom: 'FETCH' }, [{ atom: 'BINARY[]' }, { literal: Buffer.from([0, 1]), binary: true }]] }, '* 1 FETCH (BINARY[] ~{2}\r\n\0\x01)\r\n'],
    [{ kind: 'continuation', text: 'Ready for literal data' }, '+ Ready for literal data\r\n'],
    [{ kind: 'continuation', text: '' }, '+ \r\n'],
  ];
  for (const [response, bytes] of responses) {
    test(`encodes ${JSON.stringify(bytes)}`, () => {
      assert.equal(encodeResponse(response, ascii).toString('latin1'), bytes);
    });
  }

  const values: Array<[ImapValue, EncodeOptions, string]> = [
    ['plain', ascii, '"plain"'],
    ['', ascii, '""'],
    ['say "hi" \\o/', ascii, '"say \\"hi\\" \\\\o/"'],
    ['two\r\nlines', ascii, '{10}\r\ntwo\r\nlines'],
    ['caf\u00e9', ascii, '{5}\r\ncaf\u00c3\u00a9'],
    ['caf\u00e9', utf8, '"caf\u00c3\u00a9"'],
    ['nul\0', utf8, '{4}\r\nnul\0'],
    ['x'.repeat(2000), ascii, `{2000}\r\n${'x'.repeat(2000)}`],
    [{ mailbox: 'Entw\u00fcrfe' }, ascii, '"Entw&APw-rfe"'],
    [{ mailbox: 'Entw\u00fcrfe' }, utf8, '"Entw\u00c3\u00bcrfe"'],
    [{ mailbox: 'a&b' }, ascii, '"a&-b"'],
    [{ mailbox: 'a&b' }, utf8, '"a&b"'],
    [[1, [2, []], null], ascii, '(1 (2 ()) NIL)'],
    [0, ascii, '0'],
  ];
  for (const [value, options, bytes] of values) {
    test(`encodes value ${JSON.stringify(value).slice(0, 40)} (utf8: ${options.utf8})`, () => {
      assert.equal(encodeValue(value, options).toString('latin1'), bytes);
    });
  }

  test('refuses values that cannot be written', () => {
    assert.throws(() => encodeValue(-1, ascii), /not an IMAP number/);
    assert.throws(() => encodeValue(1.5, ascii), /not an IMAP number/);
    assert.throws(() => encodeValue({ atom: 'a b\r\n' }, ascii), /invalid atom/);
    assert.throws(() => encodeValue({ atom: '' }, ascii), /invalid atom/);
    assert.throws(() => encodeResponse({ kind: 'status', status: 'OK', code: { code: 'X', args: ['a\r\n'] }, text: 't' }, ascii), /literal/);
    assert.throws(() => encodeResponse({ kind: 'status', status: 'OK', code: { code: 'BAD CODE' }, text: 't' }, ascii), /response code/);
  });

  test('formats sequence sets, compact UID lists and date-times', () => {
    assert.equal(formatSequenceSet({ ranges: [{ start: 1, end: 4 }, { start: 7, end: 7 }, { start: 9, end: '*' }] }), '1:4,7,9:*');
    assert.equal(formatSequenceSet({ saved: true }), '$');
    assert.equal(compactSequence([9, 1, 2, 3, 5, 3, 10]), '1:3,5,9:10');
    assert.equal(compactSequence([]), '');
    assert.equal(formatDateTime(Date.UTC(1996, 6, 17, 9, 44, 25), -420), '17-Jul-1996 02:44:25 -0700');
    assert.equal(formatDateTime(Date.UTC(2024, 0, 1, 0, 0, 0), 330), '01-Jan-2024 05:30:00 +0530');
  });

  test('names fetch items as FETCH responses carry them (RFC 9051 §7.5.2)', () => {
    assert.equal(fetchItemName({ kind: 'BODY[]', section: { part: [] }, peek: true }), 'BODY[]');
    assert.equal(fetchItemName({ kind: 'BODY[]', section: { part: [1, 2], text: 'MIME' }, peek: false, partial: { offset: 100, length: 10 } }), 'BODY[1.2.MIME]<100>');
    assert.equal(fetchItemName({ kind: 'BODY[]', section: { part: [], text: 'HEADER.FIELDS', fields: ['From', 'X Y'] }, peek: true }), 'BODY[HEADER.FIELDS (From "X Y")]');
    assert.equal(fetchItemName({ kind: 'BINARY', part: [3], peek: true }), 'BINARY[3]');
    assert.equal(fetchItemName({ kind: 'BINARY.SIZE', part: [] }), 'BINARY.SIZE[]');
    assert.equal(fetchItemName({ kind: 'RFC822.SIZE' }), 'RFC822.SIZE');
    assert.equal(fetchItemName({ kind: 'PREVIEW', lazy: true }), 'PREVIEW');
  });
});
