import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { indexMessage } from '../../../src/mail/parse.js';
import type { MessageRecord } from '../../../src/store/store.js';
import type { SearchKey, SequenceSet } from '../../../src/imap/wire/types.js';
import { evaluateSearch, messageSearchContext, needsHeaders, needsRaw, needsText, searchRawRange, sentDay, usesModseq } from '../../../src/imap/search/search.js';
import { compactSet, esearchResult, partialSlice, savedResult, selectedResults } from '../../../src/imap/search/esearch.js';
import { highestModseq } from '../../../src/imap/commands/search.js';
import type { Match } from '../../../src/imap/session/matching.js';

const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'utf8');

const raw = crlf([
  'Date: Mon, 2 Feb 2026 23:30:00 -0800',
  'From: =?utf-8?q?J=C3=BCrgen?= <juergen@example.com>',
  'To: Bob <bob@example.com>, carol@example.org',
  'Cc: dave@example.net',
  'Subject: =?utf-8?b?R3LDvMOfZQ==?= from Berlin',
  'X-Mailer: Pigeon Test',
  'X-Empty:',
  'MIME-Version: 1.0',
  'Content-Type: multipart/alternative; boundary=b',
  '',
  '--b',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Die Stra=C3=9Fe ist lang.',
  '--b',
  'Content-Type: text/html',
  '',
  '<p>An <b>HTML</b> paragraph</p>',
  '--b--',
  '',
]);

// INTERNALDATE: the last millisecond of 3 Feb 2026 UTC.
const internalDate = Date.UTC(2026, 1, 3, 23, 59, 59, 999);

const rec: MessageRecord = {
  uid: 40,
  modseq: 120,
  flags: ['\\Seen', '\\Flagged', '$Label1'],
  mailboxId: 1,
  size: raw.length,
  internalDate,
  saveDate: Date.UTC(2026, 1, 10, 0, 0, 0),
  blobHash: 'h',
  emailId: 'Eabc',
  threadId: 'Tdef',
  index: indexMessage(raw),
};

const now = internalDate + 3600_000;
const ctx = (extra: { recent?: boolean; saved?: Set<number> } = {}) =>
  messageSearchContext(rec, { seq: 4, raw, maxSeq: 10, maxUid: 90, now, recent: extra.recent ?? false, saved: extra.saved ?? new Set() });

const date = (year: number, month: number, day: number) => ({ year, month, day });
const set = (...ranges: Array<[number | '*', number | '*']>): SequenceSet => ({ ranges: ranges.map(([start, end]) => ({ start, end })) });

