// BODY[section] and BINARY[part] contents (RFC 9051 §6.4.5, RFC 3516 §4.2), cut from the raw
// message with the byte ranges the parser stored in MessageIndex (no re-parse of the body).
//
// Part numbering (RFC 9051 §6.4.5): every message has a part 1; a non-multipart message's part 1 is
// its body; multipart children are numbered from 1; the parts of a MESSAGE/RFC822 part number
// into the encapsulated message (its body is part N.1 when it is not multipart). HEADER, TEXT and
// HEADER.FIELDS[.NOT] after a part number apply only to a MESSAGE/RFC822 part. A section that names
// no part, or a HEADER/TEXT of a part that is not a message, is served as an empty string: "It's
// historical as to why meaningless text fetches return the empty string rather than a BAD"
// (M. Crispin, imap-protocol list, 2011).
import { BadCommand, Refused } from '../../shared/errors.js';
import type { BodyPart, MessageIndex } from '../../mail/types.js';
import { decodeBody, isKnownEncoding } from '../../mail/decode.js';
import { selectHeaderFields } from '../../mail/headers.js';
import type { PartialRange, SectionSpec } from '../wire/types.js';

/** Deeper part paths than this are treated as nonexistent (bounds the walk). */
const MAX_PART_DEPTH = 64;

/** The MIME part a section-part names, or null when there is none (RFC 9051 §6.4.5). */
export function findPart(index: MessageIndex, part: readonly number[]): BodyPart | null {
  if (part.length === 0 || part.length > MAX_PART_DEPTH) return null;
  let current: BodyPart | null = null;
  for (let i = 0; i < part.length; i++) {
    const n = part[i]!;
    // Where the number applies: the top message's body, the body of an encapsulated message, or a
    // multipart part's children.
    let container: BodyPart;
    if (current === null) container = index.body;
    else if (current.message) container = current.message.body;
    else if (current.parts) container = current;
    else return null;
    const isMessageBody = current === null || current.message !== undefined;
    if (container.parts) {
      const child = container.parts[n - 1];
      if (!child) return null;
      current = child;
    } else if (n === 1 && isMessageBody) {
      current = container;
    } else {
      return null;
    }
  }
  return current;
}

function slice(raw: Buffer, start: number, end: number): Buffer {
  const s = Math.max(0, Math.min(raw.length, start));
  const e = Math.max(s, Math.min(raw.length, end));
  return raw.subarray(s, e);
}

/**
 * The bytes of BODY[section] (RFC 9051 §6.4.5), before any partial; null when the section names
 * nothing (served as "" by the caller). The returned buffer may share memory with `raw`.
 */
export function sectionBytes(raw: Buffer, index: MessageIndex, section: SectionSpec): Buffer | null {
  // The message whose header/text HEADER, TEXT and HEADER.FIELDS address: [headerStart, bodyStart, end).
  let message: { headerStart: number; bodyStart: number; end: number } | null;
  if (section.part.length === 0) {
    message = { headerStart: 0, bodyStart: index.body.bodyStart, end: raw.length };
  } else {
    const part = findPart(index, section.part);
    if (!part) return null;
    switch (section.text) {
      case undefined:
        return slice(raw, part.bodyStart, part.bodyEnd);
      case 'MIME':
        return slice(raw, part.headerStart, part.bodyStart);
      default:
        if (!part.message) return null;
        message = { headerStart: part.message.body.headerStart, bodyStart: part.message.body.bodyStart, end: part.bodyEnd };
    }
  }
  switch (section.text) {
    case undefined:
      return slice(raw, message.headerStart, message.end);
    case 'HEADER':
      return slice(raw, message.headerStart, message.bodyStart);
    case 'TEXT':
      return slice(raw, message.bodyStart, message.end);
    case 'HEADER.FIELDS':
    case 'HEADER.FIELDS.NOT':
      return selectHeaderFields(slice(raw, message.headerStart, message.bodyStart), section.fields ?? [], section.text === 'HEADER.FIELDS.NOT');
    case 'MIME':
      // The parser allows MIME only after a part number; at the top level there is no MIME header.
      return null;
  }
}

/**
 * The byte range of the raw message BODY[section] reads, when it can be known from the index alone
 * (for reading only part of a blob); null when the section names nothing.
 */
export function sectionRange(index: MessageIndex, section: SectionSpec): { start: number; end: number } | null {
  if (section.part.length === 0) {
    switch (section.text) {
      case 'HEADER':
      case 'HEADER.FIELDS':
      case 'HEADER.FIELDS.NOT':
        return { start: 0, end: index.body.bodyStart };
      case 'TEXT':
        return { start: index.body.bodyStart, end: index.size };
      default:
        return { start: 0, end: index.size };
    }
  }
  const part = findPart(index, section.part);
  if (!part) return null;
  switch (section.text) {
    case undefined:
      return { start: part.bodyStart, end: part.bodyEnd };
    case 'MIME':
      return { start: part.headerStart, end: part.bodyStart };
    case 'TEXT':
      return part.message ? { start: part.message.body.bodyStart, end: part.bodyEnd } : null;
    default:
      return part.message ? { start: part.message.body.headerStart, end: part.message.body.bodyStart } : null;
  }
}

/**
 * RFC 9051 §6.4.5 partial: octets [offset, offset + length); an offset beyond the end gives an
 * empty string, a length past the end is truncated.
 */
export function applyPartial(buf: Buffer, partial: PartialRange | undefined): Buffer {
  if (!partial) return buf;
  if (partial.offset >= buf.length) return buf.subarray(0, 0);
  return buf.subarray(partial.offset, Math.min(buf.length, partial.offset + partial.length));
}

/**
 * BINARY[part] (RFC 3516 §4.2, RFC 9051 §6.4.5): the part's content with its
 * Content-Transfer-Encoding removed. `[]` is the whole message unchanged. Multipart and
 * MESSAGE/RFC822 parts have no content of their own to decode: BAD. An encoding we cannot decode:
 * NO [UNKNOWN-CTE] (RFC 3516 §4.3). A nonexistent part: null (served as "").
 */
export function binaryBytes(raw: Buffer, index: MessageIndex, options: { part: readonly number[] }): Buffer | null {
  const { part } = options;
  if (part.length === 0) return raw;
  const p = findPart(index, part);
  if (!p) return null;
  if (p.parts || p.message) throw new BadCommand(`BINARY[${part.join('.')}] is not a leaf part (multipart or message)`);
  if (!isKnownEncoding(p.encoding)) throw new Refused(`Cannot decode Content-Transfer-Encoding ${p.encoding}`, 'UNKNOWN-CTE');
  return decodeBody(slice(raw, p.bodyStart, p.bodyEnd), p.encoding);
}
