// FETCH data items (RFC 9051 §6.4.5 request, §7.5.2 response; RFC 3516 BINARY, RFC 7162 MODSEQ,
// RFC 8514 SAVEDATE, RFC 8474 EMAILID/THREADID, RFC 8970 PREVIEW). Pure rendering: the handler
// loads the record (and raw bytes only when `needsRaw` says so, possibly only the prefix that
// `rawRange` names) and writes `* n FETCH (name value …)` from the pairs returned here.
//
// Invariants: ENVELOPE, BODY, BODYSTRUCTURE, sizes and dates come from the stored MessageIndex
// and metadata, never from re-parsing; sections are cut by the index's byte ranges; a section that
// names nothing is the empty string ""; response names echo the request (BODY.PEEK answers as BODY).
import type { MessageRecord } from '../../store/store.js';
import type { MessageIndex } from '../../mail/types.js';
import type { FetchAttribute, ImapValue, PartialRange, SectionSpec } from '../wire/types.js';
import { renderBodyStructure } from './body-structure.js';
import { renderEnvelope } from './envelope.js';
import { previewEnd, previewText } from './preview.js';
import { applyPartial, binaryBytes, findPart, sectionBytes, sectionRange } from './section.js';

export interface FetchMessage {
  record: MessageRecord;
  /** The raw message, or a prefix of it as `rawRange` asked for; required when `needsRaw`. */
  raw?: Buffer;
  /** Sequence number in the session's view. */
  seq: number;
  /** The session holds \Recent for this message (RFC 3501 §2.3.2; IMAP4rev1 sessions only). */
  recentFlag?: boolean;
}

export interface FetchOptions {
  /** UTF8=ACCEPT is enabled (RFC 6855); strings may then carry UTF-8 as quoted strings. */
  utf8: boolean;
}

