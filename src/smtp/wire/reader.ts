// The byte side of the SMTP parser, sans I/O: bytes in, events out. Three modes:
// - command lines (RFC 5321 §2.3.8, §4.5.3.1.4), bounded by maxLineLength;
// - DATA (RFC 5321 §4.1.1.4, §4.5.2): dot-unstuffing, ends only at <CRLF>.<CRLF>;
// - BDAT chunks (RFC 3030 §2): exactly n octets, no unstuffing.
// Message bytes are kept only up to the message size limit; beyond it they are counted and
// dropped (bounded memory), and the event says tooBig. Bare CR and bare LF (not part of a CRLF)
// are reported, so the session can refuse the message (SMTP smuggling defence).

export type ReaderEvent =
  /** A command line without its line ending. */
  | { kind: 'line'; line: Buffer }
  /** A line longer than the limit; it was discarded up to its end. */
  | { kind: 'line-too-long' }
  /** DATA ended with <CRLF>.<CRLF>; `body` is unstuffed and includes the final CRLF. */
  | { kind: 'data'; body: Buffer; size: number; tooBig: boolean; bareCr: boolean; bareLf: boolean }
  /** One BDAT chunk read in full. */
  | { kind: 'chunk'; data: Buffer; size: number; tooBig: boolean };

const CR = 0x0d;
const LF = 0x0a;
const DOT = 0x2e;

const enum DataState {
  LineStart,
  Dot,
  DotCr,
  InLine,
  Cr,
}

type Mode =
  | { kind: 'line'; discarding: boolean }
  | { kind: 'data'; keep: number; size: number; chunks: Buffer[]; state: DataState; bareCr: boolean; bareLf: boolean }
  | { kind: 'chunk'; remaining: number; keep: number; size: number; chunks: Buffer[] };

export class SmtpReader {
  #buf: Buffer = Buffer.alloc(0);
  #mode: Mode = { kind: 'line', discarding: false };
  readonly maxLineLength: number;

  constructor(options: { maxLineLength: number }) {
    this.maxLineLength = options.maxLineLength;
  }

  push(bytes: Buffer): void {
    this.#buf = this.#buf.length === 0 ? bytes : Buffer.concat([this.#buf, bytes]);
  }

  /** Bytes received and not yet turned into events. */
  get buffered(): number {
    return this.#buf.length;
  }

  get mode(): 'line' | 'data' | 'chunk' {
    return this.#mode.kind;
  }

  /** Drop every byte received so far (RFC 3207 §4.2: nothing sent before TLS is kept). */
  discard(): void {
    this.#buf = Buffer.alloc(0);
    this.#mode = { kind: 'line', discarding: false };
  }

  /** After "354": read a message up to <CRLF>.<CRLF>, keeping at most `keep` bytes. */
  expectData(keep: number): void {
    this.#mode = { kind: 'data', keep, size: 0, chunks: [], state: DataState.LineStart, bareCr: false, bareLf: false };
  }

  /** After "BDAT n": read exactly n octets, keeping at most `keep` of them. */
  expectChunk(size: number, keep: number): void {
    this.#mode = { kind: 'chunk', remaining: size, keep, size: 0, chunks: [] };
  }

  /** The next event, or null when more bytes are needed. */
  next(): ReaderEvent | null {
    const mode = this.#mode;
    if (mode.kind === 'line') return this.#nextLine(mode);
    if (mode.kind === 'data') return this.#nextData(mode);
    return this.#nextChunk(mode);
  }

