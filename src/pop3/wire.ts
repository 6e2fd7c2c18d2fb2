// POP3 wire format, no I/O: command lines → typed commands, responses → bytes, and the streaming
// dot-stuffing transform for multi-line responses (RFC 1939 §3). Every line and argument is
// bounded (limits.ts); bad input yields a `Bad` value, never an exception.
import { MAX_ARGUMENT_LENGTH, MAX_INITIAL_RESPONSE_LENGTH, MAX_KEYWORD_LENGTH, MAX_MESSAGE_NUMBER, MAX_TOP_LINES } from './limits.js';

export type Pop3Command =
  | { kind: 'USER'; name: string }
  | { kind: 'PASS'; password: string }
  | { kind: 'APOP' }
  /** RFC 5034 §4: `AUTH mechanism [initial-response]`; bare `AUTH` lists mechanisms (common extension). */
  | { kind: 'AUTH'; mechanism: string | null; initialResponse: string | null }
  | { kind: 'CAPA' }
  | { kind: 'STLS' }
  | { kind: 'QUIT' }
  | { kind: 'STAT' }
  | { kind: 'NOOP' }
  | { kind: 'RSET' }
  | { kind: 'LIST'; message: number | null }
  | { kind: 'UIDL'; message: number | null }
  | { kind: 'RETR'; message: number }
  | { kind: 'DELE'; message: number }
  | { kind: 'TOP'; message: number; lines: number };

export type Pop3Keyword = Pop3Command['kind'];

export interface Bad {
  kind: 'bad';
  /** Upper-cased keyword as sent ('' when none could be read). */
  keyword: string;
  reason: string;
}

export type ParseResult = Pop3Command | Bad;

const NUMBER = /^[0-9]{1,10}$/;
// RFC 1939 §3: printable ASCII arguments; UTF-8 above 0x7F is let through for user names/passwords.
const CONTROL = /[\x00-\x1f\x7f]/;

function bad(keyword: string, reason: string): Bad {
  return { kind: 'bad', keyword, reason };
}

function messageNumber(keyword: string, arg: string): number | Bad {
  if (!NUMBER.test(arg)) return bad(keyword, `"${arg.slice(0, 20)}" is not a message number`);
  const n = Number(arg);
  if (n > MAX_MESSAGE_NUMBER) return bad(keyword, 'message number out of range');
  return n;
}

/** Parse one command line (without its CRLF). RFC 1939 §3: keyword, then arguments separated by
 * single spaces; keywords are case-insensitive. Spaces are accepted generously. */
