// SEARCH evaluation (RFC 9051 §6.4.4; RFC 3501 NEW/OLD/RECENT; RFC 5032 WITHIN; RFC 8514 SAVEDATE;
// RFC 7162 §3.1.5 MODSEQ; RFC 8474 EMAILID/THREADID; RFC 5182 "$"). Pure: one message at a time
// against a SearchContext the handler builds (messageSearchContext does it from a record).
//
// Invariants: string keys match case-insensitively as substrings of the decoded Unicode text
// (ASCII case folding is i;ascii-casemap, RFC 9051 §6.4.4; toLowerCase extends it to UTF-8);
// raw bytes are read only for BODY, TEXT and HEADER keys (`needsRaw`), lazily and once per message.
import type { MessageIndex } from '../../mail/types.js';
import type { MessageRecord } from '../../store/store.js';
import { bodyText as decodeBodyText, decodeHeaderBytes, decodeWords } from '../../mail/decode.js';
import { getHeaderFields, headerValue } from '../../mail/headers.js';
import type { ImapDate, SearchKey, SequenceSet } from '../wire/types.js';

export interface SearchContext {
  seq: number;
  uid: number;
  flags: readonly string[];
  /** RFC822.SIZE. */
  size: number;
  /** INTERNALDATE, ms since epoch. */
  internalDate: number;
  /** SAVEDATE (RFC 8514), ms since epoch; null when unknown. */
  saveDate: number | null;
  modseq: number;
  emailId: string;
  threadId: string;
  index: MessageIndex;
  /** Decoded values of every field with this name (case-insensitive), [] when absent. Lazy. */
  header(name: string): string[];
  /** Decoded text of the body's text parts (SEARCH BODY). Lazy. */
  bodyText(): string;
  /** Decoded header and body text (SEARCH TEXT). Lazy. */
  fullText(): string;
  /** Largest sequence number and UID in the session's view (the value of `*`). */
  maxSeq: number;
  maxUid: number;
  /** \Recent in this session (RFC 3501). */
  recent: boolean;
  /** UIDs of the result saved by SEARCH RETURN (SAVE) (RFC 5182), for `$`. */
  saved: ReadonlySet<number>;
  /** Now, ms since epoch (YOUNGER / OLDER). */
  now: number;
}

/** Bound on the text searched per message (characters). */
const MAX_TEXT = 4_000_000;
/** Bound on key nesting (the parser bounds it too; this keeps evaluation total). */
const MAX_DEPTH = 256;

const DAY_MS = 86_400_000;

function dayNumber(d: ImapDate): number {
  return Math.floor(Date.UTC(d.year, d.month - 1, d.day) / DAY_MS);
}

const MONTHS: Record<string, number> = { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 };

/**
 * The calendar day of the Date: header in its own zone ("disregarding time and timezone",
 * RFC 9051 §6.4.4 SENTBEFORE), read from the raw header text; the UTC day of the parsed date when
 * the text has no "d Mon yyyy"; null when there is no usable date.
 */
export function sentDay(index: MessageIndex): number | null {
  const m = /(?:^|[\s,])(\d{1,2})\s+([a-z]{3})[a-z]*\.?\s+(\d{2,4})\b/i.exec(index.envelope.date ?? '');
  if (m) {
    const month = MONTHS[m[2]!.toLowerCase()];
    let year = Number(m[3]);
    // RFC 5322 §4.3 obs-year: two digits < 50 are 20xx, otherwise 19xx; three digits + 1900.
    if (m[3]!.length === 2) year += year < 50 ? 2000 : 1900;
    else if (m[3]!.length === 3) year += 1900;
    const day = Number(m[1]);
    if (month !== undefined && day >= 1 && day <= 31) return dayNumber({ year, month, day });
  }
  return index.search.date === null ? null : Math.floor(index.search.date / DAY_MS);
}

function inSet(set: SequenceSet, n: number, max: number, ctx: SearchContext): boolean {
  if ('saved' in set) return ctx.saved.has(ctx.uid);
  for (const r of set.ranges) {
    const a = r.start === '*' ? max : r.start;
    const b = r.end === '*' ? max : r.end;
    if (n >= Math.min(a, b) && n <= Math.max(a, b)) return true;
  }
  return false;
}

function hasFlag(ctx: SearchContext, flag: string): boolean {
  const f = flag.toLowerCase();
  return ctx.flags.some((x) => x.toLowerCase() === f);
}

function contains(haystack: string, needle: string): boolean {
  return needle === '' || haystack.toLowerCase().includes(needle.toLowerCase());
}

/** Header fields whose decoded text the index already holds (no raw bytes needed). */
const INDEXED: Record<string, keyof MessageIndex['search']> = {
  from: 'from',
  to: 'to',
  cc: 'cc',
  bcc: 'bcc',
  subject: 'subject',
  'message-id': 'messageId',
  'in-reply-to': 'inReplyTo',
  references: 'references',
};