describe('SEARCH keys (RFC 9051 §6.4.4)', () => {
  const cases: Array<[string, SearchKey, boolean]> = [
    ['ALL', { key: 'ALL' }, true],
    ['SEEN', { key: 'SEEN' }, true],
    ['UNSEEN', { key: 'UNSEEN' }, false],
    ['FLAGGED', { key: 'FLAGGED' }, true],
    ['UNANSWERED', { key: 'UNANSWERED' }, true],
    ['DELETED', { key: 'DELETED' }, false],
    ['DRAFT', { key: 'DRAFT' }, false],
    ['KEYWORD matches case-insensitively', { key: 'KEYWORD', flag: '$label1' }, true],
    ['UNKEYWORD', { key: 'UNKEYWORD', flag: '$Label1' }, false],
    ['FROM matches the decoded display name', { key: 'FROM', value: 'jürgen' }, true],
    ['FROM matches the address', { key: 'FROM', value: 'JUERGEN@EXAMPLE' }, true],
    ['TO matches any recipient', { key: 'TO', value: 'carol@' }, true],
    ['CC', { key: 'CC', value: 'dave' }, true],
    ['BCC without a Bcc field', { key: 'BCC', value: 'x' }, false],
    ['SUBJECT matches decoded words', { key: 'SUBJECT', value: 'GRÜSSE' }, false],
    ['SUBJECT substring, case-insensitive', { key: 'SUBJECT', value: 'grüße FROM' }, true],
    ['BODY decodes quoted-printable', { key: 'BODY', value: 'straße' }, true],
    ['BODY covers the HTML alternative as text', { key: 'BODY', value: 'html paragraph' }, true],
    ['BODY does not look at the header', { key: 'BODY', value: 'Pigeon Test' }, false],
    ['TEXT covers the header', { key: 'TEXT', value: 'pigeon test' }, true],
    ['TEXT covers the body', { key: 'TEXT', value: 'LANG.' }, true],
    ['HEADER with a value', { key: 'HEADER', field: 'x-mailer', value: 'pigeon' }, true],
    ['HEADER with an empty value tests presence', { key: 'HEADER', field: 'X-Empty', value: '' }, true],
    ['HEADER of an absent field', { key: 'HEADER', field: 'X-Absent', value: '' }, false],
    ['HEADER SUBJECT is decoded', { key: 'HEADER', field: 'Subject', value: 'berlin' }, true],
    ['LARGER', { key: 'LARGER', size: raw.length - 1 }, true],
    ['LARGER is strict', { key: 'LARGER', size: raw.length }, false],
    ['SMALLER is strict', { key: 'SMALLER', size: raw.length }, false],
    ['SMALLER', { key: 'SMALLER', size: raw.length + 1 }, true],
    ['UID in a range', { key: 'UID', set: set([30, 45]) }, true],
    ['UID * is the largest UID', { key: 'UID', set: set([41, '*']) }, false],
    ['UID range written backwards', { key: 'UID', set: set([50, 40]) }, true],
    ['sequence number', { key: 'SEQUENCE', set: set([1, 3], [4, 4]) }, true],
    ['sequence *:5 is 5:10', { key: 'SEQUENCE', set: set(['*', 5]) }, false],
    ['MODSEQ is ≥', { key: 'MODSEQ', modseq: 120 }, true],
    ['MODSEQ above', { key: 'MODSEQ', modseq: 121 }, false],
    ['EMAILID', { key: 'EMAILID', id: 'Eabc' }, true],
    ['THREADID', { key: 'THREADID', id: 'Tother' }, false],
    ['YOUNGER within the interval', { key: 'YOUNGER', seconds: 3600 }, true],
    ['YOUNGER outside', { key: 'YOUNGER', seconds: 3599 }, false],
    ['OLDER', { key: 'OLDER', seconds: 3599 }, true],
    ['OLDER at exactly the age', { key: 'OLDER', seconds: 3600 }, false],
    ['SAVEDATESUPPORTED', { key: 'SAVEDATESUPPORTED' }, true],
    ['SAVEDON', { key: 'SAVEDON', date: date(2026, 2, 10) }, true],
    ['SAVEDBEFORE', { key: 'SAVEDBEFORE', date: date(2026, 2, 10) }, false],
    ['NOT', { key: 'NOT', operand: { key: 'SEEN' } }, false],
    ['OR of false and true', { key: 'OR', left: { key: 'DELETED' }, right: { key: 'FLAGGED' } }, true],
    ['OR of false and false', { key: 'OR', left: { key: 'DELETED' }, right: { key: 'DRAFT' } }, false],
    [
      'nested NOT (OR …) and AND',
      {
        key: 'AND',
        operands: [
          { key: 'NOT', operand: { key: 'OR', left: { key: 'DELETED' }, right: { key: 'NOT', operand: { key: 'FLAGGED' } } } },
          { key: 'FROM', value: 'example.com' },
        ],
      },
      true,
    ],
    ['AND with one false', { key: 'AND', operands: [{ key: 'SEEN' }, { key: 'DRAFT' }] }, false],
  ];
  for (const [name, key, expected] of cases) {
    test(`${name} → ${expected}`, () => assert.equal(evaluateSearch(key, ctx()), expected));
  }
});

