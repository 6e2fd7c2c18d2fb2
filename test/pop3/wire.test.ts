import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DotStuffer, LineReader, errLine, multiLine, okLine, parseCommand, type ParseResult } from '../../src/pop3/wire.js';

/** Undo dot-stuffing the way a client does (RFC 1939 §3), for round trips. */
function unstuff(wire: Buffer): Buffer {
  const text = wire.toString('latin1');
  assert.ok(text.endsWith('\r\n.\r\n') || text === '.\r\n', 'response ends with CRLF.CRLF');
  const body = text === '.\r\n' ? '' : text.slice(0, -3);
  const lines = body.split('\r\n');
  lines.pop();
  return Buffer.from(lines.map((l) => (l.startsWith('.') ? l.slice(1) : l)).join('\r\n') + (lines.length ? '\r\n' : ''), 'latin1');
}

function stuffAll(input: Buffer, chunkSize: number, options: { bodyLines?: number } = {}): Buffer {
  const s = new DotStuffer(options);
  const out: Buffer[] = [];
  for (let i = 0; i < input.length && !s.done; i += chunkSize) out.push(s.transform(input.subarray(i, i + chunkSize)));
  out.push(s.end());
  return Buffer.concat(out);
}

describe('RFC 1939 §3 command syntax: line → typed command', () => {
  const cases: Array<[string, ParseResult | { bad: string }]> = [
    ['USER alice@example.com', { kind: 'USER', name: 'alice@example.com' }],
    ['user alice@example.com', { kind: 'USER', name: 'alice@example.com' }],
    ['PASS secret with spaces', { kind: 'PASS', password: 'secret with spaces' }],
    ['PASS  leading', { kind: 'PASS', password: ' leading' }],
    ['STAT', { kind: 'STAT' }],
    ['stat', { kind: 'STAT' }],
    ['LIST', { kind: 'LIST', message: null }],
    ['LIST 3', { kind: 'LIST', message: 3 }],
    ['UIDL', { kind: 'UIDL', message: null }],
    ['UIDL 12', { kind: 'UIDL', message: 12 }],
    ['RETR 1', { kind: 'RETR', message: 1 }],
    ['RETR 007', { kind: 'RETR', message: 7 }],
    ['DELE 2', { kind: 'DELE', message: 2 }],
    ['TOP 1 0', { kind: 'TOP', message: 1, lines: 0 }],
    ['TOP 1 10', { kind: 'TOP', message: 1, lines: 10 }],
    ['TOP 1 99999999999999999999', { kind: 'TOP', message: 1, lines: 2 ** 31 - 1 }],
    ['NOOP', { kind: 'NOOP' }],
    ['RSET', { kind: 'RSET' }],
    ['QUIT', { kind: 'QUIT' }],
    ['CAPA', { kind: 'CAPA' }],
    ['STLS', { kind: 'STLS' }],
    ['APOP alice 0123456789abcdef', { kind: 'APOP' }],
    ['AUTH', { kind: 'AUTH', mechanism: null, initialResponse: null }],
    ['AUTH plain', { kind: 'AUTH', mechanism: 'PLAIN', initialResponse: null }],
    ['AUTH PLAIN AGFsaWNlAHB3', { kind: 'AUTH', mechanism: 'PLAIN', initialResponse: 'AGFsaWNlAHB3' }],
    ['AUTH PLAIN =', { kind: 'AUTH', mechanism: 'PLAIN', initialResponse: '=' }],
    ['', { bad: 'empty command' }],
    ['HELO x', { bad: 'unknown command' }],
    ['RETRIEVE 1', { bad: 'unknown command' }],
    ['RE1R 1', { bad: 'unknown command' }],
    ['RETR', { bad: 'RETR takes 1 argument' }],
    ['RETR x', { bad: '"x" is not a message number' }],
    ['RETR -1', { bad: '"-1" is not a message number' }],
    ['RETR 1 2', { bad: 'RETR takes 1 argument' }],
    ['RETR 99999999999', { bad: '"99999999999" is not a message number' }],
    ['RETR 4294967295', { bad: 'message number out of range' }],
    ['LIST 1 2', { bad: 'LIST takes 0 to 1 arguments' }],
    ['STAT 1', { bad: 'STAT takes no arguments' }],
    ['TOP 1', { bad: 'TOP takes 2 arguments' }],
    ['TOP 1 -3', { bad: '"-3" is not a line count' }],
    ['USER', { bad: 'USER takes 1 argument' }],
    ['PASS', { bad: 'PASS needs a password' }],
    ['USER a\x00b', { bad: 'control characters in command' }],
    ['PASS a\tb', { bad: 'control characters in password' }],
    [`USER ${'a'.repeat(300)}`, { bad: 'argument too long' }],
    [`AUTH PLAIN ${'QUFB'.repeat(250)}`, { kind: 'AUTH', mechanism: 'PLAIN', initialResponse: 'QUFB'.repeat(250) }],
    [`AUTH PLAIN ${'QUFB'.repeat(1025)}`, { bad: 'argument too long' }],
    [`AUTH ${'X'.repeat(300)}`, { bad: 'argument too long' }],
  ];
  for (const [line, expected] of cases) {
    test(JSON.stringify(line.length > 60 ? line.slice(0, 60) + '…' : line), () => {
      const got = parseCommand(Buffer.from(line, 'utf8'));
      if ('bad' in expected) {
        assert.equal(got.kind, 'bad');
        assert.equal(got.kind === 'bad' ? got.reason : '', expected.bad);
      } else {
        assert.deepEqual(got, expected);
      }
    });
  }

  test('a line that is not UTF-8 is a bad command, not a crash', () => {
    const got = parseCommand(Buffer.from([0x55, 0x53, 0x45, 0x52, 0x20, 0xff, 0xfe]));
    assert.equal(got.kind, 'bad');
  });
});

