// Fuzzing the IMAP command parser (src/imap/wire/parser.ts): random bytes, mutations of valid
// commands and chunked feeding. It must never throw, never loop (every next() call makes progress
// or asks for more), keep at most one line (plus the chunk just pushed) buffered, and give the
// same results however the bytes are split.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CommandParser } from '../../src/imap/wire/parser.js';
import { DEFAULT_LIMITS, type WireLimits } from '../../src/imap/wire/limits.js';
import type { ParseResult } from '../../src/imap/wire/types.js';
import { chunked, mutationArb, runProperty } from './budget.js';

/** Small limits, so random inputs reach every bound. */
const LIMITS: WireLimits = { ...DEFAULT_LIMITS, maxLineLength: 200, maxLiteralSize: 300, maxMessageSize: 2000, maxCommandSize: 5000, maxCommandText: 1000, maxLiterals: 4, maxNonSyncLiteral: 100, maxDepth: 8, maxItems: 50 };

const VALID = [
  'a1 CAPABILITY\r\n',
  'a2 LOGIN alice "pass word"\r\n',
  'a3 LOGIN {5}\r\nalice {4}\r\npass\r\n',
  'a4 SELECT INBOX (CONDSTORE)\r\n',
  'a5 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]<0.100> MODSEQ) (CHANGEDSINCE 5)\r\n',
  'a6 SEARCH OR (FROM "x" SUBJECT y) NOT (SEEN) LARGER 100 UID 1,3:5\r\n',
  'a7 APPEND INBOX (\\Seen) "01-Jan-2024 10:00:00 +0000" {12}\r\nSubject: x\r\n\r\n',
  'a8 APPEND INBOX {5+}\r\nhello\r\n',
  'a9 STORE 1:3 +FLAGS.SILENT (\\Deleted $Junk)\r\n',
  'b1 AUTHENTICATE PLAIN AGFsaWNlAHBhc3M=\r\n',
  'b2 IDLE\r\nDONE\r\n',
  'b3 LIST "" "*" RETURN (SPECIAL-USE STATUS (MESSAGES))\r\n',
  'b4 STATUS "Sent" (MESSAGES UIDNEXT HIGHESTMODSEQ)\r\n',
  'b5 UID MOVE 1:* Trash\r\n',
  'b6 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))\r\n',
  'b7 APPEND INBOX CATENATE (URL "/INBOX;UIDVALIDITY=1/;UID=2" TEXT {3}\r\nabc)\r\n',
  'b8 FETCH 1 BINARY[1.2]<0.10>\r\n',
  'b9 ID ("name" "x" "version" NIL)\r\n',
];
const TOKENS = ['\r\n', '\n', '\r', ' ', '{', '}', '{4}', '{99999999999}', '{3+}', '~{2}', '(', ')', '((((((((((', '"', '\\', '[', ']', '<', '>', '*', '%', 'NIL', '\x00', '\xff', 'UID', '1:*', '4294967296', 'DONE'];

interface Outcome {
  results: string[];
  steps: number;
}

/**
 * Feed the chunks in order, answering each need-literal with "go on" (or a refusal, by `refuse`),
 * and check the bounds after every step. Results are summarised without `consumed` (which
 * legitimately depends on how bytes were split).
 */
function feed(chunks: readonly Buffer[], options: { refuse?: (n: number) => boolean } = {}): Outcome {
  const parser = new CommandParser({ limits: LIMITS });
  const results: string[] = [];
  let steps = 0;
  let literals = 0;
  for (const chunk of chunks) {
    parser.push(chunk);
    for (let i = 0; ; i++) {
      assert.ok(i < 10_000, 'next() keeps returning results without consuming input (a loop)');
      const before = parser.buffered;
      const r: ParseResult = parser.next();
      steps++;
      if (r.kind === 'need-more') break;
      results.push(summary(r));
      if (r.kind === 'need-literal') {
        assert.ok(r.size <= LIMITS.maxMessageSize, 'a literal over every limit was announced');
        if (options.refuse?.(literals++)) parser.refuseLiteral();
      } else if (r.kind === 'bad' && r.close) {
        return { results, steps };
      }
      assert.ok(parser.buffered <= before, 'buffered bytes grew without a push');
    }
    // RFC 9051 §4: one bounded line in the buffer at most, plus the chunk just pushed.
    assert.ok(parser.buffered <= LIMITS.maxLineLength + 2 + chunk.length, `parser holds ${parser.buffered} bytes`);
  }
  return { results, steps };
}

