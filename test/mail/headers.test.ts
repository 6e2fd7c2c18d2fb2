import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { getHeaderFields, headerValue, selectHeaderFields } from '../../src/mail/headers.js';
import { crlf, lf } from './corpus.js';

const header = crlf('To: bob@example.com', 'Subject: a', ' folded', 'X-Spam: no', 'subject: second', '', 'body');
const headerBlock = header.subarray(0, header.indexOf('body'));

describe('getHeaderFields', () => {
  test('fields carry exact byte ranges, continuation lines included', () => {
    const block = getHeaderFields(header, 0);
    assert.deepEqual(
      block.fields.map((f) => [f.name, header.toString('latin1', f.start, f.end)]),
      [
        ['To', 'To: bob@example.com\r\n'],
        ['Subject', 'Subject: a\r\n folded\r\n'],
        ['X-Spam', 'X-Spam: no\r\n'],
        ['subject', 'subject: second\r\n'],
      ],
    );
    assert.equal(block.separatorStart, header.indexOf('\r\n\r\n') + 2);
    assert.equal(block.bodyStart, header.indexOf('body'));
    assert.equal(headerValue(header, block.fields[1]!), 'a folded');
  });

  test('a scan stops at the given end', () => {
    const end = header.indexOf('X-Spam');
    const block = getHeaderFields(header, 0, { end });
    assert.deepEqual(
      block.fields.map((f) => f.lname),
      ['to', 'subject'],
    );
    assert.equal(block.bodyStart, end);
    assert.equal(block.separatorStart, null);
  });

  test('white space before the colon is allowed (obs-optional); a line without colon ends the header', () => {
    const raw = lf('Subject : x', 'not a field', 'To: y');
    const block = getHeaderFields(raw, 0);
    assert.deepEqual(
      block.fields.map((f) => f.lname),
      ['subject'],
    );
    assert.equal(block.bodyStart, raw.indexOf('not a field'));
  });

  test('an mbox From line is skipped only when allowed', () => {
    const raw = lf('From a@b Mon Jan  1 00:00:00 2026', 'Subject: x', '');
    assert.deepEqual(
      getHeaderFields(raw, 0, { allowMboxFrom: true }).fields.map((f) => f.lname),
      ['subject'],
    );
    assert.equal(getHeaderFields(raw, 0).fields.length, 0);
  });
});

describe('selectHeaderFields (RFC 9051 §6.4.5)', () => {
  test('HEADER.FIELDS returns the matching fields, case-insensitively, then the blank line', () => {
    assert.equal(
      selectHeaderFields(headerBlock, ['SUBJECT', 'to'], false).toString('latin1'),
      'To: bob@example.com\r\nSubject: a\r\n folded\r\nsubject: second\r\n\r\n',
    );
  });

  test('HEADER.FIELDS.NOT returns the other fields, then the blank line', () => {
    assert.equal(selectHeaderFields(headerBlock, ['subject', 'to'], true).toString('latin1'), 'X-Spam: no\r\n\r\n');
  });

  test('no match gives just the blank line', () => {
    assert.equal(selectHeaderFields(headerBlock, ['cc'], false).toString('latin1'), '\r\n');
  });

  test('LF-only headers keep their own line ends', () => {
    const raw = lf('A: 1', 'B: 2', '');
    assert.equal(selectHeaderFields(raw, ['b'], false).toString('latin1'), 'B: 2\n\n');
  });

  test('a header without blank line gets none; a last field without line end gets CRLF', () => {
    const raw = Buffer.from('A: 1\r\nB: 2');
    assert.equal(selectHeaderFields(raw, ['a', 'b'], false).toString('latin1'), 'A: 1\r\nB: 2\r\n');
  });

  test('8-bit bytes are returned exactly', () => {
    const raw = Buffer.from('Subject: Gr\xfc\xdfe\r\n\r\n', 'latin1');
    assert.deepEqual(selectHeaderFields(raw, ['subject'], false), raw);
  });
});
