// Header blocks (RFC 5322 §2.2, §3.6): split into fields with their exact byte ranges, unfold
// values, and cut the subsets IMAP's BODY[HEADER.FIELDS (…)] serves (RFC 9051 §6.4.5).
// Invariants: offsets are byte offsets into the buffer given; CRLF, LF-only and mixed line ends
// all work; the scan is bounded (MAX_HEADER_BYTES, MAX_HEADER_FIELDS) and never throws.
import { decodeHeaderBytes } from './decode.js';

/** Beyond this many header bytes the rest of the entity is treated as body. */
export const MAX_HEADER_BYTES = 8 * 1024 * 1024;
/** Beyond this many fields the rest of the entity is treated as body. */
export const MAX_HEADER_FIELDS = 100_000;

export interface HeaderField {
  /** Field name as written (RFC 5322 §3.6.8 ftext), and lower-cased for lookups. */
  name: string;
  lname: string;
  /** [start, end): the whole field, continuation lines and final line end included. */
  start: number;
  end: number;
  /** First byte after the colon. */
  valueStart: number;
}

export interface HeaderBlock {
  fields: HeaderField[];
  /** Where the header block starts and where the body starts (after the blank line, if any). */
  start: number;
  bodyStart: number;
  /** The blank separator line [separatorStart, bodyStart), or null when the header ran to the end
   * of the entity or stopped at a line that is not a header field. */
  separatorStart: number | null;
}

const LF = 0x0a;
const CR = 0x0d;

/** RFC 5322 §3.6.8: ftext is printable US-ASCII except ":"; obs-optional allows WSP before ":". */
function fieldName(buf: Buffer, start: number, colon: number): string | null {
  let end = colon;
  while (end > start && (buf[end - 1] === 0x20 || buf[end - 1] === 0x09)) end--;
  if (end === start || end - start > 200) return null;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c < 0x21 || c > 0x7e) return null;
  }
  return buf.toString('latin1', start, end);
}

export interface HeaderScanOptions {
  /** End of the entity (default: end of buffer). */
  end?: number;
  /** Skip an mbox "From " line at the very start (a whole message, not a MIME part). */
  allowMboxFrom?: boolean;
}

/**
 * Split the header block starting at `start` into fields. The block ends at the first blank line
 * (included in the header), at the end of the entity, or at the first line that is neither a field
 * nor a continuation (that line starts the body, as most mail readers do).
 */
export function getHeaderFields(raw: Buffer, start: number, options: HeaderScanOptions = {}): HeaderBlock {
  const end = Math.max(start, Math.min(options.end ?? raw.length, raw.length));
  const limit = Math.min(end, start + MAX_HEADER_BYTES);
  const fields: HeaderField[] = [];
  // Searches run on a view that ends with the entity, so none looks past it.
  const view = raw.subarray(0, end);
  let pos = start;
  let current: HeaderField | null = null;
  const close = (at: number): void => {
    if (current) current.end = at;
    current = null;
  };
  while (pos < end) {
    const nl = view.indexOf(LF, pos);
    const lineEnd = nl < 0 || nl >= end ? end : nl + 1;
    if (lineEnd > limit || fields.length >= MAX_HEADER_FIELDS) {
      // Too much header: what follows is body.
      close(pos);
      return { fields, start, bodyStart: pos, separatorStart: null };
    }
    const first = raw[pos]!;
    if (first === LF || (first === CR && (pos + 1 === end || raw[pos + 1] === LF))) {
      close(pos);
      return { fields, start, bodyStart: lineEnd, separatorStart: pos };
    }
    if ((first === 0x20 || first === 0x09) && current) {
      pos = lineEnd; // RFC 5322 §2.2.3 continuation line
      continue;
    }
    const colon = raw.subarray(0, lineEnd).indexOf(0x3a, pos);
    const name = colon >= 0 && colon < lineEnd ? fieldName(raw, pos, colon) : null;
    if (name === null) {
      if (pos === start && options.allowMboxFrom && raw.toString('latin1', pos, Math.min(pos + 5, end)) === 'From ') {
        pos = lineEnd;
        continue;
      }
      close(pos);
      return { fields, start, bodyStart: pos, separatorStart: null };
    }
    close(pos);
    current = { name, lname: name.toLowerCase(), start: pos, end: lineEnd, valueStart: colon + 1 };
    fields.push(current);
    pos = lineEnd;
  }
  close(end);
  return { fields, start, bodyStart: end, separatorStart: null };
}

/** The field's value: unfolded (RFC 5322 §2.2.3: CRLF before WSP removed), leading and trailing
 * white space trimmed, 8-bit bytes read as UTF-8 or Windows-1252. RFC 2047 words are kept. */
export function headerValue(raw: Buffer, field: HeaderField): string {
  // Trim bytes first (no regex backtracking on long white space runs), then unfold.
  let start = field.valueStart;
  let end = field.end;
  while (start < end && (raw[start] === 0x20 || raw[start] === 0x09)) start++;
  while (end > start && (raw[end - 1] === 0x20 || raw[end - 1] === 0x09 || raw[end - 1] === LF || raw[end - 1] === CR)) end--;
  return decodeHeaderBytes(raw.subarray(start, end)).replace(/\r?\n(?=[ \t])/g, '');
}

/** The first field with this (case-insensitive) name, or undefined. */
export function findField(block: HeaderBlock, name: string): HeaderField | undefined {
  const lname = name.toLowerCase();
  return block.fields.find((f) => f.lname === lname);
}

/** The unfolded raw value of the first field with this name, or null when absent. */
export function fieldValue(raw: Buffer, block: HeaderBlock, name: string): string | null {
  const field = findField(block, name);
  return field ? headerValue(raw, field) : null;
}

/**
 * RFC 9051 §6.4.5 HEADER.FIELDS / HEADER.FIELDS.NOT: the exact bytes of the fields whose name
 * matches one of `names` (ASCII case-insensitively; with `not`, the fields that match none),
 * followed by the blank line. The blank line is left out only when the header has none (a
 * message without body and separator). A last field without a line end gets CRLF.
 */
export function selectHeaderFields(header: Buffer, names: string[], not: boolean): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const block = getHeaderFields(header, 0);
  const pieces: Buffer[] = [];
  for (const f of block.fields) {
    if (wanted.has(f.lname) === not) continue;
    const bytes = header.subarray(f.start, f.end);
    pieces.push(bytes);
    if (bytes.length > 0 && bytes[bytes.length - 1] !== LF) pieces.push(Buffer.from('\r\n'));
  }
  if (block.separatorStart !== null) {
    const blank = header.subarray(block.separatorStart, block.bodyStart);
    pieces.push(blank[blank.length - 1] === LF ? blank : Buffer.from('\r\n'));
  }
  return Buffer.concat(pieces);
}
