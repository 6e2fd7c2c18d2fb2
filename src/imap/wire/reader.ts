// Token reader over one framed IMAP command: its line segments (CRLF removed) and the literals
// between them (RFC 9051 §4.3). Literal markers stay at the end of their line segment; reading one
// steps into the literal's bytes and then onto the next segment. Used by grammar.ts.
//
// A frame may be incomplete (the client has announced a literal we have not asked for yet): reading
// the announced literal then throws Incomplete with its size and purpose, which is how the parser
// validates a command up to a literal before answering "+ Ready" (so nothing malformed is read).

import { decodeMutf7, Mutf7Error } from './mutf7.js';
import type { WireLimits } from './limits.js';
import type { ImapDate, ImapDateTime, SeqNumber, SeqRange, SequenceSet } from './types.js';

/** A malformed command; the message is safe to show to the client. */
export class WireSyntaxError extends Error {
  override name = 'WireSyntaxError';
}

/** What a literal is for: message data (APPEND, CATENATE TEXT) has its own size limit. */
export type LiteralPurpose = 'message' | 'other';

export interface PendingLiteral {
  size: number;
  sync: boolean;
  binary: boolean;
  purpose: LiteralPurpose;
}

/** Thrown when the grammar needs bytes the frame does not hold yet. */
export class Incomplete extends Error {
  override name = 'Incomplete';
  readonly literal: PendingLiteral | null;
  constructor(literal: PendingLiteral | null) {
    super('incomplete command');
    this.literal = literal;
  }
}

export interface ReaderOptions {
  utf8: boolean;
  limits: WireLimits;
}

const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const LPAREN = 0x28;
const RPAREN = 0x29;

// RFC 9051 §9: atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials / resp-specials
const ATOM_SPECIALS = new Set([0x28, 0x29, 0x7b, 0x20, 0x25, 0x2a, 0x22, 0x5c, 0x5d]);

