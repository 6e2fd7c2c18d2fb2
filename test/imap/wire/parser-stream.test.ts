// The streaming side of the parser: chunking, literals (RFC 9051 §4.3, RFC 7888), limits,
// resynchronisation after errors, and the line mode used by IDLE and AUTHENTICATE.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { CommandParser, isIdleDone, parseAll, parseSaslResponse } from '../../../src/imap/wire/parser.js';
import { DEFAULT_LIMITS, LITERAL_MINUS_MAX, limitsFromConfig, type WireLimits } from '../../../src/imap/wire/limits.js';
import type { ParseResult } from '../../../src/imap/wire/types.js';

/** Feed `input` in the given chunk sizes, answering every need-literal; collect the results. */
function feed(input: Buffer, chunkSizes: (offset: number) => number, limits?: WireLimits): ParseResult[] {
  const parser = new CommandParser(limits ? { limits } : {});
  const results: ParseResult[] = [];
  for (let offset = 0; offset < input.length; ) {
    const size = Math.max(1, chunkSizes(offset));
    parser.push(input.subarray(offset, offset + size));
    offset += size;
    for (let r = parser.next(); r.kind !== 'need-more'; r = parser.next()) results.push(r);
  }
  return results;
}

const session = Buffer.concat([
  Buffer.from('A1 LOGIN {3}\r\njoe "se\\"cret"\r\n'),
  Buffer.from('A2 APPEND INBOX (\\Seen) " 1-Jan-2024 10:00:00 +0100" {12+}\r\nSubject: x\r\n ~{4}\r\n\0\x01\r\n CATENATE (TEXT {2}\r\nab URL "/x")\r\n'),
  Buffer.from('A3 BAD COMMAND {5+}\r\nA9 NO\r\n\r\n'),
  Buffer.from('A4 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS ({4}\r\nDate)]) (CHANGEDSINCE 3 VANISHED)\r\n'),
  Buffer.from('A5 SEARCH CHARSET UTF-8 TEXT {6}\r\nh\xc3\xa9llo\r\n'.replace(/./gs, (c) => c), 'latin1'),
  Buffer.from('A6 LOGOUT\r\n'),
]);

