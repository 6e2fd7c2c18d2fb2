// The MIME indexer: a raw message is parsed once, at delivery or APPEND, into the MessageIndex
// that IMAP serves ENVELOPE, BODYSTRUCTURE and BODY[section] from (RFC 9051 §7.5.2) without
// parsing again. Other files of this folder: headers.ts (header blocks, HEADER.FIELDS),
// decode.ts (RFC 2047 words, transfer encodings, search text), params.ts (Content-Type
// parameters, RFC 2231), address.ts (address lists), date.ts (Date:), charset.ts.
//
// Invariants:
// - indexMessage never throws; any input gives a sound index.
// - Offsets are byte offsets into the raw buffer as stored; for every part
//   headerStart <= bodyStart <= bodyEnd, and a child lies within its parent's body.
//   [headerStart, bodyStart) includes the blank separator line.
// - Work is bounded: MAX_PARTS parts, MAX_DEPTH nesting, MAX_HEADER_BYTES of header per entity;
//   boundaries are found with Buffer.indexOf, the message is never converted to a string.
//
// Choices where RFC 2046 leaves room (documented for IMAP):
// - A multipart without a boundary parameter, or whose boundary never occurs, is served as
//   text/plain; charset=us-ascii with the whole body (the contract: "a broken multipart is served
//   as text/plain"). A missing close delimiter ends the last part at the end of the multipart.
// - A message/rfc822 (or message/global) whose body has a base64 or quoted-printable transfer
//   encoding cannot be indexed in place and is served as application/octet-stream.
// - Beyond MAX_DEPTH, a multipart or message part is served as a text/plain leaf.
// - The envelope applies RFC 9051 §7.5.2's rule that an absent or empty Sender / Reply-To takes
//   the value of From, so IMAP can encode it as stored.
import type { BodyPart, Envelope, MessageIndex, SearchFields } from './types.js';
import { fieldValue, findField, getHeaderFields, headerValue, type HeaderBlock } from './headers.js';
import { parseContentType, parseDisposition, stripComments } from './params.js';
import { parseAddressList } from './address.js';
import { decodeWords } from './decode.js';
import { parseDate } from './date.js';

export const MAX_PARTS = 1000;
export const MAX_DEPTH = 64;
/** RFC 2046 §5.1.1 allows 70 characters; accept a little more from sloppy generators. */
const MAX_BOUNDARY = 200;

const LF = 0x0a;
const CR = 0x0d;

interface Context {
  parts: number;
}

/** Parse a raw message into its index. Never throws. */
export function indexMessage(raw: Buffer): MessageIndex {
  try {
    return buildIndex(raw);
  } catch {
    // Defence in depth: the parser is meant to be total, but a bug must not lose a message.
    return fallbackIndex(raw);
  }
}

/** The parser without indexMessage's safety net (tests check that it is total on its own). */
export function buildIndex(raw: Buffer): MessageIndex {
  const ctx: Context = { parts: 0 };
  const { envelope, body, block } = parseMessage(raw, { start: 0, end: raw.length, ctx, depth: 0 });
  return { version: 1, size: raw.length, envelope, body, search: searchFields(raw, block) };
}

interface Range {
  start: number;
  end: number;
  ctx: Context;
  depth: number;
}

function parseMessage(raw: Buffer, at: Range): { envelope: Envelope; body: BodyPart; block: HeaderBlock } {
  const block = getHeaderFields(raw, at.start, { end: at.end, allowMboxFrom: at.depth === 0 });
  const envelope = buildEnvelope(raw, block);
  const body = parseEntity(raw, block, { ...at, defaultMessage: false });
  return { envelope, body, block };
}

function buildEnvelope(raw: Buffer, block: HeaderBlock): Envelope {
  const value = (name: string): string | null => fieldValue(raw, block, name);
  const addresses = (name: string) => {
    const v = value(name);
    return v === null ? null : parseAddressList(v);
  };
  const from = addresses('from');
  return {
    date: value('date'),
    subject: value('subject'),
    from,
    sender: addresses('sender') ?? from,
    replyTo: addresses('reply-to') ?? from,
    to: addresses('to'),
    cc: addresses('cc'),
    bcc: addresses('bcc'),
    inReplyTo: value('in-reply-to'),
    messageId: value('message-id'),
  };
}