describe('date keys at day boundaries (RFC 9051 §6.4.4: date only, no time or zone)', () => {
  const cases: Array<[string, SearchKey, boolean]> = [
    // INTERNALDATE is 2026-02-03T23:59:59.999Z.
    ['ON the internal date', { key: 'ON', date: date(2026, 2, 3) }, true],
    ['ON the next day', { key: 'ON', date: date(2026, 2, 4) }, false],
    ['BEFORE the next day', { key: 'BEFORE', date: date(2026, 2, 4) }, true],
    ['BEFORE the same day', { key: 'BEFORE', date: date(2026, 2, 3) }, false],
    ['SINCE the same day', { key: 'SINCE', date: date(2026, 2, 3) }, true],
    ['SINCE the next day', { key: 'SINCE', date: date(2026, 2, 4) }, false],
    // Date: is Mon, 2 Feb 2026 23:30 -0800 (3 Feb in UTC): the header's own day counts.
    ['SENTON the day written in the header', { key: 'SENTON', date: date(2026, 2, 2) }, true],
    ['SENTON the UTC day', { key: 'SENTON', date: date(2026, 2, 3) }, false],
    ['SENTBEFORE the day after', { key: 'SENTBEFORE', date: date(2026, 2, 3) }, true],
    ['SENTSINCE the same day', { key: 'SENTSINCE', date: date(2026, 2, 2) }, true],
    ['SENTSINCE the day after', { key: 'SENTSINCE', date: date(2026, 2, 3) }, false],
  ];
  for (const [name, key, expected] of cases) {
    test(`${name} → ${expected}`, () => assert.equal(evaluateSearch(key, ctx()), expected));
  }

  test('a message without a Date: header matches no SENT* key', () => {
    const noDate = crlf(['Subject: x', '', 'body']);
    const index = indexMessage(noDate);
    assert.equal(sentDay(index), null);
    const c = messageSearchContext({ ...rec, index }, { seq: 1, maxSeq: 1, maxUid: 40, now });
    assert.equal(evaluateSearch({ key: 'SENTSINCE', date: date(1970, 1, 1) }, c), false);
    assert.equal(evaluateSearch({ key: 'SENTBEFORE', date: date(2100, 1, 1) }, c), false);
  });

  test('two-digit years follow RFC 5322 §4.3', () => {
    const old = indexMessage(crlf(['Date: 1 Jan 99 10:00:00 +0000', '', 'x']));
    assert.equal(sentDay(old), Date.UTC(1999, 0, 1) / 86_400_000);
    const recent = indexMessage(crlf(['Date: 1 Jan 26 10:00:00 +0000', '', 'x']));
    assert.equal(sentDay(recent), Date.UTC(2026, 0, 1) / 86_400_000);
  });
});

describe('session state keys', () => {
  test('RECENT, NEW and OLD follow the session’s \\Recent', () => {
    assert.equal(evaluateSearch({ key: 'RECENT' }, ctx({ recent: true })), true);
    assert.equal(evaluateSearch({ key: 'OLD' }, ctx({ recent: true })), false);
    // NEW = RECENT UNSEEN; this message is \Seen.
    assert.equal(evaluateSearch({ key: 'NEW' }, ctx({ recent: true })), false);
    assert.equal(evaluateSearch({ key: 'OLD' }, ctx()), true);
  });

  test('$ is the saved result, for UID and sequence sets alike', () => {
    assert.equal(evaluateSearch({ key: 'UID', set: { saved: true } }, ctx({ saved: new Set([40]) })), true);
    assert.equal(evaluateSearch({ key: 'SEQUENCE', set: { saved: true } }, ctx({ saved: new Set([41]) })), false);
  });
});

