// IMAP URLs naming one message or part (RFC 5092 §6 imessagepart), as CATENATE (RFC 4469 §5)
// and URLAUTH (RFC 4467 §3) use them: absolute `imap://user@host/INBOX;UIDVALIDITY=1/;UID=2/;SECTION=1.2/;PARTIAL=0.100`
// or relative to the session's user `/INBOX;UIDVALIDITY=1/;UID=2`. Pure parsing, no store access.
//
// Invariants: a URL is at most MAX_URL_BYTES; the mailbox is percent-decoded UTF-8 (RFC 5092 §6
// enc-mailbox); numbers are positive and at most 2^32 - 1 (PARTIAL lengths too); a section is a
// part number path with an optional HEADER, TEXT or MIME (HEADER.FIELDS is not accepted).
import type { PartialRange, SectionSpec } from './wire/types.js';

export const MAX_URL_BYTES = 8192;

export interface ImapUrl {
  /** Absolute form only: the user of `imap://user@host` (decoded), and the host. */
  user?: string;
  host?: string;
  mailbox: string;
  uidValidity?: number;
  uid: number;
  section: SectionSpec;
  partial?: PartialRange;
  /** RFC 4467 §3 `;EXPIRE=` date-time, ms since epoch. */
  expire?: number;
  /** RFC 4467 §3 access identifier, e.g. "submit+user@example.com", "authuser", "anonymous". */
  access?: string;
  /** RFC 4467 §3: mechanism and token (hex), when the URL is authorised. */
  mechanism?: string;
  token?: string;
  /** The URL up to and including `;URLAUTH=access` (what the token signs, RFC 4467 §3). */
  rump?: string;
}

export class ImapUrlError extends Error {}

const MAX_NUMBER = 0xffffffff;

function decode(s: string): string {
  if (/%(?![0-9A-Fa-f]{2})/.test(s)) throw new ImapUrlError('bad percent-encoding');
  try {
    return decodeURIComponent(s);
  } catch {
    throw new ImapUrlError('bad percent-encoding');
  }
}

function number(s: string, what: string, allowZero = false): number {
  if (!/^\d{1,10}$/.test(s)) throw new ImapUrlError(`bad ${what}`);
  const n = Number(s);
  if (n > MAX_NUMBER || (!allowZero && n === 0)) throw new ImapUrlError(`bad ${what}`);
  return n;
}

/** RFC 5092 §6 enc-section → SectionSpec (part path, then HEADER / TEXT / MIME). */
export function parseUrlSection(text: string): SectionSpec {
  const s = decode(text).toUpperCase();
  const pieces = s.split('.');
  const part: number[] = [];
  while (pieces.length && /^\d+$/.test(pieces[0]!)) part.push(number(pieces.shift()!, 'section part'));
  const rest = pieces.join('.');
  if (rest === '') {
    if (part.length === 0) throw new ImapUrlError('empty section');
    return { part };
  }
  if (rest === 'HEADER' || rest === 'TEXT') return { part, text: rest };
  if (rest === 'MIME' && part.length > 0) return { part, text: 'MIME' };
  throw new ImapUrlError(`unsupported section ${text}`);
}

/** Parse an absolute or session-relative IMAP message URL (RFC 5092 §6, RFC 4467 §3). */
export function parseImapUrl(url: string): ImapUrl {
  if (Buffer.byteLength(url) > MAX_URL_BYTES) throw new ImapUrlError('URL too long');
  if (/[\s\x00-\x1f\x7f]/.test(url)) throw new ImapUrlError('URL holds spaces or controls');
  const out: Partial<ImapUrl> & { section: SectionSpec } = { section: { part: [] } };
  let path: string;
  if (/^imap:\/\//i.test(url)) {
    const rest = url.slice(7);
    const slash = rest.indexOf('/');
    if (slash < 0) throw new ImapUrlError('no message path');
    const server = rest.slice(0, slash);
    path = rest.slice(slash);
    const at = server.lastIndexOf('@');
    if (at >= 0) {
      const userinfo = server.slice(0, at);
      const user = userinfo.split(';')[0]!;
      if (user) out.user = decode(user);
      out.host = server.slice(at + 1).toLowerCase();
    } else out.host = server.toLowerCase();
  } else if (url.startsWith('/')) path = url;
  else throw new ImapUrlError('not an IMAP URL');
  // Split off the URLAUTH part: ;URLAUTH=access[:mechanism:token] (RFC 4467 §3).
  const authAt = path.search(/;URLAUTH=/i);
  let authText: string | undefined;
  if (authAt >= 0) {
    authText = path.slice(authAt + 9);
    path = path.slice(0, authAt);
  }
  const expireAt = path.search(/;EXPIRE=/i);
  if (expireAt >= 0) {
    const t = Date.parse(decode(path.slice(expireAt + 8)));
    if (Number.isNaN(t)) throw new ImapUrlError('bad EXPIRE');
    out.expire = t;
    path = path.slice(0, expireAt);
  }
  const segments = path.slice(1).split('/');
  const first = segments.shift()!;
  const [mailboxEnc, ...params] = first.split(';');
  if (!mailboxEnc) throw new ImapUrlError('no mailbox');
  out.mailbox = decode(mailboxEnc);
  for (const p of params) {
    const m = /^UIDVALIDITY=(.*)$/i.exec(p);
    if (!m) throw new ImapUrlError(`unknown mailbox parameter ${p}`);
    out.uidValidity = number(m[1]!, 'UIDVALIDITY');
  }
  for (const seg of segments) {
    const m = /^;(UID|SECTION|PARTIAL)=(.*)$/i.exec(seg);
    if (!m) throw new ImapUrlError(`unexpected ${seg || 'empty segment'}`);
    const key = m[1]!.toUpperCase();
    const value = m[2]!;
    if (key === 'UID') {
      if (out.uid !== undefined) throw new ImapUrlError('UID given twice');
      out.uid = number(value, 'UID');
    } else if (key === 'SECTION') {
      if (out.uid === undefined) throw new ImapUrlError('SECTION before UID');
      out.section = parseUrlSection(value);
    } else {
      if (out.uid === undefined) throw new ImapUrlError('PARTIAL before UID');
      const pm = /^(\d+)(?:\.(\d+))?$/.exec(value);
      if (!pm) throw new ImapUrlError('bad PARTIAL');
      const offset = number(pm[1]!, 'PARTIAL offset', true);
      const length = pm[2] === undefined ? MAX_NUMBER : number(pm[2], 'PARTIAL length');
      out.partial = { offset, length };
    }
  }
  if (out.uid === undefined) throw new ImapUrlError('no UID');
  if (authText !== undefined) {
    const [access, mechanism, token, ...more] = authText.split(':');
    if (!access || more.length) throw new ImapUrlError('bad URLAUTH');
    out.access = decode(access);
    out.rump = url.slice(0, url.length - authText.length + access.length);
    if (mechanism !== undefined) {
      if (!token || !/^[0-9a-fA-F]{32,}$/.test(token)) throw new ImapUrlError('bad URLAUTH token');
      out.mechanism = mechanism.toUpperCase();
      out.token = token.toLowerCase();
    }
  }
  return out as ImapUrl;
}