describe('IMAP command parser: streaming', () => {
  test('one byte at a time gives the same results as everything at once', () => {
    const whole = feed(session, () => session.length);
    const bytewise = feed(session, () => 1);
    assert.deepEqual(bytewise, whole);
    assert.deepEqual(
      whole.map((r) => (r.kind === 'command' ? r.command.tag : r.kind === 'bad' ? `bad ${r.tag}` : r.kind)),
      ['need-literal', 'A1', 'need-literal', 'need-literal', 'A2', 'bad A3', 'need-literal', 'A4', 'need-literal', 'A5', 'A6'],
    );
    const consumed = whole.reduce((n, r) => n + ('consumed' in r ? r.consumed : 0), 0);
    assert.equal(consumed, session.length);
  });

  test('a command split at every byte position parses the same', () => {
    const whole = feed(session, () => session.length);
    for (let split = 1; split < session.length; split++) {
      const results = feed(session, (offset) => (offset === 0 ? split : session.length));
      assert.deepEqual(results, whole, `split at ${split}`);
    }
  });

  test('random chunkings agree with the whole input', () => {
    const whole = feed(session, () => session.length);
    let seed = 7;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % 17) + 1;
    for (let i = 0; i < 50; i++) assert.deepEqual(feed(session, rand), whole);
  });

  test('a synchronising literal is announced with its size, tag and command before it is read', () => {
    const parser = new CommandParser();
    parser.push(Buffer.from('A1 APPEND INBOX {5}\r\n'));
    assert.deepEqual(parser.next(), { kind: 'need-literal', tag: 'A1', command: 'APPEND', size: 5, sync: true, binary: false });
    assert.deepEqual(parser.next(), { kind: 'need-more' });
    parser.push(Buffer.from('hel'));
    assert.deepEqual(parser.next(), { kind: 'need-more' });
    parser.push(Buffer.from('lo\r\n'));
    const result = parser.next();
    assert.equal(result.kind, 'command');
  });

  test('UID commands are named with their prefix in need-literal', () => {
    const [first] = parseAll('A1 UID SEARCH TEXT {3}\r\nabc\r\n');
    assert.deepEqual(first, { kind: 'need-literal', tag: 'A1', command: 'UID SEARCH', size: 3, sync: true, binary: false });
  });

  test('refuseLiteral drops the command; the next line is a new command', () => {
    const parser = new CommandParser();
    parser.push(Buffer.from('A1 APPEND Nowhere {5}\r\nA2 NOOP\r\n'));
    assert.equal(parser.next().kind, 'need-literal');
    parser.refuseLiteral();
    const next = parser.next();
    assert.deepEqual(next.kind === 'command' && next.command, { tag: 'A2', name: 'NOOP' });
    assert.throws(() => parser.refuseLiteral(), /without a pending literal/);
  });

  test('a malformed command is refused before its synchronising literal is asked for', () => {
    const results = parseAll('A1 FOO {5}\r\nA2 FETCH 1 {3}\r\nA3 NOOP\r\n');
    assert.deepEqual(
      results.map((r) => (r.kind === 'bad' ? ['bad', r.tag] : r.kind === 'command' ? ['command', r.command.tag] : [r.kind])),
      [['bad', 'A1'], ['bad', 'A2'], ['command', 'A3'], ['need-more']],
    );
  });

  test('a line ending in a literal marker where no literal may stand is refused at once', () => {
    for (const line of ['A1 SEARCH SUBJECT "abc {5}', 'A1 FETCH 1 (FLAGS {5}', 'A1 STORE 1 +FLAGS {5}']) {
      const [result] = parseAll(`${line}\r\n`);
      assert.equal(result?.kind === 'bad' && result.tag, 'A1', line);
    }
  });

  test('a non-synchronising literal of a bad command is skipped, never read as a command', () => {
    const results = parseAll('A1 FOO {11+}\r\nA9 LOGOUT\r\n {3+}\r\nabc\r\nA2 NOOP\r\n');
    assert.deepEqual(
      results.map((r) => (r.kind === 'bad' ? ['bad', r.tag, r.close ?? false] : r.kind === 'command' ? ['command', r.command.tag] : [r.kind])),
      [['bad', 'A1', false], ['command', 'A2'], ['need-more']],
    );
  });

  test('an APPEND literal over the message limit gets NO [TOOBIG] without reading it (RFC 7889)', () => {
    const limits = { ...DEFAULT_LIMITS, maxMessageSize: 100 };
    const line = 'A1 APPEND INBOX {101}\r\n';
    const results = parseAll(line + 'A2 NOOP\r\n', { limits });
    assert.deepEqual(results[0], { kind: 'bad', tag: 'A1', message: 'message too large', consumed: line.length, status: 'NO', code: 'TOOBIG' });
    assert.deepEqual(results[1]?.kind === 'command' && results[1].command, { tag: 'A2', name: 'NOOP' });
    const ok = parseAll('A1 APPEND INBOX {100}\r\n' + 'x'.repeat(100) + '\r\n', { limits });
    assert.equal(ok[1]?.kind, 'command');
  });

  test('a literal outside message data is bounded by maxLiteralSize', () => {
    const limits = { ...DEFAULT_LIMITS, maxLiteralSize: 10 };
    const [result] = parseAll('A1 LOGIN {11}\r\n', { limits });
    assert.equal(result?.kind === 'bad' && `${result.tag} ${result.status} ${result.code}`, 'A1 BAD TOOBIG');
  });

  test('LITERAL-: a non-synchronising literal over 4096 octets is BAD and closes (RFC 7888 §4)', () => {
    const line = `A1 APPEND INBOX {${LITERAL_MINUS_MAX + 1}+}\r\n`;
    const results = parseAll(line + 'x'.repeat(100));
    assert.deepEqual(results[0], { kind: 'bad', tag: 'A1', message: 'non-synchronizing literal too large', consumed: line.length, status: 'BAD', code: 'TOOBIG', close: true });
    assert.deepEqual(results.slice(1), [{ kind: 'need-more' }], 'nothing is read after a closing BAD');
    const fits = parseAll(`A1 APPEND INBOX {${LITERAL_MINUS_MAX}+}\r\n${'x'.repeat(LITERAL_MINUS_MAX)}\r\n`);
    assert.equal(fits[0]?.kind, 'command');
  });

  test('the number of literals in one command is bounded', () => {
    const limits = { ...DEFAULT_LIMITS, maxLiterals: 2 };
    const results = parseAll('A1 APPEND INBOX {1}\r\na {1}\r\nb {1}\r\nc\r\n', { limits });
    const bad = results.find((r) => r.kind === 'bad');
    assert.equal(bad?.kind === 'bad' && bad.code, 'LIMIT');
  });

  test('the whole command size is bounded across literals (MULTIAPPEND)', () => {
    const limits = { ...DEFAULT_LIMITS, maxCommandSize: 60 };
    const results = parseAll(`A1 APPEND INBOX {20}\r\n${'x'.repeat(20)} {20}\r\n`, { limits });
    const bad = results.find((r) => r.kind === 'bad');
    assert.equal(bad?.kind === 'bad' && `${bad.status} ${bad.code}`, 'NO TOOBIG');
  });

  test('a literal marker with an absurd size never lets its bytes be read as commands', () => {
    const huge = parseAll(`A1 LOGIN {${'9'.repeat(100)}+}\r\nA9 LOGOUT\r\n`);
    assert.deepEqual(huge.map((r) => (r.kind === 'bad' ? [r.tag, r.close] : [r.kind])), [['A1', true], ['need-more']]);
  });

  test('the text of one command is bounded across its lines and small literals', () => {
    const limits = { ...DEFAULT_LIMITS, maxCommandText: 200 };
    const input = 'A1 SEARCH' + ' OR SUBJECT {5+}\r\nhello'.repeat(20) + ' ALL ALL\r\nA2 NOOP\r\n';
    const results = parseAll(input, { limits }).filter((r) => r.kind !== 'need-more');
    assert.deepEqual(
      results.map((r) => (r.kind === 'bad' ? ['bad', r.tag, r.code] : r.kind === 'command' ? ['command', r.command.tag] : [r.kind])),
      [['bad', 'A1', 'TOOBIG'], ['command', 'A2']],
    );
    assert.equal(parseAll(input).filter((r) => r.kind === 'command').length, 2, 'fits the default limits');
  });

  test('a line over maxLineLength is refused and skipped to its end, also when it arrives in pieces', () => {
    const limits = { ...DEFAULT_LIMITS, maxLineLength: 100 };
    const input = Buffer.from(`A1 LOGIN ${'x'.repeat(300)} y\r\nA2 NOOP\r\n`);
    for (const chunk of [input.length, 7, 1]) {
      const results = feed(input, () => chunk, limits);
      assert.deepEqual(
        results.map((r) => (r.kind === 'bad' ? ['bad', r.tag, r.message] : r.kind === 'command' ? ['command', r.command.tag] : [r.kind])),
        [['bad', 'A1', 'line too long'], ['command', 'A2']],
        `chunk ${chunk}`,
      );
    }
  });

  test('an over-long line ending in a non-synchronising literal skips that literal too', () => {
    const limits = { ...DEFAULT_LIMITS, maxLineLength: 100 };
    const input = Buffer.from(`A1 LOGIN ${'x'.repeat(300)} {9+}\r\nA9 LOGOUT\r\nA2 NOOP\r\n`);
    for (const chunk of [input.length, 5]) {
      const results = feed(input, () => chunk, limits);
      assert.deepEqual(
        results.map((r) => (r.kind === 'bad' ? ['bad', r.tag] : r.kind === 'command' ? ['command', r.command.tag] : [r.kind])),
        [['bad', 'A1'], ['command', 'A2']],
      );
    }
  });

  test('a parser never holds more than about one line of unread command text', () => {
    const limits = { ...DEFAULT_LIMITS, maxLineLength: 1024 };
    const parser = new CommandParser({ limits });
    for (let i = 0; i < 100; i++) {
      parser.push(Buffer.alloc(1000, 0x61));
      assert.equal(parser.next().kind, 'need-more');
      assert.ok(parser.buffered <= 2 * 1024, `buffered ${parser.buffered}`);
    }
    parser.push(Buffer.from('\r\nA2 NOOP\r\n'));
    const bad = parser.next();
    assert.equal(bad.kind === 'bad' && bad.message, 'line too long');
  });

  test('empty lines between commands are ignored', () => {
    const results = parseAll('\r\n\r\nA1 NOOP\r\n');
    assert.equal(results[0]?.kind === 'command' && results[0].command.tag, 'A1');
  });

  test('expectLine reads IDLE\'s DONE through the same buffer, keeping pipelined commands', () => {
    const parser = new CommandParser();
    parser.push(Buffer.from('A1 IDLE\r\nDONE\r\nA2 NOOP\r\n'));
    const idle = parser.next();
    assert.deepEqual(idle.kind === 'command' && idle.command, { tag: 'A1', name: 'IDLE' });
    parser.expectLine();
    const done = parser.next();
    assert.deepEqual(done, { kind: 'line', line: 'DONE', consumed: 6 });
    assert.ok(done.kind === 'line' && isIdleDone(done.line));
    const next = parser.next();
    assert.deepEqual(next.kind === 'command' && next.command, { tag: 'A2', name: 'NOOP' });
  });

  test('expectLine reads AUTHENTICATE responses, and the cancel "*"', () => {
    const parser = new CommandParser();
    parser.push(Buffer.from('A1 AUTHENTICATE PLAIN\r\nAGpvZQBzZWNyZXQ=\r\n*\r\n'));
    assert.equal(parser.next().kind, 'command');
    parser.expectLine();
    const data = parser.next();
    assert.deepEqual(data.kind === 'line' && parseSaslResponse(data.line), { kind: 'data', data: Buffer.from('\0joe\0secret') });
    parser.expectLine();
    const cancel = parser.next();
    assert.deepEqual(cancel.kind === 'line' && parseSaslResponse(cancel.line), { kind: 'cancel' });
    assert.deepEqual(parseSaslResponse('not base64!'), { kind: 'bad', message: 'invalid base64' });
    assert.throws(() => {
      const p = new CommandParser();
      p.push(Buffer.from('A1 LOGIN {1}\r\n'));
      p.next();
      p.expectLine();
    }, /middle of a command/);
  });

  test('drain hands back unread bytes (STARTTLS discards them, COMPRESS inflates them)', () => {
    const parser = new CommandParser();
    parser.push(Buffer.from('A1 STARTTLS\r\nA2 LOGIN injected x\r\n'));
    assert.equal(parser.next().kind, 'command');
    assert.equal(parser.drain().toString(), 'A2 LOGIN injected x\r\n');
    assert.deepEqual(parser.next(), { kind: 'need-more' });
  });

  test('limitsFromConfig takes the line and message sizes from Config.limits', () => {
    const limits = limitsFromConfig({ limits: { max_message_size: 1000, max_line_length: 2048, max_connections_per_address: 1, max_connections_per_account: 1, max_bad_commands: 1, max_commands_before_login: 1, max_recipients: 1 } });
    assert.equal(limits.maxMessageSize, 1000);
    assert.equal(limits.maxLineLength, 2048);
    assert.ok(limits.maxCommandSize >= 2 * 1000);
  });
});