export function parseCommand(line: Buffer | string): ParseResult {
  const text = typeof line === 'string' ? line : line.toString('utf8');
  if (text.includes('\uFFFD')) return bad('', 'command line is not valid UTF-8');
  const space = text.indexOf(' ');
  const rawKeyword = space === -1 ? text : text.slice(0, space);
  const keyword = rawKeyword.toUpperCase();
  if (keyword.length === 0) return bad('', 'empty command');
  if (keyword.length > MAX_KEYWORD_LENGTH || !/^[A-Z]+$/.test(keyword)) return bad(keyword.slice(0, 8), 'unknown command');
  const rest = space === -1 ? '' : text.slice(space + 1);

  // RFC 1939 §7: the PASS argument is the rest of the line (passwords may hold spaces).
  if (keyword === 'PASS') {
    if (rest.length === 0) return bad(keyword, 'PASS needs a password');
    if (rest.length > MAX_ARGUMENT_LENGTH) return bad(keyword, 'password too long');
    if (CONTROL.test(rest)) return bad(keyword, 'control characters in password');
    return { kind: 'PASS', password: rest };
  }

  if (CONTROL.test(rest)) return bad(keyword, 'control characters in command');
  const args = rest.split(' ').filter((a) => a.length > 0);
  const longest = (i: number): number => (keyword === 'AUTH' && i === 1 ? MAX_INITIAL_RESPONSE_LENGTH : MAX_ARGUMENT_LENGTH);
  if (args.some((a, i) => a.length > longest(i))) return bad(keyword, 'argument too long');
  const count = (min: number, max: number): Bad | null =>
    args.length < min || args.length > max
      ? bad(keyword, min === max ? `${keyword} takes ${min === 0 ? 'no' : min} argument${min === 1 ? '' : 's'}` : `${keyword} takes ${min} to ${max} arguments`)
      : null;

  switch (keyword) {
    case 'CAPA':
    case 'STLS':
    case 'QUIT':
    case 'STAT':
    case 'NOOP':
    case 'RSET':
      return count(0, 0) ?? { kind: keyword };
    case 'APOP':
      return { kind: 'APOP' };
    case 'USER':
      return count(1, 1) ?? { kind: 'USER', name: args[0]! };
    case 'AUTH':
      return (
        count(0, 2) ?? {
          kind: 'AUTH',
          mechanism: args[0] === undefined ? null : args[0].toUpperCase(),
          initialResponse: args[1] ?? null,
        }
      );
    case 'LIST':
    case 'UIDL': {
      const wrong = count(0, 1);
      if (wrong) return wrong;
      if (args.length === 0) return { kind: keyword, message: null };
      const n = messageNumber(keyword, args[0]!);
      return typeof n === 'number' ? { kind: keyword, message: n } : n;
    }
    case 'RETR':
    case 'DELE': {
      const wrong = count(1, 1);
      if (wrong) return wrong;
      const n = messageNumber(keyword, args[0]!);
      return typeof n === 'number' ? { kind: keyword, message: n } : n;
    }
    case 'TOP': {
      const wrong = count(2, 2);
      if (wrong) return wrong;
      const n = messageNumber(keyword, args[0]!);
      if (typeof n !== 'number') return n;
      // RFC 1939 §7: "a non-negative number of lines"; a huge count means the whole body.
      if (!/^[0-9]+$/.test(args[1]!)) return bad(keyword, `"${args[1]!.slice(0, 20)}" is not a line count`);
      const lines = args[1]!.length > 10 ? MAX_TOP_LINES : Math.min(Number(args[1]), MAX_TOP_LINES);
      return { kind: 'TOP', message: n, lines };
    }
    default:
      return bad(keyword, 'unknown command');
  }
}

export type LineEvent = { kind: 'line'; line: Buffer } | { kind: 'too-long' };

/**
 * Splits a byte stream into lines (CRLF, or a bare LF, accepted), at most `maxLength` octets each
 * without the line end. A longer line yields one `too-long` event and is skipped up to its end.
 */
export class LineReader {
  readonly maxLength: number;
  #parts: Buffer[] = [];
  #length = 0;
  #discarding = false;

  constructor(maxLength: number) {
    this.maxLength = maxLength;
  }

  /** Bytes held for an unfinished line. */
  get buffered(): number {
    return this.#length;
  }

  /** Forget any partial line (STLS: nothing sent before the handshake survives it). */
  clear(): void {
    this.#parts = [];
    this.#length = 0;
    this.#discarding = false;
  }

  push(chunk: Buffer): LineEvent[] {
    const events: LineEvent[] = [];
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(0x0a, start);
      const end = lf === -1 ? chunk.length : lf;
      if (!this.#discarding) {
        const piece = chunk.subarray(start, end);
        // +1: a CR before the LF does not count against the bound (checked again at the line end).
        if (this.#length + piece.length > this.maxLength + 1) {
          events.push({ kind: 'too-long' });
          this.#parts = [];
          this.#length = 0;
          this.#discarding = true;
        } else if (piece.length > 0) {
          this.#parts.push(Buffer.from(piece));
          this.#length += piece.length;
        }
      }
      if (lf === -1) break;
      if (this.#discarding) {
        this.#discarding = false;
      } else {
        let line = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#length);
        if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
        if (line.length > this.maxLength) events.push({ kind: 'too-long' });
        else events.push({ kind: 'line', line });
      }
      this.#parts = [];
      this.#length = 0;
      start = lf + 1;
    }
    return events;
  }
}

/** RFC 2449 §8 response codes (plus RFC 3206 AUTH, SYS/TEMP, SYS/PERM). */
export type ResponseCode = 'IN-USE' | 'LOGIN-DELAY' | 'AUTH' | 'SYS/TEMP' | 'SYS/PERM';

function clean(text: string): string {
  // A response line never carries a line break of its own.
  return text.replace(/[\r\n]+/g, ' ');
}