describe('line reader: bounded lines, CRLF or LF', () => {
  test('splits CRLF and bare-LF lines across chunk boundaries', () => {
    const r = new LineReader(100);
    const events = [...r.push(Buffer.from('STAT\r\nLI')), ...r.push(Buffer.from('ST 1\r')), ...r.push(Buffer.from('\nNOOP\n'))];
    assert.deepEqual(
      events.map((e) => (e.kind === 'line' ? e.line.toString() : e.kind)),
      ['STAT', 'LIST 1', 'NOOP'],
    );
    assert.equal(r.buffered, 0);
  });

  test('a line of exactly the maximum passes; one octet more is too-long and skipped to its end', () => {
    const r = new LineReader(10);
    const events = r.push(Buffer.from('0123456789\r\n0123456789A\r\nNOOP\r\n'));
    assert.deepEqual(
      events.map((e) => (e.kind === 'line' ? e.line.toString() : e.kind)),
      ['0123456789', 'too-long', 'NOOP'],
    );
  });

  test('an endless line is reported once and never buffered beyond the bound', () => {
    const r = new LineReader(1000);
    const events = [];
    for (let i = 0; i < 100; i++) {
      events.push(...r.push(Buffer.alloc(10_000, 0x41)));
      assert.ok(r.buffered <= 1001);
    }
    events.push(...r.push(Buffer.from('\r\nQUIT\r\n')));
    assert.deepEqual(
      events.map((e) => (e.kind === 'line' ? e.line.toString() : e.kind)),
      ['too-long', 'QUIT'],
    );
  });

  test('clear() drops a partial line (STLS)', () => {
    const r = new LineReader(100);
    r.push(Buffer.from('USER ev'));
    r.clear();
    const events = r.push(Buffer.from('CAPA\r\n'));
    assert.deepEqual(events.map((e) => (e.kind === 'line' ? e.line.toString() : e.kind)), ['CAPA']);
  });
});

describe('RFC 1939 §3 / RFC 2449 §8 responses', () => {
  test('status lines', () => {
    assert.equal(okLine('2 320').toString(), '+OK 2 320\r\n');
    assert.equal(okLine().toString(), '+OK\r\n');
    assert.equal(errLine('maildrop locked', 'IN-USE').toString(), '-ERR [IN-USE] maildrop locked\r\n');
    assert.equal(errLine('no such message').toString(), '-ERR no such message\r\n');
    assert.equal(errLine('line\r\nbreak').toString(), '-ERR line break\r\n');
  });

  test('multi-line responses are dot-stuffed and end with "."', () => {
    assert.equal(multiLine('list', ['1 120', '.hidden', '2 200']).toString(), '+OK list\r\n1 120\r\n..hidden\r\n2 200\r\n.\r\n');
    assert.equal(multiLine('empty', []).toString(), '+OK empty\r\n.\r\n');
  });
});