  #nextLine(mode: Mode & { kind: 'line' }): ReaderEvent | null {
    for (;;) {
      const lf = this.#buf.indexOf(LF);
      if (mode.discarding) {
        if (lf < 0) {
          this.#buf = Buffer.alloc(0);
          return null;
        }
        this.#buf = this.#buf.subarray(lf + 1);
        mode.discarding = false;
        continue;
      }
      if (lf < 0) {
        if (this.#buf.length > this.maxLineLength) {
          this.#buf = Buffer.alloc(0);
          mode.discarding = true;
          return { kind: 'line-too-long' };
        }
        return null;
      }
      const end = lf > 0 && this.#buf[lf - 1] === CR ? lf - 1 : lf;
      const line = this.#buf.subarray(0, end);
      this.#buf = this.#buf.subarray(lf + 1);
      if (line.length > this.maxLineLength) return { kind: 'line-too-long' };
      // Copy: the caller may keep the line while the reader's buffer is reused.
      return { kind: 'line', line: Buffer.from(line) };
    }
  }

  #nextData(mode: Mode & { kind: 'data' }): ReaderEvent | null {
    const input = this.#buf;
    if (input.length === 0) return null;
    // One byte more than the input: a CR held back at the end of the previous chunk (after a
    // line-start dot) is written out together with this chunk's bytes.
    const out = Buffer.allocUnsafe(input.length + 1);
    let w = 0;
    let state = mode.state;
    let ended = -1;
    for (let i = 0; i < input.length; i++) {
      const b = input[i]!;
      switch (state) {
        case DataState.LineStart:
          if (b === DOT) {
            state = DataState.Dot;
            continue;
          }
          state = DataState.InLine;
          break;
        case DataState.Dot:
          if (b === CR) {
            state = DataState.DotCr;
            continue;
          }
          // A stuffed dot: dropped (RFC 5321 §4.5.2); the byte is ordinary line content.
          state = DataState.InLine;
          break;
        case DataState.DotCr:
          if (b === LF) {
            ended = i + 1;
            break;
          }
          // ".<CR>x": the dot was stuffing, the CR is bare.
          mode.bareCr = true;
          out[w++] = CR;
          state = DataState.InLine;
          break;
        case DataState.Cr:
          if (b === LF) {
            out[w++] = LF;
            state = DataState.LineStart;
            continue;
          }
          mode.bareCr = true;
          state = DataState.InLine;
          break;
        case DataState.InLine:
          break;
      }
      if (ended >= 0) break;
      // InLine processing of b.
      if (b === CR) {
        out[w++] = CR;
        state = DataState.Cr;
      } else {
        // A bare LF does not end a line: only CRLF does, so "<LF>.<CR><LF>" can never end DATA.
        if (b === LF) mode.bareLf = true;
        out[w++] = b;
      }
    }
    mode.state = state;
    this.#keep(mode, out.subarray(0, w));
    if (ended < 0) {
      this.#buf = Buffer.alloc(0);
      return null;
    }
    this.#buf = input.subarray(ended);
    this.#mode = { kind: 'line', discarding: false };
    const tooBig = mode.size > mode.keep;
    return { kind: 'data', body: tooBig ? Buffer.alloc(0) : Buffer.concat(mode.chunks), size: mode.size, tooBig, bareCr: mode.bareCr, bareLf: mode.bareLf };
  }

  #nextChunk(mode: Mode & { kind: 'chunk' }): ReaderEvent | null {
    if (mode.remaining > 0) {
      if (this.#buf.length === 0) return null;
      const take = Math.min(mode.remaining, this.#buf.length);
      this.#keep(mode, Buffer.from(this.#buf.subarray(0, take)));
      this.#buf = this.#buf.subarray(take);
      mode.remaining -= take;
      if (mode.remaining > 0) return null;
    }
    this.#mode = { kind: 'line', discarding: false };
    const tooBig = mode.size > mode.keep;
    return { kind: 'chunk', data: tooBig ? Buffer.alloc(0) : Buffer.concat(mode.chunks), size: mode.size, tooBig };
  }

  #keep(mode: { keep: number; size: number; chunks: Buffer[] }, bytes: Buffer): void {
    mode.size += bytes.length;
    if (mode.size > mode.keep) mode.chunks.length = 0;
    else if (bytes.length > 0) mode.chunks.push(bytes);
  }
}

/**
 * Bare CR / bare LF detection across BDAT chunks (RFC 3030 §3: without BINARYMIME the message is
 * still CRLF text). Feed every chunk in order, then call end().
 */
export class LineEndingCheck {
  #prevCr = false;
  bareCr = false;
  bareLf = false;

  feed(bytes: Buffer): void {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (this.#prevCr) {
        this.#prevCr = false;
        if (b === LF) continue;
        this.bareCr = true;
      }
      if (b === CR) this.#prevCr = true;
      else if (b === LF) this.bareLf = true;
    }
  }

  end(): void {
    if (this.#prevCr) this.bareCr = true;
    this.#prevCr = false;
  }
}