function searchFields(raw: Buffer, block: HeaderBlock): SearchFields {
  const decoded = (name: string): string => decodeWords(fieldValue(raw, block, name) ?? '');
  const date = fieldValue(raw, block, 'date');
  return {
    from: decoded('from'),
    to: decoded('to'),
    cc: decoded('cc'),
    bcc: decoded('bcc'),
    subject: decoded('subject'),
    messageId: fieldValue(raw, block, 'message-id') ?? '',
    inReplyTo: fieldValue(raw, block, 'in-reply-to') ?? '',
    references: fieldValue(raw, block, 'references') ?? '',
    date: date === null ? null : parseDate(date),
  };
}

/** Lines of [start, end): line ends counted, plus a last line without one. */
function countLines(raw: Buffer, start: number, end: number): number {
  // Searches run on a view that ends at `end`, so no search looks past the entity.
  const view = raw.subarray(0, end);
  let n = 0;
  let pos = start;
  while (pos < end) {
    const nl = view.indexOf(LF, pos);
    if (nl < 0 || nl >= end) break;
    n++;
    pos = nl + 1;
  }
  return end > start && raw[end - 1] !== LF ? n + 1 : n;
}

function asPlainText(raw: Buffer, part: BodyPart): void {
  part.type = 'text';
  part.subtype = 'plain';
  part.params = [['charset', 'us-ascii']];
  delete part.parts;
  delete part.message;
  part.lines = countLines(raw, part.bodyStart, part.bodyEnd);
}

function parseEntity(raw: Buffer, block: HeaderBlock, at: Range & { defaultMessage: boolean }): BodyPart {
  at.ctx.parts++;
  const value = (name: string): string | null => fieldValue(raw, block, name);
  const ctField = findField(block, 'content-type');
  const ct = ctField ? parseContentType(headerValue(raw, ctField)) : null;
  const [type, subtype, params] = ct
    ? [ct.type, ct.subtype, ct.params]
    : ctField === undefined && at.defaultMessage
      ? ['message', 'rfc822', []]
      : ['text', 'plain', [['charset', 'us-ascii'] as [string, string]]];
  const encoding = stripComments(value('content-transfer-encoding') ?? '').trim().toUpperCase() || '7BIT';
  const dispositionValue = value('content-disposition');
  const languageValue = value('content-language');
  const language = languageValue === null ? [] : stripComments(languageValue).split(',').map((l) => l.trim()).filter((l) => l !== '');
  const part: BodyPart = {
    type,
    subtype,
    params,
    id: value('content-id'),
    description: value('content-description'),
    encoding,
    md5: value('content-md5'),
    disposition: dispositionValue === null ? null : parseDisposition(dispositionValue),
    language: language.length > 0 ? language : null,
    location: value('content-location'),
    headerStart: block.start,
    bodyStart: block.bodyStart,
    bodyEnd: Math.max(block.bodyStart, at.end),
    lines: 0,
  };

  if (type === 'multipart') {
    const boundary = params.find(([k]) => k === 'boundary')?.[1];
    const children: BodyPart[] = [];
    if (boundary !== undefined && at.depth < MAX_DEPTH) {
      const ranges = findParts(raw, { start: part.bodyStart, end: part.bodyEnd, boundary, limit: MAX_PARTS - at.ctx.parts });
      for (const [start, end] of ranges) {
        if (at.ctx.parts >= MAX_PARTS) break;
        const childBlock = getHeaderFields(raw, start, { end });
        children.push(parseEntity(raw, childBlock, { start, end, ctx: at.ctx, depth: at.depth + 1, defaultMessage: subtype === 'digest' }));
      }
    }
    if (children.length > 0) part.parts = children;
    else asPlainText(raw, part);
  } else if (type === 'message' && (subtype === 'rfc822' || subtype === 'global')) {
    const inPlace = encoding === '7BIT' || encoding === '8BIT' || encoding === 'BINARY';
    if (!inPlace) {
      part.type = 'application';
      part.subtype = 'octet-stream';
    } else if (at.depth >= MAX_DEPTH || at.ctx.parts >= MAX_PARTS) {
      asPlainText(raw, part);
    } else {
      const nested = parseMessage(raw, { start: part.bodyStart, end: part.bodyEnd, ctx: at.ctx, depth: at.depth + 1 });
      part.message = { envelope: nested.envelope, body: nested.body };
      part.lines = countLines(raw, part.bodyStart, part.bodyEnd);
    }
  } else if (type === 'text') {
    part.lines = countLines(raw, part.bodyStart, part.bodyEnd);
  }
  return part;
}

