// Decoding of header and body text: RFC 2047 encoded words, 8-bit header bytes, RFC 2045
// transfer encodings, and the Unicode text of a message's text parts for SEARCH BODY/TEXT.
// Every function is total: malformed input is decoded as far as it goes, never thrown on.
import type { BodyPart, MessageIndex } from './types.js';
import { decodeCharset, decodeUnlabelled } from './charset.js';

/** Header bytes as Unicode: UTF-8 when valid (RFC 6532), else Windows-1252 / Latin-1. */
export function decodeHeaderBytes(buf: Buffer): string {
  return decodeUnlabelled(buf);
}

// ---------------------------------------------------------------------------------------------
// RFC 2047 encoded words

/** RFC 2047 §2: =?charset?encoding?encoded-text?= (charset may carry "*lang", RFC 2231 §5). */
const ENCODED_WORD = /=\?([^?\s]{1,80})\?([bBqQ])\?([^?\r\n]*)\?=/g;

interface WordSegment {
  kind: 'word';
  raw: string;
  charset: string;
  bytes: Buffer;
  /** White space before this word that §6.2 drops (it followed another encoded word). */
  gap: string;
}
interface TextSegment {
  kind: 'text';
  raw: string;
}

/** RFC 2047 §4.2 "Q": like quoted-printable, "_" is a space. */
function decodeQWord(text: string): Buffer {
  const out = Buffer.alloc(Buffer.byteLength(text, 'utf8'));
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5f) {
      out[n++] = 0x20;
    } else if (c === 0x3d && i + 2 < text.length && isHex(text.charCodeAt(i + 1)) && isHex(text.charCodeAt(i + 2))) {
      out[n++] = (hexValue(text.charCodeAt(i + 1)) << 4) | hexValue(text.charCodeAt(i + 2));
      i += 2;
    } else if (c < 0x80) {
      out[n++] = c;
    } else {
      n += out.write(text[i]!, n, 'utf8');
    }
  }
  return out.subarray(0, n);
}

/**
 * Decode RFC 2047 encoded words in an (unfolded) header value. Linear white space between two
 * adjacent encoded words is dropped (§6.2); adjacent words in one charset are joined as bytes
 * first, so a character split across words survives. An unknown charset keeps the words raw.
 */
