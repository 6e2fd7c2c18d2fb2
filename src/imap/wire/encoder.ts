// The IMAP response encoder (sans-I/O): typed responses and values → bytes (RFC 9051 §7, §4).
// Strings are written quoted when that is safe and literals otherwise; mailbox names are written
// in modified UTF-7 (RFC 3501 §5.1.3) unless the session enabled UTF8=ACCEPT (RFC 6855 §3).
// Every output line ends with CRLF; texts never contain CR or LF (they are replaced by spaces).

import { encodeMutf7 } from './mutf7.js';
import { isAstringChar } from './reader.js';
import type { EncodeOptions, FetchAttribute, ImapValue, Response, ResponseCode, SequenceSet } from './types.js';

/** Longest string written as a quoted string; longer ones become literals. */
const MAX_QUOTED = 1024;
const CRLF = Buffer.from('\r\n');

/** Encode one response line (with any literals inside it) and its final CRLF. */
export function encodeResponse(response: Response, options: EncodeOptions): Buffer {
  const out = new Output();
  switch (response.kind) {
    case 'tagged':
      out.text(`${response.tag} ${response.status} `);
      writeRespText(out, response.code, response.text, options);
      break;
    case 'status':
      out.text(`* ${response.status} `);
      writeRespText(out, response.code, response.text, options);
      break;
    case 'data':
      out.text('* ');
      writeValues(out, response.values, options);
      break;
    case 'continuation':
      out.text(`+ ${cleanText(response.text)}`);
      break;
  }
  out.raw(CRLF);
  return out.toBuffer();
}

/** Encode one value (no CRLF); a literal inside is followed by its bytes. */
export function encodeValue(value: ImapValue, options: EncodeOptions): Buffer {
  const out = new Output();
  writeValue(out, value, options);
  return out.toBuffer();
}

/** RFC 9051 §9 sequence-set text ("1:4,7,9:*", or "$"). */
export function formatSequenceSet(set: SequenceSet): string {
  if ('saved' in set) return '$';
  return set.ranges.map((r) => (r.start === r.end ? String(r.start) : `${r.start}:${r.end}`)).join(',');
}

