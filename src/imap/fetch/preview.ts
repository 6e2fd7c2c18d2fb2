// PREVIEW (RFC 8970 §3): a short plain-text summary of a message, from its first text/plain or
// text/html part (tags stripped), white space collapsed, in UTF-8 and not content-transfer-encoded
// (§3.3). At most 200 characters (the SHOULD of §3.3; 256 is the MUST NOT) and 256 octets; "" when
// no preview can be made (§3.2: "the server MUST return a zero-length string"). The preview is
// computed from the stored index and the part's bytes only, cheap enough that PREVIEW (LAZY)
// (§4.1) is answered with the text too, never NIL.
import type { BodyPart, MessageIndex } from '../../mail/types.js';
import { decodeBody, isKnownEncoding } from '../../mail/decode.js';
import { decodeCharset, decodeUnlabelled } from '../../mail/charset.js';

const MAX_CHARS = 200;
const MAX_OCTETS = 256;
/** Encoded bytes read from the part: plenty for 200 characters even of padded HTML. */
const MAX_INPUT = 64 * 1024;
const MAX_DEPTH = 64;

/** The first text/plain or text/html leaf, depth first, not descending into attached messages or attachments. */
function firstTextPart(part: BodyPart, depth: number): BodyPart | null {
  if (depth > MAX_DEPTH) return null;
  if (part.parts) {
    for (const child of part.parts) {
      const found = firstTextPart(child, depth + 1);
      if (found) return found;
    }
    return null;
  }
  if (part.type !== 'text' || (part.subtype !== 'plain' && part.subtype !== 'html')) return null;
  if (part.disposition?.type.toLowerCase() === 'attachment') return null;
  return part;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

/** Tags, comments, <script> and <style> removed; the common entities decoded. */
function stripHtml(html: string): string {
  const noBlocks = html
    .replace(/<!--[\s\S]*?(?:-->|$)/g, ' ')
    .replace(/<(script|style|head|title)\b[\s\S]*?(?:<\/\1\s*>|$)/gi, ' ')
    .replace(/<[^>]*(?:>|$)/g, ' ');
  return noBlocks.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});/gi, (all, ref: string) => {
    const r = ref.toLowerCase();
    if (r.startsWith('#')) {
      const code = r.startsWith('#x') ? parseInt(r.slice(2), 16) : parseInt(r.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : ' ';
    }
    return ENTITIES[r] ?? all;
  });
}

/** Cut to MAX_CHARS code points and MAX_OCTETS UTF-8 octets, never inside a surrogate pair. */
function truncate(text: string): string {
  let out = '';
  let chars = 0;
  let octets = 0;
  for (const ch of text) {
    const size = Buffer.byteLength(ch, 'utf8');
    if (chars + 1 > MAX_CHARS || octets + size > MAX_OCTETS) break;
    out += ch;
    chars++;
    octets += size;
  }
  return out;
}

/** The prefix [0, end) of the raw message previewText reads: up to the first text part's body,
 *  at most MAX_INPUT of it (a phone's message list never reads attachments). */
export function previewEnd(index: MessageIndex): number {
  const part = firstTextPart(index.body, 0);
  if (!part || !isKnownEncoding(part.encoding)) return 0;
  return Math.max(0, Math.min(part.bodyEnd, part.bodyStart + MAX_INPUT));
}

/** RFC 8970 preview text of a message: "" when it has no text/plain or text/html part. */
export function previewText(raw: Buffer, index: MessageIndex): string {
  const part = firstTextPart(index.body, 0);
  if (!part || !isKnownEncoding(part.encoding)) return '';
  const start = Math.max(0, Math.min(raw.length, part.bodyStart));
  const end = Math.max(start, Math.min(raw.length, part.bodyEnd, part.bodyStart + MAX_INPUT));
  const bytes = decodeBody(raw.subarray(start, end), part.encoding);
  const charset = part.params.find(([k]) => k === 'charset')?.[1];
  let text = charset === undefined ? decodeUnlabelled(bytes) : (decodeCharset(bytes, charset) ?? decodeUnlabelled(bytes));
  if (part.subtype === 'html') text = stripHtml(text);
  // Control characters (other than white space) have no place in a preview.
  text = text.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '');
  return truncate(text.replace(/\s+/gu, ' ').trim());
}