function indexedHeader(field: string, value: string): keyof MessageIndex['search'] | undefined {
  // An empty value tests presence, which the index cannot tell from an empty field.
  return value === '' ? undefined : INDEXED[field.toLowerCase()];
}

/** True when the message matches the key (RFC 9051 §6.4.4). */
export function evaluateSearch(key: SearchKey, ctx: SearchContext): boolean {
  return evaluate(key, ctx, 0);
}

function evaluate(key: SearchKey, ctx: SearchContext, depth: number): boolean {
  if (depth > MAX_DEPTH) return false;
  switch (key.key) {
    case 'ALL':
      return true;
    case 'ANSWERED':
      return hasFlag(ctx, '\\Answered');
    case 'DELETED':
      return hasFlag(ctx, '\\Deleted');
    case 'DRAFT':
      return hasFlag(ctx, '\\Draft');
    case 'FLAGGED':
      return hasFlag(ctx, '\\Flagged');
    case 'SEEN':
      return hasFlag(ctx, '\\Seen');
    case 'UNANSWERED':
      return !hasFlag(ctx, '\\Answered');
    case 'UNDELETED':
      return !hasFlag(ctx, '\\Deleted');
    case 'UNDRAFT':
      return !hasFlag(ctx, '\\Draft');
    case 'UNFLAGGED':
      return !hasFlag(ctx, '\\Flagged');
    case 'UNSEEN':
      return !hasFlag(ctx, '\\Seen');
    // RFC 3501 §6.4.4: NEW = RECENT UNSEEN, OLD = NOT RECENT.
    case 'RECENT':
      return ctx.recent;
    case 'NEW':
      return ctx.recent && !hasFlag(ctx, '\\Seen');
    case 'OLD':
      return !ctx.recent;
    // RFC 8514 §4.3: every message of a mailbox that keeps save dates.
    case 'SAVEDATESUPPORTED':
      return ctx.saveDate !== null;
    case 'KEYWORD':
      return hasFlag(ctx, key.flag);
    case 'UNKEYWORD':
      return !hasFlag(ctx, key.flag);
    case 'FROM':
    case 'TO':
    case 'CC':
    case 'BCC':
    case 'SUBJECT': {
      const field = key.key.toLowerCase() as 'from' | 'to' | 'cc' | 'bcc' | 'subject';
      return contains(ctx.index.search[field], key.value);
    }
    case 'BODY':
      return contains(ctx.bodyText(), key.value);
    case 'TEXT':
      return contains(ctx.fullText(), key.value);
    case 'HEADER': {
      const indexed = indexedHeader(key.field, key.value);
      if (indexed) return contains(String(ctx.index.search[indexed] ?? ''), key.value);
      return ctx.header(key.field).some((v) => contains(v, key.value));
    }
    case 'BEFORE':
      return Math.floor(ctx.internalDate / DAY_MS) < dayNumber(key.date);
    case 'ON':
      return Math.floor(ctx.internalDate / DAY_MS) === dayNumber(key.date);
    case 'SINCE':
      return Math.floor(ctx.internalDate / DAY_MS) >= dayNumber(key.date);
    case 'SENTBEFORE':
    case 'SENTON':
    case 'SENTSINCE': {
      const day = sentDay(ctx.index);
      if (day === null) return false;
      const want = dayNumber(key.date);
      return key.key === 'SENTBEFORE' ? day < want : key.key === 'SENTON' ? day === want : day >= want;
    }
    case 'SAVEDBEFORE':
    case 'SAVEDON':
    case 'SAVEDSINCE': {
      if (ctx.saveDate === null) return false;
      const day = Math.floor(ctx.saveDate / DAY_MS);
      const want = dayNumber(key.date);
      return key.key === 'SAVEDBEFORE' ? day < want : key.key === 'SAVEDON' ? day === want : day >= want;
    }
    case 'LARGER':
      return ctx.size > key.size;
    case 'SMALLER':
      return ctx.size < key.size;
    // RFC 5032 §3: OLDER = internal date older than n seconds; YOUNGER = within the last n seconds.
    case 'OLDER':
      return ctx.now - ctx.internalDate > key.seconds * 1000;
    case 'YOUNGER':
      return ctx.now - ctx.internalDate <= key.seconds * 1000;
    // RFC 7162 §3.1.5: mod-sequence ≥ the value (per-message modseq also stands for each flag's).
    case 'MODSEQ':
      return ctx.modseq >= key.modseq;
    case 'EMAILID':
      return ctx.emailId === key.id;
    case 'THREADID':
      return ctx.threadId === key.id;
    case 'UID':
      return inSet(key.set, ctx.uid, ctx.maxUid, ctx);
    case 'SEQUENCE':
      return inSet(key.set, ctx.seq, ctx.maxSeq, ctx);
    case 'NOT':
      return !evaluate(key.operand, ctx, depth + 1);
    case 'OR':
      return evaluate(key.left, ctx, depth + 1) || evaluate(key.right, ctx, depth + 1);
    case 'AND':
      return key.operands.every((k) => evaluate(k, ctx, depth + 1));
  }
}