export function isAtomChar(b: number): boolean {
  return b > 0x20 && b < 0x7f && !ATOM_SPECIALS.has(b);
}
/** ASTRING-CHAR = ATOM-CHAR / resp-specials. */
export function isAstringChar(b: number): boolean {
  return isAtomChar(b) || b === 0x5d;
}
/** list-char = ATOM-CHAR / list-wildcards / resp-specials. */
function isListChar(b: number): boolean {
  return isAstringChar(b) || b === 0x25 || b === 0x2a;
}
function isDigit(b: number): boolean {
  return b >= 0x30 && b <= 0x39;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const SYSTEM_FLAGS = new Map(['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'].map((f) => [f.toLowerCase(), f]));

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

export interface LiteralMarker {
  /** Where the marker starts in the text. */
  index: number;
  /** Octets announced; an absurd digit string gives a huge number, refused by every limit. */
  size: number;
  sync: boolean;
  binary: boolean;
}

/**
 * The literal marker that ends `text`, if any (RFC 9051 §9 literal `{n}`, RFC 7888 `{n+}`,
 * RFC 3516 literal8 `~{n}`). Scans backwards from the end, so it costs O(marker length).
 */
export function literalMarker(text: string): LiteralMarker | null {
  let p = text.length - 1;
  if (p < 0 || text[p] !== '}') return null;
  p--;
  const sync = text[p] !== '+';
  if (!sync) p--;
  const digitsEnd = p + 1;
  while (p >= 0 && (text.charCodeAt(p) >= 0x30 && text.charCodeAt(p) <= 0x39)) p--;
  if (p < 0 || p + 1 === digitsEnd || text[p] !== '{') return null;
  const size = Number(text.slice(p + 1, digitsEnd));
  const binary = p > 0 && text[p - 1] === '~';
  return { index: binary ? p - 1 : p, size, sync, binary };
}

export class Reader {
  readonly #lines: Buffer[];
  readonly #literals: Buffer[];
  readonly #final: boolean;
  readonly utf8: boolean;
  readonly limits: WireLimits;
  #li = 0;
  #pos = 0;
  #depth = 0;

  constructor(lines: Buffer[], literals: Buffer[], options: ReaderOptions & { final: boolean }) {
    this.#lines = lines;
    this.#literals = literals;
    this.#final = options.final;
    this.utf8 = options.utf8;
    this.limits = options.limits;
  }

  get #line(): Buffer {
    return this.#lines[this.#li] as Buffer;
  }

  /** Fails with a syntax error, or Incomplete when the error is only the end of the available input. */
  fail(message: string): never {
    if (!this.#final && this.#li === this.#lines.length - 1 && this.#pos >= this.#line.length) throw new Incomplete(null);
    throw new WireSyntaxError(message);
  }

  /** The next byte of the current line segment, or -1 at its end. */
  peek(offset = 0): number {
    const line = this.#line;
    const at = this.#pos + offset;
    return at < line.length ? (line[at] as number) : -1;
  }

  /** True at the end of the whole command. */
  atEnd(): boolean {
    if (this.#pos < this.#line.length || this.#li < this.#lines.length - 1) return false;
    if (!this.#final) throw new Incomplete(null);
    return true;
  }

  end(): void {
    if (!this.atEnd()) this.fail('unexpected characters at end of command');
  }

  mark(): [number, number] {
    return [this.#li, this.#pos];
  }

  reset(mark: [number, number]): void {
    [this.#li, this.#pos] = mark;
  }

  expect(byte: number, what: string): void {
    if (this.peek() !== byte) this.fail(`expected ${what}`);
    this.#pos++;
  }

  /** Consume `byte` if it is next. */
  accept(byte: number): boolean {
    if (this.peek() !== byte) return false;
    this.#pos++;
    return true;
  }

  sp(): void {
    this.expect(SP, 'a space');
  }

  open(): void {
    this.expect(LPAREN, '"("');
    if (++this.#depth > this.limits.maxDepth) throw new WireSyntaxError('parentheses nested too deeply');
  }

  close(): void {
    this.expect(RPAREN, '")"');
    this.#depth--;
  }

  /** `"(" [item *(SP item)] ")"`; `allowEmpty` false requires one item at least. */
  list<T>(item: () => T, allowEmpty = false): T[] {
    this.open();
    const items: T[] = [];
    if (this.peek() === RPAREN) {
      if (!allowEmpty) this.fail('empty list');
    } else {
      for (;;) {
        items.push(item());
        if (items.length > this.limits.maxItems) throw new WireSyntaxError('too many items in a list');
        if (this.peek() === RPAREN) break;
        if (this.peek() !== SP) this.fail('expected a space or ")"');
        this.sp();
      }
    }
    this.close();
    return items;
  }

  /** Track nesting that is not made of parentheses (NOT, OR in search keys). */
  nest<T>(inner: () => T): T {
    if (++this.#depth > this.limits.maxDepth) throw new WireSyntaxError('search keys nested too deeply');
    try {
      return inner();
    } finally {
      this.#depth--;
    }
  }

  #take(pred: (b: number) => boolean): Buffer {
    const line = this.#line;
    const start = this.#pos;
    let p = start;
    while (p < line.length && pred(line[p] as number)) p++;
    this.#pos = p;
    return line.subarray(start, p);
  }

  /** RFC 9051 §9 atom. */
  atom(what = 'an atom'): string {
    const bytes = this.#take(isAtomChar);
    if (bytes.length === 0) this.fail(`expected ${what}`);
    return bytes.toString('latin1');
  }

  /** An atom, upper-cased (command names, keywords). */
  keyword(what = 'a keyword'): string {
    return this.atom(what).toUpperCase();
  }

  /** Chars of class `pred` (e.g. fetch item names), possibly none. */
  chars(pred: (b: number) => boolean): string {
    return this.#take(pred).toString('latin1');
  }

  /** RFC 9051 §9 number (32-bit), nz-number, number64 (here ≤ 2^53 - 1). */
  number(options: { max?: number; nonZero?: boolean; what?: string } = {}): number {
    const what = options.what ?? 'a number';
    const digits = this.#take(isDigit);
    if (digits.length === 0) this.fail(`expected ${what}`);
    if (digits.length > 16) throw new WireSyntaxError(`${what} is too large`);
    const value = Number(digits.toString('latin1'));
    const max = options.max ?? 0xffffffff;
    if (value > max) throw new WireSyntaxError(`${what} is too large`);
    if (options.nonZero && (value === 0 || digits[0] === 0x30)) throw new WireSyntaxError(`${what} must be a non-zero number without leading zeros`);
    return value;
  }

  number64(what = 'a number'): number {
    return this.number({ max: Number.MAX_SAFE_INTEGER, what });
  }

  nzNumber(what = 'a non-zero number'): number {
    return this.number({ nonZero: true, what });
  }

  /** RFC 9051 §9 quoted: the unescaped bytes. */
  quoted(): Buffer {
    this.expect(DQUOTE, 'a quoted string');
    const line = this.#line;
    const parts: Buffer[] = [];
    let start = this.#pos;
    let p = start;
    for (;;) {
      if (p >= line.length) {
        this.#pos = p;
        this.fail('unterminated quoted string');
      }
      const b = line[p] as number;
      if (b === DQUOTE) break;
      if (b === 0) throw new WireSyntaxError('NUL in quoted string');
      if (b === BACKSLASH) {
        const next = p + 1 < line.length ? line[p + 1] : -1;
        if (next !== DQUOTE && next !== BACKSLASH) {
          this.#pos = p;
          throw new WireSyntaxError('invalid escape in quoted string');
        }
        parts.push(line.subarray(start, p));
        start = p + 1;
        p += 2;
        continue;
      }
      p++;
    }
    parts.push(line.subarray(start, p));
    this.#pos = p + 1;
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }

  /** True when a literal (or literal8, if allowed) starts here. */
  atLiteral(binary = false): boolean {
    const b = this.peek();
    return b === 0x7b || (binary && b === 0x7e && this.peek(1) === 0x7b);
  }

  /**
   * RFC 9051 §4.3 literal / literal8 (RFC 3516, only when `binary` is allowed); the marker must end
   * its line segment. Returns the bytes and whether they came as literal8.
   */
  literal(purpose: LiteralPurpose, allowBinary = false): { data: Buffer; binary: boolean } {
    const binary = this.peek() === 0x7e;
    if (binary && !allowBinary) this.fail('literal8 is not allowed here');
    const line = this.#line;
    const m = literalMarker(line.subarray(this.#pos).toString('latin1'));
    if (!m || m.index !== 0) this.fail('malformed literal');
    const { size, sync } = m;
    this.#pos = line.length;
    if (this.#li >= this.#literals.length) {
      if (this.#final || this.#li !== this.#lines.length - 1) throw new WireSyntaxError('literal data missing');
      throw new Incomplete({ size, sync, binary, purpose });
    }
    const data = this.#literals[this.#li] as Buffer;
    this.#li++;
    this.#pos = 0;
    return { data, binary };
  }

  /** RFC 9051 §9 string = quoted / literal: the bytes. */
  string(purpose: LiteralPurpose = 'other'): Buffer {
    if (this.peek() === DQUOTE) return this.quoted();
    if (this.atLiteral()) return this.literal(purpose).data;
    return this.fail('expected a string');
  }

  /** RFC 9051 §9 astring: the bytes. */
  astringBytes(): Buffer {
    const b = this.peek();
    if (b === DQUOTE || b === 0x7b) return this.string();
    const bytes = this.#take(isAstringChar);
    if (bytes.length === 0) this.fail('expected a string');
    return bytes;
  }

  /** Decode bytes as UTF-8 (RFC 9051 §4.3: strings are UTF-8); invalid sequences are a syntax error. */
  text(bytes: Buffer): string {
    try {
      return utf8Decoder.decode(bytes);
    } catch {
      throw new WireSyntaxError('string is not valid UTF-8');
    }
  }

  astring(): string {
    return this.text(this.astringBytes());
  }

  /** nstring = string / NIL. */
  nstringBytes(): Buffer | null {
    if (this.#nil()) return null;
    return this.string();
  }

  #nil(): boolean {
    const line = this.#line;
    const p = this.#pos;
    if (p + 3 <= line.length && line.subarray(p, p + 3).toString('latin1').toUpperCase() === 'NIL' && !isAstringChar(line[p + 3] ?? SP)) {
      this.#pos += 3;
      return true;
    }
    return false;
  }

  /** Is the next word `word` (case-insensitive, followed by a non-atom char)? Consumes it if so. */
  word(word: string): boolean {
    const line = this.#line;
    const p = this.#pos;
    const end = p + word.length;
    if (end > line.length) return false;
    if (line.subarray(p, end).toString('latin1').toUpperCase() !== word) return false;
    if (end < line.length && isAtomChar(line[end] as number)) return false;
    this.#pos = end;
    return true;
  }

  /**
   * A mailbox name (RFC 9051 §9 mailbox), decoded: modified UTF-7 (RFC 3501 §5.1.3) unless UTF-8
   * is enabled (RFC 6855 §3) or the name holds 8-bit bytes (then UTF-8). "INBOX" in any case → "INBOX".
   */
  mailbox(normaliseInbox = true): string {
    const name = this.decodeName(this.astringBytes());
    return normaliseInbox && name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
  }

  /** RFC 9051 §9 list-mailbox = 1*list-char / string, decoded like a mailbox name. */
  listMailbox(): string {
    const b = this.peek();
    if (b === DQUOTE || b === 0x7b) return this.decodeName(this.string());
    const bytes = this.#take(isListChar);
    if (bytes.length === 0) this.fail('expected a mailbox pattern');
    return this.decodeName(bytes);
  }

  decodeName(bytes: Buffer): string {
    const ascii = bytes.every((b) => b < 0x80);
    if (!ascii || this.utf8) return this.text(bytes);
    try {
      return decodeMutf7(bytes.toString('latin1'));
    } catch (err) {
      if (err instanceof Mutf7Error) throw new WireSyntaxError(`invalid mailbox name: ${err.message}`);
      throw err;
    }
  }

  /** RFC 9051 §9 sequence-set, or "$" (RFC 5182). */
  sequenceSet(): SequenceSet {
    if (this.accept(0x24)) return { saved: true };
    const ranges: SeqRange[] = [];
    for (;;) {
      const start = this.#seqNumber();
      const end = this.accept(0x3a) ? this.#seqNumber() : start;
      ranges.push({ start, end });
      if (ranges.length > this.limits.maxItems) throw new WireSyntaxError('sequence set has too many ranges');
      if (!this.accept(0x2c)) break;
    }
    return { ranges };
  }

  #seqNumber(): SeqNumber {
    if (this.accept(0x2a)) return '*';
    return this.nzNumber('a sequence number');
  }

  /** RFC 9051 §9 flag (for STORE, APPEND; \Recent is refused), system flags in canonical case. */
  flag(): string {
    if (this.accept(BACKSLASH)) {
      const name = '\\' + this.atom('a flag');
      const canonical = SYSTEM_FLAGS.get(name.toLowerCase());
      if (canonical) return canonical;
      if (name.toLowerCase() === '\\recent') throw new WireSyntaxError('\\Recent cannot be set by a client');
      return name;
    }
    return this.atom('a flag');
  }

  flagList(): string[] {
    return this.list(() => this.flag(), true);
  }

  /** RFC 9051 §9 date = date-text / DQUOTE date-text DQUOTE. */
  date(): ImapDate {
    const quoted = this.accept(DQUOTE);
    const day = this.#digits(1, 2, 'a day');
    this.expect(0x2d, '"-" in date');
    const month = this.#month();
    this.expect(0x2d, '"-" in date');
    const year = this.#digits(4, 4, 'a year');
    if (quoted) this.expect(DQUOTE, 'closing quote of date');
    if (day < 1 || day > daysInMonth(year, month)) throw new WireSyntaxError('invalid date');
    return { year, month, day };
  }

  /** RFC 9051 §9 date-time: DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE. */
  dateTime(): ImapDateTime {
    this.expect(DQUOTE, 'a date-time');
    this.accept(SP);
    const day = this.#digits(1, 2, 'a day');
    this.expect(0x2d, '"-" in date-time');
    const month = this.#month();
    this.expect(0x2d, '"-" in date-time');
    const year = this.#digits(4, 4, 'a year');
    this.sp();
    const hour = this.#digits(2, 2, 'hours');
    this.expect(0x3a, '":" in time');
    const minute = this.#digits(2, 2, 'minutes');
    this.expect(0x3a, '":" in time');
    const second = this.#digits(2, 2, 'seconds');
    this.sp();
    const sign = this.peek();
    if (sign !== 0x2b && sign !== 0x2d) this.fail('expected a zone');
    this.#pos++;
    const zh = this.#digits(2, 2, 'zone hours');
    const zm = this.#digits(2, 2, 'zone minutes');
    this.expect(DQUOTE, 'closing quote of date-time');
    if (day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 60 || zm > 59) {
      throw new WireSyntaxError('invalid date-time');
    }
    const offsetMinutes = (sign === 0x2d ? -1 : 1) * (zh * 60 + zm);
    const time = Date.UTC(year, month - 1, day, hour, minute, second) - offsetMinutes * 60_000;
    return { time, offsetMinutes };
  }

  #digits(min: number, max: number, what: string): number {
    const line = this.#line;
    const start = this.#pos;
    let p = start;
    while (p < line.length && p - start < max && isDigit(line[p] as number)) p++;
    this.#pos = p;
    if (p - start < min) this.fail(`expected ${what}`);
    return Number(line.subarray(start, p).toString('latin1'));
  }

  #month(): number {
    const line = this.#line;
    const name = line.subarray(this.#pos, this.#pos + 3).toString('latin1').toUpperCase();
    const index = MONTHS.indexOf(name);
    if (index < 0) this.fail('expected a month name');
    this.#pos += 3;
    return index + 1;
  }
}

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** The tag at the start of a command line (RFC 9051 §9 tag), or null when there is none. */
export function readTag(line: Buffer): string | null {
  let p = 0;
  while (p < line.length && isAstringChar(line[p] as number) && line[p] !== 0x2b) p++;
  if (p === 0 || (p < line.length && line[p] !== SP)) return null;
  return line.subarray(0, p).toString('latin1');
}