describe('what a SEARCH must load', () => {
  test('flag, envelope and indexed header keys need no raw bytes', () => {
    const key: SearchKey = { key: 'AND', operands: [{ key: 'SEEN' }, { key: 'FROM', value: 'a' }, { key: 'HEADER', field: 'Subject', value: 'x' }] };
    assert.equal(needsRaw(key), false);
  });

  test('BODY and TEXT need the text, even nested', () => {
    assert.equal(needsText({ key: 'NOT', operand: { key: 'OR', left: { key: 'SEEN' }, right: { key: 'BODY', value: 'x' } } }), true);
    assert.equal(needsHeaders({ key: 'TEXT', value: 'x' }), false);
  });

  test('HEADER of other fields, or a presence test, needs the headers', () => {
    assert.equal(needsHeaders({ key: 'HEADER', field: 'X-Mailer', value: 'x' }), true);
    assert.equal(needsHeaders({ key: 'HEADER', field: 'Subject', value: '' }), true);
  });

  test('MODSEQ is detected for the (MODSEQ n) response', () => {
    assert.equal(usesModseq({ key: 'OR', left: { key: 'SEEN' }, right: { key: 'MODSEQ', modseq: 1 } }), true);
    assert.equal(usesModseq({ key: 'SEEN' }), false);
  });

  test('HEADER keys read only the header prefix, and match the same from it', () => {
    const key: SearchKey = { key: 'HEADER', field: 'X-Mailer', value: 'pigeon' };
    const range = searchRawRange(key, rec.index);
    assert.deepEqual(range, { start: 0, end: raw.indexOf('\r\n\r\n') + 4 });
    const c = messageSearchContext(rec, { seq: 1, raw: raw.subarray(0, range.end), maxSeq: 1, maxUid: 40, now });
    assert.equal(evaluateSearch(key, c), true);
    assert.deepEqual(searchRawRange({ key: 'TEXT', value: 'x' }, rec.index), { start: 0, end: raw.length });
    assert.deepEqual(searchRawRange({ key: 'SEEN' }, rec.index), { start: 0, end: 0 });
  });

  test('the raw message is not touched when no key needs it', () => {
    const c = messageSearchContext(rec, { seq: 1, maxSeq: 1, maxUid: 40, now });
    assert.equal(evaluateSearch({ key: 'SUBJECT', value: 'berlin' }, c), true);
    assert.throws(() => evaluateSearch({ key: 'BODY', value: 'x' }, c));
  });
});

