// LIST pattern matching (RFC 9051 §6.3.9): `*`, `%`, reference concatenation, INBOX in any case,
// and hostile patterns answered in linear time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { patternMatcher } from '../../src/imap/commands/list.js';

const cases: Array<[string, string, string, boolean]> = [
  ['', '*', 'Work/Clients/Acme', true],
  ['', '%', 'Work', true],
  ['', '%', 'Work/Clients', false],
  ['', 'Work/%', 'Work/Clients', true],
  ['', 'Work/%', 'Work/Clients/Acme', false],
  ['Work/', '*', 'Work/Clients/Acme', true],
  ['Work/', '%', 'Work/Clients', true],
  ['', 'W*s', 'Work/Clients', true],
  ['', 'W%s', 'Work/Clients', false],
  ['', 'inbox', 'INBOX', true],
  ['', 'InBox/%', 'INBOX/Sub', true],
  ['', 'Inboxes', 'INBOX', false],
  ['', 'Sent', 'Sent', true],
  ['', 'Sent', 'sent', false],
  ['', '', 'INBOX', false],
  ['', '%/%', 'a/b', true],
  ['', '*%*', 'anything/at/all', true],
];

test('LIST patterns match names as RFC 9051 §6.3.9 describes', () => {
  for (const [reference, pattern, name, expected] of cases) {
    assert.equal(patternMatcher(reference, pattern)(name), expected, `${JSON.stringify(reference + pattern)} vs ${name}`);
  }
});

test('a hostile LIST pattern is matched without backtracking blow-up', () => {
  const pattern = '*a'.repeat(40) + 'b';
  const name = 'a'.repeat(1000);
  const started = process.hrtime.bigint();
  assert.equal(patternMatcher('', pattern)(name), false);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  assert.ok(ms < 500, `took ${ms} ms`);
});