export function decodeWords(text: string): string {
  if (!text.includes('=?')) return text;
  const segments: Array<WordSegment | TextSegment> = [];
  let last = 0;
  for (const m of text.matchAll(ENCODED_WORD)) {
    const at = m.index;
    if (at > last) segments.push({ kind: 'text', raw: text.slice(last, at) });
    const charset = m[1]!;
    const encoded = m[3]!;
    const bytes = m[2]!.toLowerCase() === 'b' ? decodeBase64(Buffer.from(encoded, 'latin1')) : decodeQWord(encoded);
    segments.push({ kind: 'word', raw: m[0], charset: charset.toLowerCase().split('*')[0]!, bytes, gap: '' });
    last = at + m[0].length;
  }
  if (last < text.length) segments.push({ kind: 'text', raw: text.slice(last) });

  // §6.2: white space between two encoded words is not displayed.
  const items: Array<WordSegment | TextSegment> = [];
  for (let k = 0; k < segments.length; k++) {
    const seg = segments[k]!;
    const next = segments[k + 1];
    if (seg.kind === 'text' && items.at(-1)?.kind === 'word' && next?.kind === 'word' && /^[ \t\r\n]*$/.test(seg.raw)) {
      next.gap = seg.raw;
      continue;
    }
    items.push(seg);
  }

  let out = '';
  let previousRaw = false;
  let i = 0;
  while (i < items.length) {
    const item = items[i]!;
    if (item.kind === 'text') {
      out += item.raw;
      previousRaw = false;
      i++;
      continue;
    }
    const run: WordSegment[] = [item];
    let j = i + 1;
    for (; j < items.length; j++) {
      const next = items[j]!;
      if (next.kind !== 'word' || next.charset !== item.charset) break;
      run.push(next);
    }
    const decoded = decodeCharset(Buffer.concat(run.map((w) => w.bytes)), item.charset);
    if (decoded === null) {
      out += run.map((w, k) => (k > 0 || previousRaw ? w.gap : '') + w.raw).join('');
      previousRaw = true;
    } else {
      out += (previousRaw ? item.gap : '') + decoded;
      previousRaw = false;
    }
    i = j;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// RFC 2045 §6 transfer encodings

const B64 = new Int8Array(256).fill(-1);
for (let i = 0; i < 64; i++) B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;

/** RFC 2045 §6.8: characters outside the alphabet are ignored; "=" ends a quantum (so
 * concatenated base64 blocks still decode). */
function decodeBase64(buf: Buffer): Buffer {
  const out = Buffer.allocUnsafe(Math.floor((buf.length * 3) / 4) + 3);
  let n = 0;
  let acc = 0;
  let count = 0;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    const v = B64[c]!;
    if (v >= 0) {
      acc = (acc << 6) | v;
      if (++count === 4) {
        out[n++] = (acc >> 16) & 0xff;
        out[n++] = (acc >> 8) & 0xff;
        out[n++] = acc & 0xff;
        acc = 0;
        count = 0;
      }
    } else if (c === 0x3d && count > 0) {
      if (count === 2) out[n++] = (acc >> 4) & 0xff;
      else if (count === 3) {
        out[n++] = (acc >> 10) & 0xff;
        out[n++] = (acc >> 2) & 0xff;
      }
      acc = 0;
      count = 0;
    }
  }
  if (count === 2) out[n++] = (acc >> 4) & 0xff;
  else if (count === 3) {
    out[n++] = (acc >> 10) & 0xff;
    out[n++] = (acc >> 2) & 0xff;
  }
  return out.subarray(0, n);
}

const isHex = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
const hexValue = (c: number): number => (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x61 + 10);

/** RFC 2045 §6.7: "=XX" octets, "=" at line end is a soft break, trailing white space on a line is
 * transport padding and dropped; a stray "=" is kept literally. Line ends are kept as written. */
function decodeQuotedPrintable(buf: Buffer): Buffer {
  const out = Buffer.allocUnsafe(buf.length);
  let n = 0;
  let i = 0;
  const len = buf.length;
  while (i < len) {
    const c = buf[i]!;
    if (c === 0x3d) {
      if (i + 2 < len && isHex(buf[i + 1]!) && isHex(buf[i + 2]!)) {
        out[n++] = (hexValue(buf[i + 1]!) << 4) | hexValue(buf[i + 2]!);
        i += 3;
        continue;
      }
      // Soft line break: "=" [white space] (CRLF | LF | end)
      let j = i + 1;
      while (j < len && (buf[j] === 0x20 || buf[j] === 0x09)) j++;
      if (j === len) break;
      if (buf[j] === 0x0a) {
        i = j + 1;
        continue;
      }
      if (buf[j] === 0x0d && (j + 1 === len || buf[j + 1] === 0x0a)) {
        i = j + 2;
        continue;
      }
      out[n++] = c;
      i++;
      continue;
    }
    if (c === 0x20 || c === 0x09) {
      let j = i;
      while (j < len && (buf[j] === 0x20 || buf[j] === 0x09)) j++;
      const atLineEnd = j === len || buf[j] === 0x0a || (buf[j] === 0x0d && buf[j + 1] === 0x0a);
      if (!atLineEnd) {
        buf.copy(out, n, i, j);
        n += j - i;
      }
      i = j;
      continue;
    }
    out[n++] = c;
    i++;
  }
  return out.subarray(0, n);
}

/** Transfer encodings decodeBody understands (IMAP BINARY answers UNKNOWN-CTE for others, RFC 3516 §4.2). */
export function isKnownEncoding(encoding: string): boolean {
  return ['7bit', '8bit', 'binary', 'base64', 'quoted-printable', ''].includes(encoding.trim().toLowerCase());
}

/** Undo a Content-Transfer-Encoding. 7bit/8bit/binary (and unknown ones) pass through unchanged. */
export function decodeBody(body: Buffer, encoding: string): Buffer {
  switch (encoding.trim().toLowerCase()) {
    case 'base64':
      return decodeBase64(body);
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    default:
      return body;
  }
}

// ---------------------------------------------------------------------------------------------
// Text for SEARCH BODY / TEXT

export interface BodyTextOptions {
  /** Stop after this many characters of text (default 1,000,000). */
  maxChars?: number;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** A rough HTML → text: tags, comments, scripts and styles dropped, common entities decoded,
 * white space runs collapsed to one space. */
function htmlToText(html: string): string {
  let out = '';
  let i = 0;
  const lower = html.toLowerCase();
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    if (lt < 0) {
      out += html.slice(i);
      break;
    }
    out += html.slice(i, lt);
    let close: number;
    if (lower.startsWith('<!--', lt)) {
      close = lower.indexOf('-->', lt + 4);
      close = close < 0 ? html.length : close + 3;
    } else if (lower.startsWith('<script', lt) || lower.startsWith('<style', lt)) {
      const name = lower.startsWith('<script', lt) ? '</script' : '</style';
      const end = lower.indexOf(name, lt);
      const gt = end < 0 ? -1 : lower.indexOf('>', end);
      close = gt < 0 ? html.length : gt + 1;
    } else {
      const gt = html.indexOf('>', lt);
      close = gt < 0 ? html.length : gt + 1;
    }
    out += ' ';
    i = close;
  }
  return out.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});/gi, (all, ref: string) => {
    const r = ref.toLowerCase();
    if (r.startsWith('#')) {
      const code = r.startsWith('#x') ? parseInt(r.slice(2), 16) : parseInt(r.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : all;
    }
    return ENTITIES[r] ?? all;
  }).replace(/\s+/g, ' ').trim();
}

