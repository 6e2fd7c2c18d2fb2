import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseDate } from '../../src/mail/date.js';

describe('parseDate (RFC 5322 §3.3, §4.3)', () => {
  const cases: Array<[string, number | null]> = [
    ['Mon, 2 Jan 2006 15:04:05 -0700', Date.UTC(2006, 0, 2, 22, 4, 5)],
    ['2 Jan 2006 15:04:05 +0000', Date.UTC(2006, 0, 2, 15, 4, 5)],
    ['Mon, 02 Jan 2006 15:04 +0100', Date.UTC(2006, 0, 2, 14, 4, 0)],
    ['Mon, 2 Jan 06 15:04:05 GMT', Date.UTC(2006, 0, 2, 15, 4, 5)],
    ['Sat, 1 Jan 99 00:00:00 UT', Date.UTC(1999, 0, 1)],
    ['1 Jan 103 00:00:00 +0000', Date.UTC(2003, 0, 1)],
    ['Mon, 2 Jan 2006 15:04:05 EST', Date.UTC(2006, 0, 2, 20, 4, 5)],
    ['Mon, 2 Jan 2006 15:04:05 PDT', Date.UTC(2006, 0, 2, 22, 4, 5)],
    ['Mon, 2 Jan 2006 15:04:05 Z', Date.UTC(2006, 0, 2, 15, 4, 5)],
    ['Mon, 2 Jan 2006 15:04:05 A', Date.UTC(2006, 0, 2, 15, 4, 5)],
    ['Mon, 2 Jan 2006 15:04:05 -0700 (MST)', Date.UTC(2006, 0, 2, 22, 4, 5)],
    ['Mon (day), 2 (two) Jan 2006 15:04:05 +0000', Date.UTC(2006, 0, 2, 15, 4, 5)],
    ['Monday, 2 January 2006 15:04:05 +0000', Date.UTC(2006, 0, 2, 15, 4, 5)],
    ['Mon Jan  2 15:04:05 2006', Date.UTC(2006, 0, 2, 15, 4, 5)],
    ['2 Jan 2006', Date.UTC(2006, 0, 2)],
    ['2006-01-02T15:04:05+01:00', Date.UTC(2006, 0, 2, 14, 4, 5)],
    ['Tue, 31 Feb 2006 10:00:00 +0000', null],
    ['Mon, 2 Jan 2006 25:04:05 +0000', null],
    ['yesterday', null],
    ['', null],
  ];
  for (const [input, expected] of cases) {
    test(JSON.stringify(input), () => assert.equal(parseDate(input), expected));
  }
});