export function okLine(text = ''): Buffer {
  return Buffer.from(text ? `+OK ${clean(text)}\r\n` : '+OK\r\n', 'utf8');
}

export function errLine(text: string, code?: ResponseCode): Buffer {
  return Buffer.from(`-ERR ${code ? `[${code}] ` : ''}${clean(text)}\r\n`, 'utf8');
}

/** RFC 5034 §4: a server challenge ("+ " then base64, may be empty). */
export function continuationLine(base64 = ''): Buffer {
  return Buffer.from(`+ ${base64}\r\n`, 'latin1');
}

/** A complete multi-line response: status line, dot-stuffed lines, terminating ".". */
export function multiLine(status: string, lines: readonly string[]): Buffer {
  const body = lines.map((l) => `${l.startsWith('.') ? '.' : ''}${clean(l)}\r\n`).join('');
  return Buffer.from(`+OK ${clean(status)}\r\n${body}.\r\n`, 'utf8');
}

const CRLF = Buffer.from('\r\n');
const LF = Buffer.from('\n');
const DOT = Buffer.from('.');
const TERMINATOR = Buffer.from('.\r\n');

/**
 * The body of a RETR/TOP response as a streaming transform (RFC 1939 §3): every line end leaves as
 * CRLF (stored LF-only lines too), a line starting with "." gets one more, and `end()` closes the
 * response with ".". With `bodyLines` (TOP, RFC 1939 §7) only the header, the blank line and that
 * many body lines pass; `done` turns true once nothing more is wanted, so the reader can stop.
 * Memory: one output buffer per input chunk, nothing kept between chunks but a few flags.
 */
export class DotStuffer {
  #atLineStart = true;
  #prevCR = false;
  /** Octets in the current line so far (CR included), to recognise the header's blank line. */
  #lineLength = 0;
  #inHeader = true;
  #bodyLinesLeft: number;
  #limited: boolean;
  #done = false;

  constructor(options: { bodyLines?: number } = {}) {
    this.#limited = options.bodyLines !== undefined;
    this.#bodyLinesLeft = options.bodyLines ?? 0;
    if (this.#limited && this.#bodyLinesLeft === 0) this.#checkDone();
  }

  get done(): boolean {
    return this.#done;
  }

  #checkDone(): void {
    if (this.#limited && !this.#inHeader && this.#bodyLinesLeft <= 0) this.#done = true;
  }

  transform(chunk: Buffer): Buffer {
    if (this.#done || chunk.length === 0) return Buffer.alloc(0);
    const out: Buffer[] = [];
    let start = 0;
    let i = 0;
    while (i < chunk.length) {
      if (this.#atLineStart) {
        this.#atLineStart = false;
        this.#lineLength = 0;
        if (chunk[i] === 0x2e) {
          out.push(chunk.subarray(start, i), DOT);
          start = i;
        }
      }
      const lf = chunk.indexOf(0x0a, i);
      if (lf === -1) {
        this.#lineLength += chunk.length - i;
        this.#prevCR = chunk[chunk.length - 1] === 0x0d;
        i = chunk.length;
        break;
      }
      const hasCR = lf > i ? chunk[lf - 1] === 0x0d : this.#prevCR;
      this.#lineLength += lf - i;
      if (hasCR) {
        i = lf + 1;
      } else {
        out.push(chunk.subarray(start, lf), CRLF);
        start = lf + 1;
        i = lf + 1;
      }
      this.#prevCR = false;
      this.#atLineStart = true;
      // The line just ended: was it the blank line closing the header, or a counted body line?
      const empty = this.#lineLength === 0 || (this.#lineLength === 1 && hasCR);
      if (this.#inHeader) {
        if (empty) this.#inHeader = false;
      } else if (this.#limited) {
        this.#bodyLinesLeft--;
      }
      this.#checkDone();
      if (this.#done) {
        out.push(chunk.subarray(start, i));
        return Buffer.concat(out);
      }
    }
    out.push(chunk.subarray(start, i));
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** The bytes that close the response: a line end if the message lacked a final one, then ".". */
  end(): Buffer {
    if (this.#atLineStart) return TERMINATOR;
    // A message ending in a bare CR gets its LF; one ending mid-line gets a CRLF.
    return Buffer.concat([this.#prevCR ? LF : CRLF, TERMINATOR]);
  }
}