function paramValue(part: BodyPart, name: string): string | undefined {
  return part.params.find(([k]) => k === name)?.[1];
}

/**
 * The decoded Unicode text of a message's text/* parts (HTML reduced to text), with the headers of
 * attached messages, for SEARCH BODY/TEXT. Bounded: at most maxChars characters.
 */
export function bodyText(raw: Buffer, index: MessageIndex, options: BodyTextOptions = {}): string {
  const maxChars = options.maxChars ?? 1_000_000;
  const chunks: string[] = [];
  let total = 0;
  const push = (s: string): boolean => {
    if (total >= maxChars) return false;
    const piece = s.length > maxChars - total ? s.slice(0, maxChars - total) : s;
    chunks.push(piece);
    total += piece.length;
    return total < maxChars;
  };
  const clamp = (n: number): number => Math.max(0, Math.min(raw.length, n));
  const walk = (part: BodyPart, depth: number): boolean => {
    if (depth > 64) return true;
    if (part.parts) {
      for (const child of part.parts) if (!walk(child, depth + 1)) return false;
      return true;
    }
    if (part.message) {
      const m = part.message.body;
      const header = raw.subarray(clamp(m.headerStart), clamp(m.bodyStart));
      const headerText = decodeWords(decodeHeaderBytes(header.subarray(0, maxChars * 2)).replace(/\r?\n(?=[ \t])/g, ''));
      if (!push(headerText)) return false;
      return walk(m, depth + 1);
    }
    if (part.type !== 'text') return true;
    // Enough encoded bytes for the remaining budget, whatever the encoding and charset.
    const start = clamp(part.bodyStart);
    const end = clamp(Math.min(part.bodyEnd, part.bodyStart + (maxChars - total) * 4 + 4));
    const bytes = decodeBody(raw.subarray(start, Math.max(start, end)), part.encoding);
    const charset = paramValue(part, 'charset');
    let text = charset === undefined ? decodeUnlabelled(bytes) : (decodeCharset(bytes, charset) ?? decodeUnlabelled(bytes));
    if (part.subtype === 'html') text = htmlToText(text);
    return push(text) && push('\n');
  };
  walk(index.body, 0);
  return chunks.join('');
}
