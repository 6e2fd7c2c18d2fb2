// The streaming IMAP command parser (sans-I/O, in the style of Stalwart's imap-proto receiver):
// push the bytes a connection received, then call next() until it answers need-more. It frames
// commands (lines and literals, RFC 9051 §4.3, RFC 7888 non-synchronising literals, RFC 3516
// literal8) and hands each whole command to the grammar (grammar.ts).
//
// Invariants:
// - Nothing is buffered beyond WireLimits: a line longer than maxLineLength is skipped to its end
//   (never stored), literals are checked against their limit before a byte is read.
// - A synchronising literal is announced (need-literal) only after the command up to it parsed
//   cleanly, so a refused or malformed command never has its literal read; after a refusal the
//   parser resumes at the next line, as the client will not send that literal.
// - After a bad command the parser resynchronises at the end of that command: it skips the rest of
//   the line and any non-synchronising literals that follow, never reading them as commands.
// - Line mode (expectLine) reads exactly one raw line through the same buffer, so no byte is lost
//   between IDLE / AUTHENTICATE continuations and the next command.

import { DEFAULT_LIMITS, type WireLimits } from './limits.js';
import { KNOWN_COMMANDS, parseCommand } from './grammar.js';
import { Incomplete, Reader, WireSyntaxError, literalMarker, readTag, type PendingLiteral } from './reader.js';
import type { Command, ParseResult } from './types.js';

type BadResult = Extract<ParseResult, { kind: 'bad' }>;

export interface ParserOptions {
  /** Limits (defaults: DEFAULT_LIMITS); build them with limitsFromConfig(). */
  limits?: WireLimits;
  /** UTF8=ACCEPT enabled (RFC 6855): mailbox names are UTF-8, not modified UTF-7. */
  utf8?: boolean;
}

type State =
  | { kind: 'line' }
  | { kind: 'literal'; remaining: number; parts: Buffer[]; size: number }
  | { kind: 'skip-line'; tail: string }
  | { kind: 'skip-literal'; remaining: number }
  | { kind: 'raw-line' }
  /** After a bad result with close: the connection is ending; nothing more is read. */
  | { kind: 'closed' };

const LF = 0x0a;
const CR = 0x0d;
const TAIL = 64;

export class CommandParser {
  readonly #limits: WireLimits;
  #utf8: boolean;
  #buf: Buffer = Buffer.alloc(0);
  #pos = 0;
  #state: State = { kind: 'line' };
  /** The command being framed: line segments (CRLF removed) and the literals after each but the last. */
  #lines: Buffer[] = [];
  #literals: Buffer[] = [];
  #commandBytes = 0;
  /** Bytes of the command that are not message data (lines, other literals): bounded by maxCommandText. */
  #textBytes = 0;
  /** The bad result to emit once skipping reaches the end of the offending command. */
  #pendingBad: BadResult | null = null;
  #consumed = 0;
  #literalPending = false;

  constructor(options: ParserOptions = {}) {
    this.#limits = options.limits ?? DEFAULT_LIMITS;
    this.#utf8 = options.utf8 ?? false;
  }

  /** Switch mailbox names to UTF-8 (after ENABLE UTF8=ACCEPT, RFC 6855 §3). */
  setUtf8(on: boolean): void {
    this.#utf8 = on;
  }

  /** Bytes received but not yet consumed. */
  get buffered(): number {
    return this.#buf.length - this.#pos;
  }