/** Visit every key of the tree (bounded depth). */
function some(key: SearchKey, test: (k: SearchKey) => boolean, depth = 0): boolean {
  if (depth > MAX_DEPTH) return false;
  if (test(key)) return true;
  switch (key.key) {
    case 'NOT':
      return some(key.operand, test, depth + 1);
    case 'OR':
      return some(key.left, test, depth + 1) || some(key.right, test, depth + 1);
    case 'AND':
      return key.operands.some((k) => some(k, test, depth + 1));
    default:
      return false;
  }
}

/** True when a BODY or TEXT key needs the message text. */
export function needsText(key: SearchKey): boolean {
  return some(key, (k) => k.key === 'BODY' || k.key === 'TEXT');
}

/** True when a HEADER key needs header fields the index does not hold. */
export function needsHeaders(key: SearchKey): boolean {
  return some(key, (k) => k.key === 'HEADER' && indexedHeader(k.field, k.value) === undefined);
}

/** True when evaluating the key reads raw message bytes. */
export function needsRaw(key: SearchKey): boolean {
  return needsText(key) || needsHeaders(key);
}

/**
 * The prefix [0, end) of the raw message the key reads: the header only for HEADER keys, the whole
 * message for BODY/TEXT (read it with store.readBlob(hash, range) and pass it as `raw`).
 */
export function searchRawRange(key: SearchKey, index: MessageIndex): { start: 0; end: number } {
  return { start: 0, end: needsText(key) ? index.size : needsHeaders(key) ? Math.min(index.size, index.body.bodyStart) : 0 };
}

/** True when the key has MODSEQ: the SEARCH response then carries (MODSEQ n) (RFC 7162 §3.1.5). */
export function usesModseq(key: SearchKey): boolean {
  return some(key, (k) => k.key === 'MODSEQ');
}

export interface MessageSearchOptions {
  seq: number;
  /** The raw message; needed only when `needsRaw(key)`; headers and text throw without it. */
  raw?: Buffer;
  recent?: boolean;
  maxSeq: number;
  maxUid: number;
  saved?: ReadonlySet<number>;
  now: number;
}

const EMPTY_SET: ReadonlySet<number> = new Set();

/** A SearchContext over a stored record, with lazy, memoised header and text extraction. */
export function messageSearchContext(record: MessageRecord, options: MessageSearchOptions): SearchContext {
  const { raw } = options;
  const need = (what: string): Buffer => {
    if (!raw) throw new Error(`SEARCH ${what} needs the raw message (needsRaw was not honoured)`);
    return raw;
  };
  let headers: Array<{ lname: string; value: string }> | undefined;
  let headerText: string | undefined;
  let body: string | undefined;
  const readHeaders = (): Array<{ lname: string; value: string }> => {
    if (!headers) {
      const r = need('HEADER');
      const block = getHeaderFields(r, 0, { end: Math.min(r.length, record.index.body.bodyStart) });
      headers = block.fields.map((f) => ({ lname: f.lname, value: decodeWords(headerValue(r, f)) }));
    }
    return headers;
  };
  const bodyText = (): string => {
    body ??= decodeBodyText(need('BODY'), record.index, { maxChars: MAX_TEXT });
    return body;
  };
  return {
    seq: options.seq,
    uid: record.uid,
    flags: record.flags,
    size: record.size,
    internalDate: record.internalDate,
    saveDate: record.saveDate || null,
    modseq: record.modseq,
    emailId: record.emailId,
    threadId: record.threadId,
    index: record.index,
    header(name) {
      const lname = name.toLowerCase();
      return readHeaders()
        .filter((h) => h.lname === lname)
        .map((h) => h.value);
    },
    bodyText,
    fullText() {
      if (headerText === undefined) {
        const r = need('TEXT');
        const head = r.subarray(0, Math.min(r.length, record.index.body.bodyStart, MAX_TEXT));
        headerText = decodeWords(decodeHeaderBytes(head).replace(/\r?\n(?=[ \t])/g, ''));
      }
      return `${headerText}\n${bodyText()}`;
    },
    maxSeq: options.maxSeq,
    maxUid: options.maxUid,
    recent: options.recent ?? false,
    saved: options.saved ?? EMPTY_SET,
    now: options.now,
  };
}
