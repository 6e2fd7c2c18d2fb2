// MIME header values with parameters: Content-Type (RFC 2045 §5.1), Content-Disposition
// (RFC 2183), with RFC 2231 continuations, charsets and languages. Lenient with the broken forms
// common in real mail (unquoted values with spaces, stray semicolons, trailing comments).
import type { ParamList } from './types.js';
import { decodeCharset, decodeUnlabelled } from './charset.js';

/** At most this many parameters per header, and RFC 2231 sections per parameter. */
export const MAX_PARAMS = 256;
export const MAX_SECTIONS = 1000;

/** Remove RFC 5322 comments outside quoted strings. */
export function stripComments(s: string): string {
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quoted) {
      out += c;
      if (c === '\\' && i + 1 < s.length) out += s[++i];
      else if (c === '"') quoted = false;
    } else if (depth > 0) {
      if (c === '\\') i++;
      else if (c === '(') depth++;
      else if (c === ')') depth--;
    } else if (c === '(') {
      depth = 1;
    } else {
      if (c === '"') quoted = true;
      out += c;
    }
  }
  return out;
}

/** Split on ";" outside quoted strings. */
function splitParams(s: string): string[] {
  const out: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') {
      quoted = true;
    } else if (c === ';') {
      out.push(s.slice(start, i));
      start = i + 1;
      if (out.length > MAX_PARAMS) return out;
    }
  }
  out.push(s.slice(start));
  return out;
}

function unquote(v: string): string {
  if (!v.startsWith('"')) {
    // A trailing comment, as in RFC 2045's "charset=us-ascii (Plain text)".
    const t = v.trim();
    const open = t.endsWith(')') ? t.lastIndexOf('(') : -1;
    return open >= 0 && !t.slice(open + 1, -1).includes(')') ? t.slice(0, open).trim() : t;
  }
  let out = '';
  for (let i = 1; i < v.length; i++) {
    const c = v[i]!;
    if (c === '\\' && i + 1 < v.length) out += v[++i];
    else if (c === '"') break;
    else out += c;
  }
  return out;
}

function percentDecode(s: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x25 && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 3))) {
      bytes.push(parseInt(s.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (c < 0x80) {
      bytes.push(c);
    } else {
      bytes.push(...Buffer.from(s[i]!, 'utf8'));
    }
  }
  return Buffer.from(bytes);
}

interface Section {
  value: string;
  encoded: boolean;
}

/** Parse "; a=b; c*0*=utf-8''x; c*1=y" into [name, value] pairs, RFC 2231 sections joined. */
export function parseParams(s: string): ParamList {
  const order: string[] = [];
  const plain = new Map<string, string>();
  const extended = new Map<string, Map<number, Section>>();
  for (const piece of splitParams(s)) {
    const eq = piece.indexOf('=');
    if (eq <= 0) continue;
    const rawName = stripComments(piece.slice(0, eq)).trim().toLowerCase();
    if (rawName === '' || rawName.length > 100 || /[\s"]/.test(rawName)) continue;
    const value = unquote(piece.slice(eq + 1).trim());
    // RFC 2231 §3, §4: name*N for continuations, a trailing "*" for charset'lang'%XX encoding.
    const m = /^([^*]+)\*(?:(\d{1,4})(\*)?)?$/.exec(rawName);
    let name = rawName;
    if (m) {
      name = m[1]!;
      const index = m[2] === undefined ? 0 : Number(m[2]);
      const encoded = m[2] === undefined ? true : m[3] === '*';
      if (index < MAX_SECTIONS) {
        let sections = extended.get(name);
        if (!sections) extended.set(name, (sections = new Map()));
        if (!sections.has(index)) sections.set(index, { value, encoded });
      }
    } else if (!plain.has(name)) {
      plain.set(name, value);
    }
    if (!order.includes(name)) order.push(name);
    if (order.length >= MAX_PARAMS) break;
  }
  const out: ParamList = [];
  for (const name of order) {
    const sections = extended.get(name);
    const joined = sections ? joinSections(sections) : null;
    if (joined !== null) out.push([name, joined]);
    else if (plain.has(name)) out.push([name, plain.get(name)!]);
  }
  return out;
}

function joinSections(sections: Map<number, Section>): string | null {
  const first = sections.get(0);
  if (!first) return null;
  let charset = '';
  const chunks: Buffer[] = [];
  for (let i = 0; sections.has(i); i++) {
    const sec = sections.get(i)!;
    let value = sec.value;
    if (i === 0 && sec.encoded) {
      const q1 = value.indexOf("'");
      const q2 = q1 < 0 ? -1 : value.indexOf("'", q1 + 1);
      if (q2 >= 0) {
        charset = value.slice(0, q1);
        value = value.slice(q2 + 1);
      }
    }
    chunks.push(sec.encoded ? percentDecode(value) : Buffer.from(value, 'utf8'));
  }
  const bytes = Buffer.concat(chunks);
  return (charset === '' ? null : decodeCharset(bytes, charset)) ?? decodeUnlabelled(bytes);
}

export interface ContentType {
  type: string;
  subtype: string;
  params: ParamList;
}

/** "Type/Subtype; params" → lower-case type and subtype, or null when malformed (RFC 2045 §5.2
 * then says: treat as text/plain; charset=us-ascii). */
export function parseContentType(value: string): ContentType | null {
  const semi = splitParams(value)[0] ?? '';
  const m = /^\s*([^\s/;"]+)\s*\/\s*([^\s/;"]+)\s*$/.exec(stripComments(semi));
  if (!m) return null;
  return { type: m[1]!.toLowerCase(), subtype: m[2]!.toLowerCase(), params: parseParams(value.slice(semi.length + 1)) };
}

/** RFC 2183 Content-Disposition: lower-case type and parameters, or null when empty. */
export function parseDisposition(value: string): { type: string; params: ParamList } | null {
  const semi = splitParams(value)[0] ?? '';
  const type = stripComments(semi).trim().toLowerCase();
  if (type === '' || /[\s"]/.test(type)) return null;
  return { type, params: parseParams(value.slice(semi.length + 1)) };
}