  /** Add received bytes. */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#buf = this.#pos >= this.#buf.length ? chunk : Buffer.concat([this.#buf.subarray(this.#pos), chunk]);
    this.#pos = 0;
  }

  /**
   * Read the next single line raw (without CRLF) as a `line` result: IDLE's "DONE" (RFC 2177) or
   * an AUTHENTICATE response (RFC 9051 §6.2.2). Only between commands.
   */
  expectLine(): void {
    if (this.#state.kind !== 'line' || this.#lines.length > 0) throw new Error('expectLine() called in the middle of a command');
    this.#state = { kind: 'raw-line' };
  }

  /**
   * Refuse the synchronising literal just announced by need-literal (the session answers the
   * command with NO / BAD itself). The client will not send it; parsing resumes at the next line.
   */
  refuseLiteral(): void {
    if (!this.#literalPending) throw new Error('refuseLiteral() without a pending literal');
    this.#resetCommand();
    this.#state = { kind: 'line' };
  }

  /**
   * Take every unconsumed byte and reset the parser: after STARTTLS (RFC 9051 §6.2.1, the bytes
   * are discarded) or COMPRESS (RFC 4978 §3, they are compressed data).
   */
  drain(): Buffer {
    const rest = Buffer.from(this.#buf.subarray(this.#pos));
    this.#buf = Buffer.alloc(0);
    this.#pos = 0;
    this.#resetCommand();
    this.#pendingBad = null;
    this.#state = { kind: 'line' };
    return rest;
  }

  /** The next result; call until `need-more`, then push more bytes. */
  next(): ParseResult {
    this.#literalPending = false;
    for (;;) {
      const state = this.#state;
      switch (state.kind) {
        case 'literal': {
          const take = Math.min(state.remaining, this.buffered);
          if (take > 0) {
            state.parts.push(Buffer.from(this.#buf.subarray(this.#pos, this.#pos + take)));
            this.#advance(take);
            state.remaining -= take;
          }
          if (state.remaining > 0) return { kind: 'need-more' };
          this.#literals.push(state.parts.length === 1 ? (state.parts[0] as Buffer) : Buffer.concat(state.parts, state.size));
          this.#state = { kind: 'line' };
          continue;
        }
        case 'skip-literal': {
          const take = Math.min(state.remaining, this.buffered);
          this.#advance(take);
          state.remaining -= take;
          if (state.remaining > 0) return { kind: 'need-more' };
          this.#state = { kind: 'skip-line', tail: '' };
          continue;
        }
        case 'skip-line': {
          const result = this.#skipLine(state);
          if (result) return result;
          continue;
        }
        case 'closed':
          this.#advance(this.buffered);
          return { kind: 'need-more' };
        case 'line':
        case 'raw-line': {
          const result = this.#readLine(state.kind === 'raw-line');
          if (result) return result;
          continue;
        }
      }
    }
  }

  #advance(n: number): void {
    this.#pos += n;
    this.#consumed += n;
  }

  #resetCommand(): void {
    this.#lines = [];
    this.#literals = [];
    this.#commandBytes = 0;
    this.#textBytes = 0;
    this.#literalPending = false;
  }

  #emit(result: { kind: 'line'; line: string } | { kind: 'command'; command: Command } | BadResult): ParseResult {
    const consumed = this.#consumed;
    this.#consumed = 0;
    return { ...result, consumed };
  }

  #bad(tag: string | null, message: string, extra: Partial<Pick<BadResult, 'status' | 'code' | 'close'>> = {}): BadResult {
    return { kind: 'bad', tag, message, consumed: 0, status: extra.status ?? 'BAD', ...(extra.code ? { code: extra.code } : {}), ...(extra.close ? { close: true } : {}) };
  }

  #emitBad(bad: BadResult): ParseResult {
    this.#resetCommand();
    this.#pendingBad = null;
    this.#state = bad.close ? { kind: 'closed' } : { kind: 'line' };
    return this.#emit(bad);
  }

  /** Start skipping the rest of the current command, then emit `bad`. */
  #skip(bad: BadResult, state: State): void {
    this.#pendingBad = bad;
    this.#resetCommand();
    this.#state = state;
  }

  /** The tag of the command being framed, if readable. */
  #tag(firstLine?: Buffer): string | null {
    const line = this.#lines[0] ?? firstLine;
    return line ? readTag(line) : null;
  }

  /** Returns a result to hand out, or null to continue the loop. */
  #readLine(raw: boolean): ParseResult | null {
    const max = this.#limits.maxLineLength;
    const lf = this.#buf.indexOf(LF, this.#pos);
    if (lf < 0) {
      if (this.buffered > max + 1) {
        // RFC 9051 §4: bound the line; skip it to its end without storing it.
        const head = this.#buf.subarray(this.#pos, this.#pos + Math.min(this.buffered, 256));
        const bad = this.#bad(raw ? null : this.#tag(head), 'line too long');
        const tail = this.#buf.subarray(Math.max(this.#pos, this.#buf.length - TAIL)).toString('latin1');
        this.#advance(this.buffered);
        this.#skip(bad, { kind: 'skip-line', tail });
      }
      return { kind: 'need-more' };
    }
    const end = lf > this.#pos && this.#buf[lf - 1] === CR ? lf - 1 : lf;
    if (end - this.#pos > max) {
      const bad = this.#bad(raw ? null : this.#tag(this.#buf.subarray(this.#pos, this.#pos + 256)), 'line too long');
      this.#skip(bad, { kind: 'skip-line', tail: '' });
      return null;
    }
    const line = Buffer.from(this.#buf.subarray(this.#pos, end));
    this.#advance(lf + 1 - this.#pos);
    if (raw) {
      this.#state = { kind: 'line' };
      return this.#emit({ kind: 'line', line: line.toString('utf8') });
    }
    if (this.#lines.length === 0 && line.length === 0) return null; // tolerate empty lines between commands
    this.#lines.push(line);
    this.#commandBytes += line.length + 2;
    this.#textBytes += line.length + 2;
    const marker = literalMarker(line.toString('latin1'));
    if (!marker) return this.#complete();
    return this.#announce(marker);
  }

  /** The frame ends: parse it. */
  #complete(): ParseResult {
    const tag = this.#tag();
    if (tag === null) return this.#emitBad(this.#bad(null, 'a command must start with a tag'));
    if (this.#commandBytes > this.#limits.maxCommandSize || this.#textBytes > this.#limits.maxCommandText) return this.#emitBad(this.#bad(tag, 'command too long', { code: 'TOOBIG' }));
    try {
      const command = parseCommand(this.#reader(true), tag);
      this.#resetCommand();
      return this.#emit({ kind: 'command', command });
    } catch (err) {
      if (err instanceof WireSyntaxError) return this.#emitBad(this.#bad(tag, err.message));
      if (err instanceof Incomplete) return this.#emitBad(this.#bad(tag, 'incomplete command'));
      throw err;
    }
  }

  #reader(final: boolean): Reader {
    return new Reader(this.#lines, this.#literals, { final, utf8: this.#utf8, limits: this.#limits });
  }

  /** A line ended with a literal marker: validate the command so far and the literal's size. */
  #announce(marker: { size: number; sync: boolean; binary: boolean }): ParseResult | null {
    const limits = this.#limits;
    const tag = this.#tag();
    const refuse = (bad: BadResult): ParseResult | null => {
      // A refused synchronising literal is never sent; a non-synchronising one is on its way.
      if (marker.sync) return this.#emitBad(bad);
      if (bad.close || marker.size > limits.maxNonSyncLiteral) return this.#emitBad({ ...bad, close: true });
      this.#skip(bad, { kind: 'skip-literal', remaining: marker.size });
      return null;
    };
    // RFC 7888 §4: LITERAL- caps non-synchronising literals (4096); beyond the cap, BAD and close.
    if (!marker.sync && marker.size > limits.maxNonSyncLiteral) {
      return this.#emitBad(this.#bad(tag, 'non-synchronizing literal too large', { code: 'TOOBIG', close: true }));
    }
    if (tag === null) return refuse(this.#bad(null, 'a command must start with a tag'));
    const pending = this.#validate(tag);
    if (pending instanceof WireSyntaxError) return refuse(this.#bad(tag, pending.message));
    const purpose = pending.purpose;
    if (this.#literals.length >= limits.maxLiterals) return refuse(this.#bad(tag, 'too many literals', { code: 'LIMIT' }));
    if (purpose === 'message' && marker.size > limits.maxMessageSize) {
      return refuse(this.#bad(tag, 'message too large', { status: 'NO', code: 'TOOBIG' }));
    }
    if (purpose === 'other' && marker.size > limits.maxLiteralSize) return refuse(this.#bad(tag, 'literal too large', { code: 'TOOBIG' }));
    if (this.#commandBytes + marker.size > limits.maxCommandSize) {
      return refuse(this.#bad(tag, 'command too large', purpose === 'message' ? { status: 'NO', code: 'TOOBIG' } : { code: 'TOOBIG' }));
    }
    if (this.#textBytes + (purpose === 'other' ? marker.size : 0) > limits.maxCommandText) {
      return refuse(this.#bad(tag, 'command too long', { code: 'TOOBIG' }));
    }
    this.#commandBytes += marker.size;
    if (purpose === 'other') this.#textBytes += marker.size;
    this.#state = { kind: 'literal', remaining: marker.size, parts: [], size: marker.size };
    if (!marker.sync) return null;
    this.#literalPending = true;
    const name = this.#lines[0]?.toString('latin1').split(' ', 3) ?? [];
    const command = (name[1]?.toUpperCase() === 'UID' ? `UID ${name[2] ?? ''}` : (name[1] ?? '')).toUpperCase();
    return { kind: 'need-literal', tag, command, size: marker.size, sync: true, binary: marker.binary };
  }

  /** Parse the frame so far; the grammar must stop at the announced literal. */
  #validate(tag: string): PendingLiteral | WireSyntaxError {
    const first = this.#lines[0] as Buffer;
    const name = first.toString('latin1').split(' ', 2)[1]?.toUpperCase() ?? '';
    if (!KNOWN_COMMANDS.has(name)) return new WireSyntaxError(name ? `unknown command ${name}` : 'missing command name');
    try {
      parseCommand(this.#reader(false), tag);
      return new WireSyntaxError('unexpected literal');
    } catch (err) {
      // The grammar must have reached the marker as a literal; stopping short of it is an error.
      if (err instanceof Incomplete) return err.literal ?? new WireSyntaxError('a literal is not allowed here');
      if (err instanceof WireSyntaxError) return err;
      throw err;
    }
  }

  /** Discard one line of a command being skipped; a trailing non-synchronising literal is skipped too. */
  #skipLine(state: { kind: 'skip-line'; tail: string }): ParseResult | null {
    const lf = this.#buf.indexOf(LF, this.#pos);
    if (lf < 0) {
      state.tail = (state.tail + this.#buf.toString('latin1', Math.max(this.#pos, this.#buf.length - TAIL))).slice(-TAIL);
      this.#advance(this.buffered);
      return { kind: 'need-more' };
    }
    let tail = (state.tail + this.#buf.toString('latin1', Math.max(this.#pos, lf - TAIL), lf)).slice(-TAIL);
    if (tail.endsWith('\r')) tail = tail.slice(0, -1);
    this.#advance(lf + 1 - this.#pos);
    const bad = this.#pendingBad ?? this.#bad(null, 'bad command');
    const marker = literalMarker(tail);
    // A tail of only digits may hide a longer marker; treat it as one too large to skip.
    if ((marker && !marker.sync) || /^\d+\+\}$/.test(tail)) {
      if (!marker || marker.size > this.#limits.maxNonSyncLiteral) return this.#emitBad({ ...bad, close: true });
      this.#state = { kind: 'skip-literal', remaining: marker.size };
      return null;
    }
    return this.#emitBad(bad);
  }
}

/**
 * Parse everything in `input` at once (tests, tools): all results up to the final need-more,
 * answering every need-literal as if "+ Ready" had been sent.
 */
export function parseAll(input: Buffer | string, options: ParserOptions = {}): ParseResult[] {
  const parser = new CommandParser(options);
  parser.push(typeof input === 'string' ? Buffer.from(input, 'utf8') : input);
  const results: ParseResult[] = [];
  for (;;) {
    const result = parser.next();
    results.push(result);
    if (result.kind === 'need-more') return results;
  }
}

/** An AUTHENTICATE continuation line (RFC 9051 §6.2.2): base64 data, or "*" to cancel. */
export type SaslResponse = { kind: 'data'; data: Buffer } | { kind: 'cancel' } | { kind: 'bad'; message: string };

export function parseSaslResponse(line: string): SaslResponse {
  if (line === '*') return { kind: 'cancel' };
  if (line === '' || line === '=') return { kind: 'data', data: Buffer.alloc(0) };
  if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(line)) return { kind: 'bad', message: 'invalid base64' };
  return { kind: 'data', data: Buffer.from(line, 'base64') };
}

/** RFC 2177 §3: the line that ends IDLE is "DONE" (case-insensitive). */
export function isIdleDone(line: string): boolean {
  return line.toUpperCase() === 'DONE';
}