describe('RFC 1939 §3 dot-stuffing as a streaming transform', () => {
  const cases: Array<[string, string, string]> = [
    ['plain CRLF message', 'A: b\r\n\r\nbody\r\n', 'A: b\r\n\r\nbody\r\n.\r\n'],
    ['leading dots doubled', '.\r\n..x\r\n.y\r\nz.\r\n', '..\r\n...x\r\n..y\r\nz.\r\n.\r\n'],
    ['LF-only lines become CRLF', 'A: b\n\nline1\n.dot\n', 'A: b\r\n\r\nline1\r\n..dot\r\n.\r\n'],
    ['mixed line ends', 'a\r\nb\nc\r\n', 'a\r\nb\r\nc\r\n.\r\n'],
    ['no final line end gets one', 'A: b\r\n\r\nlast', 'A: b\r\n\r\nlast\r\n.\r\n'],
    ['final bare CR gets its LF', 'A: b\r\n\r\nlast\r', 'A: b\r\n\r\nlast\r\n.\r\n'],
    ['empty message', '', '.\r\n'],
    ['message that is one dot line', '.', '..\r\n.\r\n'],
    ['the terminator sequence inside a body is stuffed', 'x\r\n.\r\ny\r\n', 'x\r\n..\r\ny\r\n.\r\n'],
  ];
  for (const [name, input, expected] of cases) {
    test(`${name} (every chunk size)`, () => {
      for (const size of [1, 2, 3, 5, 64]) {
        assert.equal(stuffAll(Buffer.from(input, 'latin1'), size).toString('latin1'), expected, `chunk size ${size}`);
      }
    });
  }

  test('round trip: unstuffing gives back the CRLF-normalised message (random bytes and chunking)', () => {
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = Buffer.from('..\r\n\n\rab. ');
    for (let round = 0; round < 200; round++) {
      const input = Buffer.alloc(rand(200), 0);
      for (let i = 0; i < input.length; i++) input[i] = alphabet[rand(alphabet.length)]!;
      const wire = stuffAll(input, 1 + rand(17));
      // Expected: every LF preceded by CR; a final unterminated line closed.
      let normal = input.toString('latin1').replace(/\r?\n/g, '\r\n');
      if (normal.length > 0 && !normal.endsWith('\r\n')) normal = normal.endsWith('\r') ? normal + '\n' : normal + '\r\n';
      assert.equal(unstuff(wire).toString('latin1'), normal, JSON.stringify(input.toString('latin1')));
      // No line of the wire form starts with a lone "." except the terminator.
      const lines = wire.toString('latin1').split('\r\n');
      assert.equal(lines.at(-1), '');
      assert.equal(lines.at(-2), '.');
      for (const l of lines.slice(0, -2)) assert.ok(!l.startsWith('.') || l.startsWith('..'), `unstuffed line ${JSON.stringify(l)}`);
    }
  });
});

describe('RFC 1939 §7 TOP: header, blank line, n body lines', () => {
  const message = 'Subject: x\r\nFrom: a@b\r\n\r\nline 1\r\n.line 2\r\nline 3\r\n';
  const cases: Array<[number, string]> = [
    [0, 'Subject: x\r\nFrom: a@b\r\n\r\n.\r\n'],
    [1, 'Subject: x\r\nFrom: a@b\r\n\r\nline 1\r\n.\r\n'],
    [2, 'Subject: x\r\nFrom: a@b\r\n\r\nline 1\r\n..line 2\r\n.\r\n'],
    [3, 'Subject: x\r\nFrom: a@b\r\n\r\nline 1\r\n..line 2\r\nline 3\r\n.\r\n'],
    [50, 'Subject: x\r\nFrom: a@b\r\n\r\nline 1\r\n..line 2\r\nline 3\r\n.\r\n'],
  ];
  for (const [n, expected] of cases) {
    test(`TOP n ${n}`, () => {
      for (const size of [1, 4, 7, 1000]) assert.equal(stuffAll(Buffer.from(message), size, { bodyLines: n }).toString(), expected, `chunk ${size}`);
    });
  }

  test('LF-only message: the blank line is found and lines counted', () => {
    assert.equal(stuffAll(Buffer.from('A: b\n\none\ntwo\n'), 3, { bodyLines: 1 }).toString(), 'A: b\r\n\r\none\r\n.\r\n');
  });

  test('a message without a body gives its whole header', () => {
    assert.equal(stuffAll(Buffer.from('A: b\r\nC: d'), 2, { bodyLines: 0 }).toString(), 'A: b\r\nC: d\r\n.\r\n');
  });

  test('done turns true once the lines are out, so the reader can stop reading', () => {
    const s = new DotStuffer({ bodyLines: 1 });
    s.transform(Buffer.from('A: b\r\n\r\nfirst\r\nsecond'));
    assert.equal(s.done, true);
    assert.equal(s.transform(Buffer.from('more\r\n')).length, 0);
  });
});
