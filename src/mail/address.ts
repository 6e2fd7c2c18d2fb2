// Address lists (RFC 5322 §3.4, obsolete forms of §4.4) into IMAP ENVELOPE address structures
// (RFC 9051 §7.5.2), plus strict single-address parsing for other layers. Display names stay raw
// (RFC 2047 words not decoded; quoted strings unquoted). Garbage is tolerated, never thrown on.
import type { EnvelopeAddress } from './types.js';

/** At most this many address structures (group markers included) per header field. */
export const MAX_ADDRESSES = 10_000;
/** Placeholders for a missing local part or domain, so a broken address is never read as a group
 * marker (host NIL); the same words Dovecot uses, which clients already show sensibly. */
export const MISSING_MAILBOX = 'MISSING_MAILBOX';
export const MISSING_DOMAIN = 'MISSING_DOMAIN';

type Token =
  | { t: 'atom'; v: string; sp: boolean }
  | { t: 'quoted'; v: string; raw: string; sp: boolean }
  | { t: 'comment'; v: string; sp: boolean }
  | { t: 'literal'; v: string; sp: boolean }
  | { t: 'special'; v: string; sp: boolean };

const SPECIALS = '()<>[]:;@\\,."';

function tokenize(s: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  let sp = false;
  const n = s.length;
  while (i < n) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      sp = true;
      i++;
      continue;
    }
    if (c === '"') {
      let v = '';
      let j = i + 1;
      while (j < n && s[j] !== '"') {
        if (s[j] === '\\' && j + 1 < n) j++;
        if (s[j] !== '\r' && s[j] !== '\n') v += s[j];
        j++;
      }
      tokens.push({ t: 'quoted', v, raw: s.slice(i, Math.min(j + 1, n)), sp });
      i = j + 1;
    } else if (c === '(') {
      let depth = 1;
      let v = '';
      let j = i + 1;
      for (; j < n; j++) {
        const d = s[j]!;
        if (d === '\\' && j + 1 < n) {
          v += s[++j];
          continue;
        }
        if (d === '(') depth++;
        else if (d === ')' && --depth === 0) break;
        v += d;
      }
      tokens.push({ t: 'comment', v, sp });
      i = j + 1;
    } else if (c === '[') {
      const close = s.indexOf(']', i);
      const j = close < 0 ? n : close + 1;
      tokens.push({ t: 'literal', v: s.slice(i, j), sp });
      i = j;
    } else if (SPECIALS.includes(c)) {
      tokens.push({ t: 'special', v: c, sp });
      i++;
    } else {
      let j = i + 1;
      while (j < n && !SPECIALS.includes(s[j]!) && !' \t\r\n'.includes(s[j]!)) j++;
      tokens.push({ t: 'atom', v: s.slice(i, j), sp });
      i = j;
    }
    // A comment counts as white space between the tokens around it (RFC 5322 §3.2.2 CFWS).
    sp = tokens[tokens.length - 1]!.t === 'comment';
  }
  return tokens;
}

/** A display phrase: quoted strings unquoted, comments dropped, white space kept as one space. */
function phraseText(tokens: Token[]): string | null {
  let out = '';
  for (const tok of tokens) {
    if (tok.t === 'comment') continue;
    if (tok.sp && out !== '') out += ' ';
    out += tok.v;
  }
  out = out.trim();
  return out === '' ? null : out;
}

/** Local part or domain as written, without the CFWS around its pieces; quoted strings keep quotes. */
function specText(tokens: Token[]): string {
  let out = '';
  for (const tok of tokens) {
    if (tok.t === 'comment') continue;
    out += tok.t === 'quoted' ? tok.raw : tok.v;
  }
  return out;
}

function isSpecial(tok: Token | undefined, c: string): boolean {
  return tok !== undefined && tok.t === 'special' && tok.v === c;
}

function addrSpec(tokens: Token[]): { mailbox: string; host: string } {
  let at = -1;
  for (let i = tokens.length - 1; i >= 0; i--) {
    if (isSpecial(tokens[i], '@')) {
      at = i;
      break;
    }
  }
  if (at < 0) {
    const text = phraseText(tokens);
    return { mailbox: text ?? MISSING_MAILBOX, host: MISSING_DOMAIN };
  }
  const local = specText(tokens.slice(0, at));
  const domain = specText(tokens.slice(at + 1));
  return { mailbox: local === '' ? MISSING_MAILBOX : local, host: domain === '' ? MISSING_DOMAIN : domain };
}