function summary(r: ParseResult): string {
  switch (r.kind) {
    case 'command':
      return `command ${JSON.stringify(r.command, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`;
    case 'bad':
      return `bad ${r.tag} ${r.status} ${r.code ?? ''} ${r.close ? 'close' : ''} ${r.message}`;
    case 'need-literal':
      return `need-literal ${r.tag} ${r.size}`;
    default:
      return r.kind;
  }
}

describe('IMAP command parser under fuzzing', () => {
  test('random bytes, pushed in random chunks, never throw or loop and stay within one line of buffer', () => {
    runProperty(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.array(fc.nat(), { maxLength: 10 }), (bytes, cuts) => {
        feed(chunked(Buffer.from(bytes), cuts));
      }),
      { runs: 1500, maxMs: 4000 },
    );
  });

  test('mutated valid commands give the same results however they are split', () => {
    runProperty(
      fc.property(fc.array(mutationArb(VALID, TOKENS), { minLength: 1, maxLength: 4 }), fc.array(fc.nat(), { maxLength: 12 }), (commands, cuts) => {
        const bytes = Buffer.concat(commands);
        const whole = feed([bytes]);
        const split = feed(chunked(bytes, cuts));
        assert.deepEqual(split.results, whole.results);
        const byteByByte = feed([...bytes].map((b) => Buffer.from([b])));
        assert.deepEqual(byteByByte.results, whole.results);
      }),
      { runs: 1500, maxMs: 5000 },
    );
  });

  test('refusing announced literals at random resynchronises on the next line', () => {
    runProperty(
      fc.property(fc.array(mutationArb(VALID, TOKENS), { minLength: 1, maxLength: 5 }), fc.array(fc.boolean(), { maxLength: 8 }), (commands, refusals) => {
        feed([Buffer.concat(commands)], { refuse: (n) => refusals[n] ?? false });
      }),
      { runs: 1000, maxMs: 3000 },
    );
  });

  test('hostile shapes: huge announced literals, deep nesting, endless lines, many items', () => {
    const cases: Array<[string, Buffer]> = [
      ['1 GB synchronising literal', Buffer.from('a APPEND INBOX {1073741824}\r\n')],
      ['1 GB non-synchronising literal', Buffer.from('a APPEND INBOX {1073741824+}\r\n')],
      ['20-digit literal', Buffer.from('a APPEND INBOX {99999999999999999999}\r\n')],
      ['deep parentheses', Buffer.from(`a SEARCH ${'('.repeat(150)}ALL${')'.repeat(150)}\r\n`)],
      ['deep NOT', Buffer.from(`a SEARCH ${'NOT '.repeat(45)}ALL\r\n`)],
      ['endless line', Buffer.alloc(100_000, 0x41)],
      ['many items', Buffer.from(`a FETCH ${Array.from({ length: 60 }, (_, i) => i + 1).join(',')} FLAGS\r\n`)],
      ['literal inside a literal marker line', Buffer.from('a LOGIN {3}\r\n{3}\r\n{3}\r\n')],
    ];
    for (const [name, bytes] of cases) {
      const started = performance.now();
      const whole = feed([bytes]);
      const split = feed(chunked(bytes, [1, 7, 30, 150, 5000]));
      assert.deepEqual(split.results, whole.results, name);
      assert.ok(performance.now() - started < 2000, `${name} took too long`);
      if (name.includes('1 GB')) assert.ok(whole.results.every((r) => !r.startsWith('need-literal')), `${name}: a 1 GB literal must be refused before it is read`);
    }
  });
});
