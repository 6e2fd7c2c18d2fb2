// The encoder and the parser agree: whatever the server writes (strings, mailbox names, sequence
// sets, date-times, fetch item names) the parser reads back as the same value.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import { encodeValue, fetchItemName, formatDateTime, formatSequenceSet } from '../../../src/imap/wire/encoder.js';
import { parseAll } from '../../../src/imap/wire/parser.js';
import type { Command, FetchAttribute, SequenceSet } from '../../../src/imap/wire/types.js';

function parseCommand(input: Buffer, utf8 = false): Command {
  const results = parseAll(input, { utf8 }).filter((r) => r.kind !== 'need-more' && r.kind !== 'need-literal');
  const [result] = results;
  if (results.length !== 1 || result?.kind !== 'command') assert.fail(`expected one command from ${JSON.stringify(input.toString('latin1'))}: ${JSON.stringify(results)}`);
  return result.command;
}

const line = (...parts: Array<string | Buffer>): Buffer => Buffer.concat([...parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : p)), Buffer.from('\r\n')]);

/** Unicode strings without lone surrogates (those cannot be sent as UTF-8). */
const text = fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => Buffer.from(s, 'utf8').toString('utf8') === s);

describe('encoder ⇄ parser round trips', () => {
  test('any string the encoder writes is read back by the parser as the same string', () => {
    fc.assert(
      fc.property(text, text, fc.boolean(), (user, pass, utf8) => {
        const command = parseCommand(line('A1 LOGIN ', encodeValue(user, { utf8 }), ' ', encodeValue(pass, { utf8 })));
        assert.deepEqual(command, { tag: 'A1', name: 'LOGIN', username: user, password: pass });
      }),
      { numRuns: 300 },
    );
  });

  test('any mailbox name survives encoding, with and without UTF8=ACCEPT', () => {
    fc.assert(
      fc.property(text, fc.boolean(), (name, utf8) => {
        const command = parseCommand(line('A1 SELECT ', encodeValue({ mailbox: name }, { utf8 })), utf8);
        const expected = name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
        assert.deepEqual(command, { tag: 'A1', name: 'SELECT', mailbox: expected, condstore: false });
      }),
      { numRuns: 300 },
    );
  });

  test('sequence sets survive formatting', () => {
    const seq = fc.oneof(fc.integer({ min: 1, max: 0xffffffff }), fc.constant('*' as const));
    const set: fc.Arbitrary<SequenceSet> = fc.oneof(
      fc.array(fc.tuple(seq, seq).map(([start, end]) => ({ start, end })), { minLength: 1, maxLength: 20 }).map((ranges) => ({ ranges })),
      fc.constant({ saved: true as const }),
    );
    fc.assert(
      fc.property(set, fc.boolean(), (s, uid) => {
        const command = parseCommand(line(`A1 ${uid ? 'UID ' : ''}FETCH ${formatSequenceSet(s)} FLAGS`));
        assert.deepEqual(command, { tag: 'A1', name: 'FETCH', uid, set: s, attributes: [{ kind: 'FLAGS' }], vanished: false });
      }),
    );
  });

  test('date-times survive formatting (APPEND of an INTERNALDATE)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253402300799 }), fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }), (seconds, offsetMinutes) => {
        const time = seconds * 1000;
        // A date-time whose local year is before 1970 or after 9999 cannot be written with 4 digits.
        const local = new Date(time + offsetMinutes * 60_000).getUTCFullYear();
        fc.pre(local >= 1970 && local <= 9999);
        const command = parseCommand(line(`A1 APPEND INBOX "${formatDateTime(time, offsetMinutes)}" {1}`, '\r\nx'));
        assert.ok(command.name === 'APPEND');
        assert.deepEqual(command.messages[0]?.internalDate, { time, offsetMinutes });
      }),
    );
  });

  test('fetch item names as the encoder writes them parse back to the same item', () => {
    const part = fc.array(fc.integer({ min: 1, max: 99 }), { maxLength: 4 });
    const field = fc.oneof(fc.constantFrom('From', 'To', 'Subject', 'X-Spam'), fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 8 }).filter((s) => !/[\r\n\0]/.test(s)));
    const attr: fc.Arbitrary<FetchAttribute> = fc.oneof(
      fc.constantFrom<FetchAttribute>({ kind: 'ENVELOPE' }, { kind: 'FLAGS' }, { kind: 'UID' }, { kind: 'BODYSTRUCTURE' }, { kind: 'RFC822.SIZE' }, { kind: 'MODSEQ' }),
      part.map((p): FetchAttribute => ({ kind: 'BODY[]', section: { part: p }, peek: false })),
      fc.tuple(part, fc.constantFrom('HEADER' as const, 'TEXT' as const)).map(([p, t]): FetchAttribute => ({ kind: 'BODY[]', section: { part: p, text: t }, peek: false })),
      fc.tuple(part, fc.array(field, { minLength: 1, maxLength: 3 }), fc.boolean()).map(([p, fields, not]): FetchAttribute => ({ kind: 'BODY[]', section: { part: p, text: not ? 'HEADER.FIELDS.NOT' : 'HEADER.FIELDS', fields }, peek: false })),
      part.map((p): FetchAttribute => ({ kind: 'BINARY', part: p, peek: false })),
      part.map((p): FetchAttribute => ({ kind: 'BINARY.SIZE', part: p })),
    );
    fc.assert(
      fc.property(attr, (a) => {
        const command = parseCommand(line(`A1 FETCH 1 (${fetchItemName(a)})`));
        assert.deepEqual(command.name === 'FETCH' && command.attributes, [a]);
      }),
      { numRuns: 300 },
    );
  });
});