/** Compact ascending numbers into a sequence-set text: [1,2,3,5] → "1:3,5" (e.g. for COPYUID). */
export function compactSequence(numbers: Iterable<number>): string {
  const sorted = [...new Set(numbers)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as number) === (sorted[j] as number) + 1) j++;
    parts.push(i === j ? String(sorted[i]) : `${sorted[i]}:${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 9051 §9 date-time text (no quotes), e.g. "17-Jul-1996 02:44:25 -0700", in the given zone. */
export function formatDateTime(time: number, offsetMinutes = 0): string {
  const d = new Date(time + offsetMinutes * 60_000);
  const pad = (n: number): string => String(n).padStart(2, '0');
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return (
    `${pad(d.getUTCDate())}-${MONTHS[d.getUTCMonth()]}-${d.getUTCFullYear()} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} ${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)}`
  );
}

/**
 * The name of a fetch item in a FETCH response (RFC 9051 §7.5.2): BODY.PEEK[…] answers as
 * BODY[…], a partial answers with its origin only ("BODY[]<0>"), BINARY.PEEK as BINARY.
 * Header field names are written as the client sent them, quoted when they are not atoms.
 */
export function fetchItemName(attr: FetchAttribute): string {
  switch (attr.kind) {
    case 'BODY[]': {
      const s = attr.section;
      let spec = s.part.join('.');
      if (s.text) spec += (spec ? '.' : '') + s.text;
      if (s.fields) spec += ` (${s.fields.map((f) => (isAstring(f) ? f : quote(f))).join(' ')})`;
      return `BODY[${spec}]${attr.partial ? `<${attr.partial.offset}>` : ''}`;
    }
    case 'BINARY':
      return `BINARY[${attr.part.join('.')}]${attr.partial ? `<${attr.partial.offset}>` : ''}`;
    case 'BINARY.SIZE':
      return `BINARY.SIZE[${attr.part.join('.')}]`;
    default:
      return attr.kind;
  }
}

function isAstring(s: string): boolean {
  const bytes = Buffer.from(s, 'utf8');
  return bytes.length > 0 && bytes.every(isAstringChar);
}

function quote(s: string): string {
  return '"' + s.replace(/[\\"]/g, (c) => '\\' + c) + '"';
}

class Output {
  readonly #parts: Buffer[] = [];
  text(s: string): void {
    this.#parts.push(Buffer.from(s, 'utf8'));
  }
  raw(b: Buffer): void {
    this.#parts.push(b);
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

function cleanText(text: string): string {
  return text.replace(/[\r\n\0]+/g, ' ');
}

/** RFC 9051 §9 resp-text = ["[" resp-text-code "]" SP] [text]. */
function writeRespText(out: Output, code: ResponseCode | undefined, text: string, options: EncodeOptions): void {
  if (code) {
    if (!/^[A-Za-z0-9.\-]+$/.test(code.code)) throw new Error(`invalid response code ${code.code}`);
    out.text(`[${code.code}`);
    for (const arg of code.args ?? []) {
      out.text(' ');
      writeValue(out, arg, options, true);
    }
    out.text('] ');
  }
  // RFC 3501 text = 1*TEXT-CHAR: never leave it empty.
  out.text(cleanText(text) || 'done');
}

function writeValues(out: Output, values: ImapValue[], options: EncodeOptions, inCode = false): void {
  values.forEach((v, i) => {
    if (i > 0) out.text(' ');
    writeValue(out, v, options, inCode);
  });
}

function writeValue(out: Output, value: ImapValue, options: EncodeOptions, inCode = false): void {
  if (value === null) return out.text('NIL');
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`not an IMAP number: ${value}`);
    return out.text(String(value));
  }
  if (typeof value === 'bigint') {
    if (value < 0n) throw new Error(`not an IMAP number: ${value}`);
    return out.text(value.toString());
  }
  if (typeof value === 'string') return writeString(out, Buffer.from(value, 'utf8'), options, inCode);
  if (Buffer.isBuffer(value)) return writeLiteral(out, value, false, inCode);
  if (Array.isArray(value)) {
    out.text('(');
    writeValues(out, value, options, inCode);
    out.text(')');
    return;
  }
  if ('run' in value) {
    for (const item of value.run) writeValue(out, item, options, inCode);
    return;
  }
  if ('atom' in value) {
    if (value.atom.length === 0 || /[\x00-\x1f\x7f-\uffff]/.test(value.atom)) throw new Error(`invalid atom ${JSON.stringify(value.atom)}`);
    return out.text(value.atom);
  }
  if ('mailbox' in value) {
    const name = options.utf8 ? value.mailbox : encodeMutf7(value.mailbox);
    return writeString(out, Buffer.from(name, 'utf8'), options, inCode);
  }
  return writeLiteral(out, value.literal, value.binary ?? false, inCode);
}

function writeString(out: Output, bytes: Buffer, options: EncodeOptions, inCode: boolean): void {
  if (isQuotable(bytes, options.utf8 || inCode)) {
    out.text('"');
    out.raw(Buffer.from(bytes.toString('latin1').replace(/[\\"]/g, (c) => '\\' + c), 'latin1'));
    out.text('"');
    return;
  }
  writeLiteral(out, bytes, false, inCode);
}

/** RFC 9051 §9 quoted: TEXT-CHAR except quoted-specials (escaped), UTF-8 only when allowed. */
function isQuotable(bytes: Buffer, allow8bit: boolean): boolean {
  if (bytes.length > MAX_QUOTED) return false;
  for (const b of bytes) {
    if (b === 0 || b === 0x0a || b === 0x0d) return false;
    if (b >= 0x80 && !allow8bit) return false;
  }
  if (allow8bit) {
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {
      return false;
    }
  }
  return true;
}

function writeLiteral(out: Output, bytes: Buffer, binary: boolean, inCode: boolean): void {
  if (inCode) throw new Error('a response code cannot hold a literal');
  out.text(`${binary ? '~' : ''}{${bytes.length}}\r\n`);
  out.raw(bytes);
}