describe('ESEARCH results (RFC 4731, RFC 9394)', () => {
  test('compactSet merges runs', () => {
    assert.equal(compactSet([5, 1, 2, 3, 9, 10, 3]), '1:3,5,9:10');
    assert.equal(compactSet([]), '');
    assert.equal(compactSet([7]), '7');
    assert.equal(compactSet([4, 5, 1, 2], { keepOrder: true }), '4:5,1:2');
  });

  test('MIN MAX COUNT ALL', () => {
    assert.deepEqual(esearchResult([9, 2, 3, 4], ['MIN', 'MAX', 'COUNT', 'ALL']), [
      { atom: 'MIN' },
      2,
      { atom: 'MAX' },
      9,
      { atom: 'COUNT' },
      4,
      { atom: 'ALL' },
      { atom: '2:4,9' },
    ]);
  });

  test('RETURN () means ALL', () => {
    assert.deepEqual(esearchResult([1, 2], []), [{ atom: 'ALL' }, { atom: '1:2' }]);
  });

  test('no match: MIN, MAX and ALL are left out, COUNT is 0', () => {
    assert.deepEqual(esearchResult([], ['MIN', 'MAX', 'ALL', 'COUNT']), [{ atom: 'COUNT' }, 0]);
  });

  test('sorted results (ESORT) keep their order for MIN, MAX and ALL', () => {
    assert.deepEqual(esearchResult([5, 6, 1], ['MIN', 'MAX', 'ALL'], { sorted: true }), [
      { atom: 'MIN' },
      5,
      { atom: 'MAX' },
      1,
      { atom: 'ALL' },
      { atom: '5:6,1' },
    ]);
  });

  test('PARTIAL selects positive and negative ranges, NIL when empty', () => {
    const nums = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    assert.deepEqual(partialSlice(nums, { start: 1, end: 3 }), [1, 2, 3]);
    assert.deepEqual(partialSlice(nums, { start: -1, end: -3 }), [8, 9, 10]);
    assert.deepEqual(partialSlice(nums, { start: 9, end: 20 }), [9, 10]);
    assert.deepEqual(esearchResult(nums, [{ partial: { start: -1, end: -2 } }]), [{ atom: 'PARTIAL' }, [{ atom: '-1:-2' }, { atom: '9:10' }]]);
    assert.deepEqual(esearchResult(nums, [{ partial: { start: 20, end: 30 } }]), [{ atom: 'PARTIAL' }, [{ atom: '20:30' }, null]]);
  });

  test('SAVE keeps everything, or only MIN/MAX when given without ALL or COUNT', () => {
    assert.deepEqual(savedResult([3, 1, 2], ['SAVE']), [1, 2, 3]);
    assert.deepEqual(savedResult([3, 1, 2], ['SAVE', 'MIN', 'MAX']), [1, 3]);
    assert.deepEqual(savedResult([3, 1, 2], ['SAVE', 'MIN', 'COUNT']), [1, 2, 3]);
    assert.equal(savedResult([3], ['ALL']), null);
    assert.deepEqual(esearchResult([3], ['SAVE']), []);
  });

  test('SAVE with PARTIAL (RFC 9394 §3.2 table 1): the page, with MIN/MAX those too, with COUNT everything', () => {
    const nums = [10, 20, 30, 40, 50];
    const page = { partial: { start: 2, end: 3 } };
    assert.deepEqual(savedResult(nums, ['SAVE', page]), [20, 30]);
    assert.deepEqual(savedResult(nums, ['SAVE', page, 'MIN']), [10, 20, 30]);
    assert.deepEqual(savedResult(nums, ['SAVE', 'MAX', page]), [20, 30, 50]);
    assert.deepEqual(savedResult(nums, ['SAVE', 'MIN', 'MAX', page]), [10, 20, 30, 50]);
    assert.deepEqual(savedResult(nums, ['SAVE', page, 'COUNT']), nums);
    assert.deepEqual(savedResult(nums, ['SAVE', { partial: { start: 9, end: 12 } }]), []);
  });

  test('ESORT: the selected results follow the sort order, returned ascending', () => {
    const sorted = [40, 10, 50, 20];
    assert.deepEqual(selectedResults(sorted, ['MIN'], { sorted: true }), [40]);
    assert.deepEqual(selectedResults(sorted, ['MAX', { partial: { start: 1, end: 2 } }], { sorted: true }), [10, 20, 40]);
    assert.deepEqual(selectedResults(sorted, [{ partial: { start: -1, end: -2 } }], { sorted: true }), [20, 50]);
    assert.deepEqual(selectedResults(sorted, [], { sorted: true }), [10, 20, 40, 50]);
  });

  test('MODSEQ of a search is the highest of the messages returned (RFC 7162 §3.1.5, RFC 9394)', () => {
    const match = (uid: number, modseq: number): Match => ({ seq: uid, uid, record: { modseq } as MessageRecord });
    const matches = [match(1, 9), match(2, 3), match(3, 7), match(4, 5)];
    assert.equal(highestModseq(matches, undefined), 9);
    assert.equal(highestModseq(matches, ['MAX']), 5);
    assert.equal(highestModseq(matches, ['MIN', 'MAX']), 9);
    assert.equal(highestModseq(matches, [{ partial: { start: 2, end: 3 } }]), 7);
    assert.equal(highestModseq(matches, [{ partial: { start: 2, end: 3 } }, 'COUNT']), 9);
    assert.equal(highestModseq(matches, ['SAVE']), 9);
    // Sorted (ESORT): MIN is the first in sort order.
    assert.equal(highestModseq([match(4, 5), match(1, 9)], ['MIN'], { sorted: true }), 5);
  });
});