function mailbox(tokens: Token[]): EnvelopeAddress | null {
  if (!tokens.some((t) => t.t !== 'comment')) return null;
  const lt = tokens.findIndex((t) => isSpecial(t, '<'));
  if (lt < 0) {
    // addr-spec alone; a trailing comment is the old way to give a name ("a@b (Name)").
    const comments = tokens.filter((t) => t.t === 'comment' && t.v.trim() !== '');
    const spec = addrSpec(tokens.filter((t) => t.t !== 'comment'));
    const name = comments.length > 0 ? comments[comments.length - 1]!.v.trim() : null;
    return { name, adl: null, ...spec };
  }
  let gt = tokens.findIndex((t, i) => i > lt && isSpecial(t, '>'));
  if (gt < 0) gt = tokens.length;
  let inside = tokens.slice(lt + 1, gt).filter((t) => t.t !== 'comment');
  let adl: string | null = null;
  // obs-route (RFC 5322 §4.4): "@a,@b:" before the addr-spec.
  if (isSpecial(inside[0], '@')) {
    const colon = inside.findIndex((t) => isSpecial(t, ':'));
    if (colon > 0) {
      adl = specText(inside.slice(0, colon));
      inside = inside.slice(colon + 1);
    }
  }
  const name = phraseText(tokens.slice(0, lt));
  if (inside.length === 0 && name === null) return null;
  return { name, adl, ...addrSpec(inside) };
}

/**
 * Parse an (unfolded) address-list header value. Group syntax yields IMAP's markers: a start
 * { mailbox: groupName, host: null } and an end { mailbox: null, host: null } (RFC 9051 §7.5.2).
 * Returns null when the list holds no address at all (RFC 9051: absent or empty → NIL).
 */
export function parseAddressList(value: string): EnvelopeAddress[] | null {
  const tokens = tokenize(value);
  const out: EnvelopeAddress[] = [];
  let current: Token[] = [];
  let currentHasAt = false;
  let inAngle = false;
  let inGroup = false;
  const flush = (): void => {
    const addr = mailbox(current);
    if (addr && out.length < MAX_ADDRESSES) out.push(addr);
    current = [];
    currentHasAt = false;
  };
  for (const tok of tokens) {
    if (out.length >= MAX_ADDRESSES) break;
    if (tok.t === 'special') {
      if (tok.v === '<') inAngle = true;
      else if (tok.v === '>') inAngle = false;
      else if (!inAngle && tok.v === ',') {
        flush();
        continue;
      } else if (tok.v === '@') {
        currentHasAt = true;
      } else if (!inAngle && tok.v === ':' && !inGroup && !currentHasAt) {
        out.push({ name: null, adl: null, mailbox: phraseText(current) ?? '', host: null });
        current = [];
        inGroup = true;
        continue;
      } else if (!inAngle && tok.v === ';') {
        flush();
        if (inGroup && out.length < MAX_ADDRESSES) out.push({ name: null, adl: null, mailbox: null, host: null });
        inGroup = false;
        continue;
      }
    }
    current.push(tok);
  }
  flush();
  if (inGroup && out.length < MAX_ADDRESSES) out.push({ name: null, adl: null, mailbox: null, host: null });
  // A truncated list must still close its group.
  if (out.length >= MAX_ADDRESSES && inGroup) out[out.length - 1] = { name: null, adl: null, mailbox: null, host: null };
  return out.length === 0 ? null : out;
}

// ---------------------------------------------------------------------------------------------
// Single addresses for SMTP, delivery, push: strict RFC 5321 §4.1.2 / RFC 6531 shapes.

const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~\\u0080-\\uFFFF-]";
const LOCAL_RE = new RegExp(`^(?:${ATEXT}+(?:\\.${ATEXT}+)*|"(?:[^"\\\\\\r\\n]|\\\\.)*")$`);
const DOMAIN_RE = /^(?:[A-Za-z0-9_\u0080-\uFFFF](?:[A-Za-z0-9_\u0080-\uFFFF-]*[A-Za-z0-9_\u0080-\uFFFF])?(?:\.[A-Za-z0-9_\u0080-\uFFFF](?:[A-Za-z0-9_\u0080-\uFFFF-]*[A-Za-z0-9_\u0080-\uFFFF])?)*|\[[^\[\]\\\r\n]{1,100}\])$/;

/**
 * One address ("user@example.org", "<user@example.org>" or "Name <user@example.org>") split into
 * local part and domain, or null when it is not exactly one well-formed address. The local part is
 * returned as written (a quoted local part keeps its quotes).
 */
export function parseAddress(s: string): { local: string; domain: string } | null {
  if (s.length > 1024) return null;
  const list = parseAddressList(s);
  if (list === null || list.length !== 1) return null;
  const { mailbox: local, host: domain } = list[0]!;
  if (local === null || domain === null || local === MISSING_MAILBOX || domain === MISSING_DOMAIN) return null;
  if (local.length > 256 || domain.length > 255) return null;
  if (!LOCAL_RE.test(local) || !DOMAIN_RE.test(domain)) return null;
  // No white space or comments inside the address ("a b@x.org" is not "ab@x.org").
  if (!s.includes(`${local}@${domain}`)) return null;
  return { local, domain };
}

/** "Local@Example.ORG" → "Local@example.org" (domains are case-insensitive, local parts are not:
 * RFC 5321 §2.4), or null when not a well-formed address. */
export function normalizeAddress(s: string): string | null {
  const parsed = parseAddress(s);
  return parsed === null ? null : `${parsed.local}@${parsed.domain.toLowerCase()}`;
}