interface PartSearch {
  start: number;
  end: number;
  boundary: string;
  /** Stop after this many parts. */
  limit: number;
}

/**
 * RFC 2046 §5.1.1: body parts between "--boundary" delimiter lines. The line end before a
 * delimiter belongs to the delimiter; the preamble and the epilogue (after "--boundary--") are
 * not parts. A delimiter line may carry trailing white space; "--boundaryX" is not a delimiter.
 * Returns the [start, end) of each part (empty list when no delimiter occurs).
 */
function findParts(raw: Buffer, s: PartSearch): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  if (s.boundary === '' || s.boundary.length > MAX_BOUNDARY || s.limit <= 0) return ranges;
  const needle = Buffer.from(`--${s.boundary}`, 'utf8');
  // Search a view that ends with the multipart: a boundary that never occurs costs one pass over
  // this multipart, not over the rest of the message.
  const view = raw.subarray(0, s.end);
  let pos = s.start;
  let partStart = -1;
  while (pos < s.end) {
    const idx = view.indexOf(needle, pos);
    if (idx < 0 || idx + needle.length > s.end) break;
    if (idx !== s.start && raw[idx - 1] !== LF) {
      pos = idx + 1;
      continue;
    }
    let j = idx + needle.length;
    let close = false;
    if (j + 1 < s.end && raw[j] === 0x2d && raw[j + 1] === 0x2d) {
      close = true;
      j += 2;
    }
    while (j < s.end && (raw[j] === 0x20 || raw[j] === 0x09)) j++;
    let lineEnd: number;
    if (j >= s.end) lineEnd = s.end;
    else if (raw[j] === LF) lineEnd = j + 1;
    else if (raw[j] === CR && (j + 1 >= s.end || raw[j + 1] === LF)) lineEnd = Math.min(j + 2, s.end);
    else {
      pos = idx + 1;
      continue;
    }
    if (partStart >= 0) {
      let partEnd = idx;
      if (partEnd > partStart && raw[partEnd - 1] === LF) {
        partEnd--;
        if (partEnd > partStart && raw[partEnd - 1] === CR) partEnd--;
      }
      ranges.push([partStart, partEnd]);
      if (ranges.length >= s.limit) return ranges;
    }
    if (close) return ranges;
    partStart = lineEnd;
    pos = lineEnd;
  }
  // No close delimiter: the last part runs to the end of the multipart (unless nothing follows
  // the last delimiter line: a truncated message does not gain an empty part).
  if (partStart >= 0 && partStart < s.end) ranges.push([partStart, s.end]);
  return ranges;
}

function fallbackIndex(raw: Buffer): MessageIndex {
  return {
    version: 1,
    size: raw.length,
    envelope: { date: null, subject: null, from: null, sender: null, replyTo: null, to: null, cc: null, bcc: null, inReplyTo: null, messageId: null },
    body: {
      type: 'text',
      subtype: 'plain',
      params: [['charset', 'us-ascii']],
      id: null,
      description: null,
      encoding: '7BIT',
      md5: null,
      disposition: null,
      language: null,
      location: null,
      headerStart: 0,
      bodyStart: 0,
      bodyEnd: raw.length,
      lines: countLines(raw, 0, raw.length),
    },
    search: { from: '', to: '', cc: '', bcc: '', subject: '', messageId: '', inReplyTo: '', references: '', date: null },
  };
}