export interface FetchItem {
  name: ImapValue;
  value: ImapValue;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const pad2 = (n: number): string => String(n).padStart(2, '0');

/**
 * RFC 9051 §9 date-time: "17-Jul-1996 02:44:25 -0700", day space-padded (date-day-fixed).
 * The store keeps instants only, so the zone is given by `offsetMinutes` (default UTC, +0000).
 */
export function formatDateTime(ms: number, offsetMinutes = 0): string {
  const d = new Date(ms + offsetMinutes * 60_000);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const off = Math.abs(offsetMinutes);
  return (
    `${String(d.getUTCDate()).padStart(2, ' ')}-${MONTHS[d.getUTCMonth()]}-${String(d.getUTCFullYear()).padStart(4, '0')} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} ${sign}${pad2(Math.floor(off / 60))}${pad2(off % 60)}`
  );
}

/** RFC 9051 §9 atom-char, minus "[" for readability inside BODY[…]. */
const ATOM_SAFE = /^[!#$&'+,\-./0-9:;<=>?@A-Z^_`a-z|}~]+$/;

/** A header field name as the request wrote it, quoted unless it is a plain atom. */
function fieldName(name: string): string {
  if (ATOM_SAFE.test(name)) return name;
  return `"${name.replace(/[\\"]/g, (c) => `\\${c}`).replace(/[^\x20-\x7e]/g, '')}"`;
}

/** The section text as echoed in the response: "1.2.HEADER.FIELDS (From To)". */
export function sectionName(section: SectionSpec): string {
  const pieces: string[] = [];
  if (section.part.length > 0) pieces.push(section.part.join('.'));
  if (section.text) pieces.push(section.text);
  let s = pieces.join('.');
  if (section.text === 'HEADER.FIELDS' || section.text === 'HEADER.FIELDS.NOT') {
    s += ` (${(section.fields ?? []).map(fieldName).join(' ')})`;
  }
  return s;
}

function origin(partial: PartialRange | undefined): string {
  // RFC 9051 §7.5.2: the origin octet appears exactly when the request had a partial.
  return partial ? `<${partial.offset}>` : '';
}

/** Section bytes as a response value: "" for nothing (a quoted empty string, not {0}). */
function bytesValue(buf: Buffer | null): ImapValue {
  return buf === null || buf.length === 0 ? '' : buf;
}

function requireRaw(msg: FetchMessage, item: string): Buffer {
  if (!msg.raw) throw new Error(`FETCH ${item} needs the raw message (needsRaw was not honoured)`);
  return msg.raw;
}

function modseqValue(n: number): ImapValue {
  return Number.isSafeInteger(n) ? n : BigInt(n);
}

/** One FETCH data item: its response name and value (RFC 9051 §7.5.2). */
export function renderFetchItem(attr: FetchAttribute, msg: FetchMessage, options: FetchOptions): FetchItem {
  const { record } = msg;
  const index = record.index;
  switch (attr.kind) {
    case 'UID':
      return { name: { atom: 'UID' }, value: record.uid };
    case 'FLAGS': {
      const flags: ImapValue[] = record.flags.map((f) => ({ atom: f }));
      if (msg.recentFlag && !record.flags.includes('\\Recent')) flags.push({ atom: '\\Recent' });
      return { name: { atom: 'FLAGS' }, value: flags };
    }
    case 'INTERNALDATE':
      return { name: { atom: 'INTERNALDATE' }, value: formatDateTime(record.internalDate) };
    case 'RFC822.SIZE':
      return { name: { atom: 'RFC822.SIZE' }, value: record.size };
    case 'ENVELOPE':
      return { name: { atom: 'ENVELOPE' }, value: renderEnvelope(index.envelope) };
    case 'BODY':
      return { name: { atom: 'BODY' }, value: renderBodyStructure(index.body, false) };
    case 'BODYSTRUCTURE':
      return { name: { atom: 'BODYSTRUCTURE' }, value: renderBodyStructure(index.body, true) };
    case 'RFC822':
      return { name: { atom: 'RFC822' }, value: bytesValue(sectionBytes(requireRaw(msg, 'RFC822'), index, { part: [] })) };
    case 'RFC822.HEADER':
      return {
        name: { atom: 'RFC822.HEADER' },
        value: bytesValue(sectionBytes(requireRaw(msg, 'RFC822.HEADER'), index, { part: [], text: 'HEADER' })),
      };
    case 'RFC822.TEXT':
      return {
        name: { atom: 'RFC822.TEXT' },
        value: bytesValue(sectionBytes(requireRaw(msg, 'RFC822.TEXT'), index, { part: [], text: 'TEXT' })),
      };
    case 'BODY[]': {
      const bytes = sectionBytes(requireRaw(msg, 'BODY[]'), index, attr.section);
      return {
        name: { atom: `BODY[${sectionName(attr.section)}]${origin(attr.partial)}` },
        value: bytesValue(bytes && applyPartial(bytes, attr.partial)),
      };
    }
    case 'BINARY': {
      const bytes = binaryBytes(requireRaw(msg, 'BINARY'), index, { part: attr.part });
      const cut = bytes && applyPartial(bytes, attr.partial);
      // RFC 3516 §4.3: literal8 when the decoded data holds NUL, which a plain literal cannot carry.
      const value: ImapValue = cut === null || cut.length === 0 ? '' : cut.includes(0) ? { literal: cut, binary: true } : cut;
      return { name: { atom: `BINARY[${attr.part.join('.')}]${origin(attr.partial)}` }, value };
    }
    case 'BINARY.SIZE': {
      const size = binarySize(msg.raw, index, attr.part);
      return { name: { atom: `BINARY.SIZE[${attr.part.join('.')}]` }, value: size };
    }
    case 'MODSEQ':
      return { name: { atom: 'MODSEQ' }, value: [modseqValue(record.modseq)] };
    case 'SAVEDATE':
      return { name: { atom: 'SAVEDATE' }, value: record.saveDate ? formatDateTime(record.saveDate) : null };
    case 'EMAILID':
      return { name: { atom: 'EMAILID' }, value: [{ atom: record.emailId }] };
    case 'THREADID':
      // RFC 8474 §5.2: NIL when the server does not know a thread for the message.
      return { name: { atom: 'THREADID' }, value: record.threadId ? [{ atom: record.threadId }] : null };
    case 'PREVIEW':
      return { name: { atom: 'PREVIEW' }, value: previewText(requireRaw(msg, 'PREVIEW'), index) };
  }
}

/** BINARY.SIZE: identity encodings need no bytes; others decode (raw required). */
function binarySize(raw: Buffer | undefined, index: MessageIndex, part: readonly number[]): number {
  if (part.length === 0) return index.size;
  const p = findPart(index, part);
  if (!p) return 0;
  if (!p.parts && !p.message && IDENTITY.has(p.encoding.trim().toUpperCase())) return Math.max(0, p.bodyEnd - p.bodyStart);
  if (!raw) throw new Error('FETCH BINARY.SIZE needs the raw message (needsRaw was not honoured)');
  return binaryBytes(raw, index, { part })?.length ?? 0;
}

const IDENTITY = new Set(['7BIT', '8BIT', 'BINARY', '']);

/** True when any item reads message bytes (not just the index and metadata). */
export function needsRaw(attrs: readonly FetchAttribute[]): boolean {
  return attrs.some((a) => {
    switch (a.kind) {
      case 'RFC822':
      case 'RFC822.HEADER':
      case 'RFC822.TEXT':
      case 'BODY[]':
      case 'BINARY':
      case 'PREVIEW':
        return true;
      case 'BINARY.SIZE':
        // Decoding base64/QP to count octets needs the bytes; the caller cannot know the part's
        // encoding without the index, so ask for them (cheap for identity encodings anyway).
        return true;
      default:
        return false;
    }
  });
}

/** True when any item reads the MessageIndex (ENVELOPE, BODY[STRUCTURE], sections). */
export function needsIndex(attrs: readonly FetchAttribute[]): boolean {
  return needsRaw(attrs) || attrs.some((a) => a.kind === 'ENVELOPE' || a.kind === 'BODY' || a.kind === 'BODYSTRUCTURE');
}

/**
 * The prefix [0, end) of the raw message the items read, so a headers-only FETCH (phones' header
 * sync: BODY.PEEK[HEADER], BODY.PEEK[HEADER.FIELDS (…)], RFC822.HEADER) reads only the header
 * bytes via store.readBlob(hash, range). `end` is index.size when the whole message is needed.
 * Pass the bytes read as `raw` to renderFetchItem: the offsets stay valid because it is a prefix.
 */
export function rawRange(attrs: readonly FetchAttribute[], index: MessageIndex): { start: 0; end: number } {
  let end = 0;
  for (const a of attrs) {
    let range: { start: number; end: number } | null;
    switch (a.kind) {
      case 'RFC822.HEADER':
        range = sectionRange(index, { part: [], text: 'HEADER' });
        break;
      case 'BODY[]':
        range = sectionRange(index, a.section);
        break;
      case 'RFC822':
      case 'RFC822.TEXT':
      case 'BINARY':
      case 'BINARY.SIZE':
        range = { start: 0, end: index.size };
        break;
      case 'PREVIEW':
        range = { start: 0, end: previewEnd(index) };
        break;
      default:
        range = null;
    }
    if (range) end = Math.max(end, range.end);
  }
  return { start: 0, end: Math.min(end, index.size) };
}

