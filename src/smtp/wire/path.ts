// Reverse-path and forward-path syntax, RFC 5321 §4.1.2, with the RFC 6531 §3.3 extension
// (UTF-8 in local parts and domains when the transaction says SMTPUTF8). Source routes
// (A-d-l) are accepted and recorded but carry no meaning (RFC 5321 §4.1.2, Appendix C).
// Bounds: RFC 5321 §4.5.3.1 (local part 64, domain 255, path 256 octets).
import { isIPv4, isIPv6 } from 'node:net';
import { domainToASCII } from 'node:url';
import { MAX_DOMAIN, MAX_LOCAL_PART, MAX_PATH } from '../limits.js';

export interface MailPath {
  /** The local part as the client wrote it, quotes and backslashes removed. */
  localPart: string;
  /** True when the local part was a quoted string. */
  quoted: boolean;
  /** Lower-case ASCII (A-label) domain, or the bracketed address literal ("[192.0.2.1]"). */
  domain: string;
  /** The domain as written (U-labels kept). */
  domainAsWritten: string;
  addressLiteral: boolean;
  /** Source route domains ("@a,@b:") — syntax only, ignored for routing. */
  sourceRoute: string[];
  /** Any non-ASCII octet in the path (needs SMTPUTF8, RFC 6531 §3.5). */
  utf8: boolean;
  /** Canonical "local@domain": local part re-quoted only when it is not a dot-string. */
  address: string;
}

export class PathSyntaxError extends Error {
  override name = 'PathSyntaxError';
}

const ATEXT = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\u{10FFFF}]+$/u;
const ATEXT_ASCII = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+$/;
const LABEL = /^[A-Za-z0-9\u0080-\u{10FFFF}](?:[A-Za-z0-9\-\u0080-\u{10FFFF}]*[A-Za-z0-9\u0080-\u{10FFFF}])?$/u;

function isDotString(s: string, utf8: boolean): boolean {
  if (s.length === 0) return false;
  const re = utf8 ? ATEXT : ATEXT_ASCII;
  return s.split('.').every((atom) => re.test(atom));
}

/** Quote a local part when it is not a dot-string (RFC 5321 §4.1.2 Quoted-string). */
export function formatLocalPart(local: string): string {
  return isDotString(local, true) ? local : `"${local.replace(/(["\\])/g, '\\$1')}"`;
}

function parseDomain(text: string, utf8: boolean): { ascii: string; literal: boolean } {
  if (text.startsWith('[')) {
    if (!text.endsWith(']')) throw new PathSyntaxError('unterminated address literal');
    const inner = text.slice(1, -1);
    if (isIPv4(inner)) return { ascii: `[${inner}]`, literal: true };
    if (/^IPv6:/i.test(inner) && isIPv6(inner.slice(5))) return { ascii: `[IPv6:${inner.slice(5).toLowerCase()}]`, literal: true };
    // General-address-literal (§4.1.3) has no registered tags we could use.
    throw new PathSyntaxError('bad address literal');
  }
  if (text.length === 0) throw new PathSyntaxError('empty domain');
  const labels = text.split('.');
  // A trailing dot ("example.com.") is not RFC 5321 Domain syntax.
  for (const label of labels) if (!LABEL.test(label)) throw new PathSyntaxError('bad domain');
  let ascii = text.toLowerCase();
  if (/[^\x00-\x7f]/.test(text)) {
    if (!utf8) throw new PathSyntaxError('non-ASCII domain without SMTPUTF8');
    ascii = domainToASCII(text);
    if (ascii === '') throw new PathSyntaxError('bad internationalised domain');
  }
  if (Buffer.byteLength(ascii) > MAX_DOMAIN) throw new PathSyntaxError('domain too long');
  return { ascii, literal: false };
}

/** Parse a Mailbox ("local@domain", no angle brackets). */
export function parseMailbox(text: string, options: { utf8: boolean }): MailPath {
  let i = 0;
  let local = '';
  let quoted = false;
  if (text.startsWith('"')) {
    quoted = true;
    i = 1;
    for (;;) {
      if (i >= text.length) throw new PathSyntaxError('unterminated quoted string');
      const c = text[i]!;
      const code = c.codePointAt(0)!;
      if (c === '"') {
        i++;
        break;
      }
      if (c === '\\') {
        const n = text[i + 1];
        if (n === undefined || n.charCodeAt(0) < 32 || n.charCodeAt(0) > 126) throw new PathSyntaxError('bad quoted pair');
        local += n;
        i += 2;
        continue;
      }
      if (code < 32 || code === 127 || (code > 127 && !options.utf8)) throw new PathSyntaxError('bad character in quoted string');
      local += c;
      i += c.length;
    }
  } else {
    const at = text.lastIndexOf('@');
    if (at < 0) throw new PathSyntaxError('missing @');
    local = text.slice(0, at);
    if (!isDotString(local, options.utf8)) throw new PathSyntaxError('bad local part');
    i = at;
  }
  if (text[i] !== '@') throw new PathSyntaxError('missing @');
  if (Buffer.byteLength(local) > MAX_LOCAL_PART) throw new PathSyntaxError('local part too long');
  const domainText = text.slice(i + 1);
  const { ascii, literal } = parseDomain(domainText, options.utf8);
  const utf8 = /[^\x00-\x7f]/.test(text);
  if (utf8 && !options.utf8) throw new PathSyntaxError('non-ASCII address without SMTPUTF8');
  return {
    localPart: local,
    quoted,
    domain: ascii,
    domainAsWritten: domainText,
    addressLiteral: literal,
    sourceRoute: [],
    utf8,
    address: `${formatLocalPart(local)}@${ascii}`,
  };
}

/**
 * Parse "<path>" (possibly with a source route). Returns null for the null path "<>".
 * `rest` is what follows the closing bracket (the ESMTP parameters).
 */
export function parsePath(text: string, options: { utf8: boolean }): { path: MailPath | null; rest: string } {
  if (!text.startsWith('<')) throw new PathSyntaxError('path must be in angle brackets');
  // Find the closing bracket outside a quoted string.
  let inQuote = false;
  let close = -1;
  for (let i = 1; i < text.length; i++) {
    const c = text[i];
    if (inQuote) {
      if (c === '\\') i++;
      else if (c === '"') inQuote = false;
    } else if (c === '"') inQuote = true;
    else if (c === '>') {
      close = i;
      break;
    }
  }
  if (close < 0) throw new PathSyntaxError('missing >');
  if (Buffer.byteLength(text.slice(0, close + 1)) > MAX_PATH) throw new PathSyntaxError('path too long');
  let inner = text.slice(1, close);
  const rest = text.slice(close + 1);
  if (inner === '') return { path: null, rest };
  const route: string[] = [];
  if (inner.startsWith('@')) {
    const colon = inner.indexOf(':');
    if (colon < 0) throw new PathSyntaxError('bad source route');
    for (const hop of inner.slice(0, colon).split(',')) {
      if (!hop.startsWith('@')) throw new PathSyntaxError('bad source route');
      route.push(parseDomain(hop.slice(1), options.utf8).ascii);
    }
    inner = inner.slice(colon + 1);
  }
  const path = parseMailbox(inner, options);
  path.sourceRoute = route;
  return { path, rest };
}
