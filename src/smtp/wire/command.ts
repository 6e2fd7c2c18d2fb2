// Command lines → typed commands (RFC 5321 §4.1.1 and the extensions' grammars). No I/O, no
// session state: whether a command is allowed now, and whether an extension was advertised, is
// the session's business. A line that is not a command comes back as a ready reply.
import { MAX_ENVID, MAX_ORCPT, MAX_PARAMS } from '../limits.js';
import { parsePath, PathSyntaxError, type MailPath } from './path.js';
import { reply, type Reply } from './reply.js';

export interface MailParams {
  /** RFC 1870 SIZE=n. */
  size: number | null;
  /** RFC 6152 BODY=7BIT|8BITMIME. */
  body: '7BIT' | '8BITMIME' | null;
  /** RFC 6531 §3.4 SMTPUTF8. */
  smtputf8: boolean;
  /** RFC 3461 §4.3 RET=FULL|HDRS. */
  ret: 'FULL' | 'HDRS' | null;
  /** RFC 3461 §4.4 ENVID=xtext (kept encoded). */
  envid: string | null;
  /** RFC 4954 §5 AUTH=mailbox|<>: accepted and not trusted. */
  auth: string | null;
}

export interface RcptParams {
  /** RFC 3461 §4.1 NOTIFY: [] (default), ['NEVER'] or some of SUCCESS, FAILURE, DELAY. */
  notify: string[];
  /** RFC 3461 §4.2 ORCPT=addr-type;xtext (kept as given). */
  orcpt: string | null;
}

export type SmtpCommand =
  | { verb: 'EHLO' | 'HELO' | 'LHLO'; domain: string }
  | { verb: 'MAIL'; from: MailPath | null; params: MailParams }
  | { verb: 'RCPT'; to: MailPath | 'postmaster'; params: RcptParams }
  | { verb: 'DATA' }
  /** RFC 3030 §2: BDAT size [LAST]. */
  | { verb: 'BDAT'; size: number; last: boolean }
  /** RFC 4468 §3: BURL url [LAST] (submission only, after AUTH). */
  | { verb: 'BURL'; url: string; last: boolean }
  | { verb: 'AUTH'; mechanism: string; initial: string | null }
  | { verb: 'STARTTLS' | 'RSET' | 'NOOP' | 'QUIT' | 'HELP' }
  | { verb: 'VRFY' | 'EXPN'; argument: string };

export type ParseResult =
  | { ok: true; command: SmtpCommand }
  /** `http`: the line is an HTTP request (end the connection); `unknown`: not an SMTP verb. */
  | { ok: false; reply: Reply; http?: boolean; unknown?: boolean };

const HTTP_VERBS = new Set(['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'CONNECT', 'PATCH', 'TRACE']);

const bad = (text: string, enhanced = '5.5.4', code = 501): ParseResult => ({ ok: false, reply: reply(`${code} ${enhanced}`, text) });

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** RFC 3461 §4 xtext: printable ASCII except "+" and "=", and "+XX" hex escapes. */
export function isXtext(s: string, options: { utf8?: boolean } = {}): boolean {
  const re = options.utf8 ? /^(?:[!-*,-<>-~\u0080-\u{10FFFF}]|\+[0-9A-F]{2})*$/u : /^(?:[!-*,-<>-~]|\+[0-9A-F]{2})*$/;
  return re.test(s);
}

export function decodeXtext(s: string): string {
  return s.replace(/\+([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** Split "KEY=VALUE KEY2" parameters (RFC 5321 §4.1.2 Mail-parameters). */
function splitParams(rest: string): Array<[string, string | null]> | string {
  const trimmed = rest.replace(/^ +/, '');
  if (rest.length > 0 && !rest.startsWith(' ')) return 'expected a space after the path';
  if (trimmed === '') return [];
  const out: Array<[string, string | null]> = [];
  for (const p of trimmed.split(/ +/)) {
    if (p === '') continue;
    const eq = p.indexOf('=');
    const key = (eq < 0 ? p : p.slice(0, eq)).toUpperCase();
    if (!/^[A-Z0-9][A-Z0-9-]*$/.test(key)) return `bad parameter ${p.slice(0, 40)}`;
    const value = eq < 0 ? null : p.slice(eq + 1);
    if (value !== null && !/^[\x21-\x3c\x3e-\x7e\u0080-\u{10FFFF}]+$/u.test(value)) return `bad value for ${key}`;
    if (out.some(([k]) => k === key)) return `duplicate parameter ${key}`;
    out.push([key, value]);
    if (out.length > MAX_PARAMS) return 'too many parameters';
  }
  return out;
}

function parseMail(args: string): ParseResult {
  const m = /^FROM: ?/i.exec(args);
  if (!m) return bad('Syntax: MAIL FROM:<address> [parameters]', '5.5.4');
  let parsed;
  try {
    parsed = parsePath(args.slice(m[0].length), { utf8: true });
  } catch (err) {
    if (err instanceof PathSyntaxError) return bad(`Bad sender address syntax: ${err.message}`, '5.1.7');
    throw err;
  }
  const list = splitParams(parsed.rest);
  if (typeof list === 'string') return bad(list, '5.5.4');
  const params: MailParams = { size: null, body: null, smtputf8: false, ret: null, envid: null, auth: null };
  for (const [key, value] of list) {
    switch (key) {
      case 'SIZE':
        if (value === null || !/^\d{1,20}$/.test(value)) return bad('SIZE needs a number', '5.5.4');
        params.size = Number(value);
        break;
      case 'BODY': {
        const v = value?.toUpperCase();
        if (v === '7BIT' || v === '8BITMIME') params.body = v;
        else return bad(`BODY=${value ?? ''} not supported`, '5.5.4', 555);
        break;
      }
      case 'SMTPUTF8':
        if (value !== null) return bad('SMTPUTF8 takes no value', '5.5.4');
        params.smtputf8 = true;
        break;
      case 'RET': {
        const v = value?.toUpperCase();
        if (v !== 'FULL' && v !== 'HDRS') return bad('RET must be FULL or HDRS', '5.5.4');
        params.ret = v;
        break;
      }
      case 'ENVID':
        if (value === null || value.length > MAX_ENVID || !isXtext(value)) return bad('ENVID must be xtext of at most 100 characters', '5.5.4');
        params.envid = value;
        break;
      case 'AUTH':
        if (value === null || (value !== '<>' && !isXtext(value, { utf8: true }))) return bad('AUTH= must be xtext or <>', '5.5.4');
        params.auth = value;
        break;
      default:
        return bad(`Parameter ${key} not supported`, '5.5.4', 555);
    }
  }
  return { ok: true, command: { verb: 'MAIL', from: parsed.path, params } };
}

function parseRcpt(args: string): ParseResult {
  const m = /^TO: ?/i.exec(args);
  if (!m) return bad('Syntax: RCPT TO:<address> [parameters]', '5.5.4');
  const pathText = args.slice(m[0].length);
  let to: MailPath | 'postmaster';
  let rest: string;
  // RFC 5321 §4.5.1: "<Postmaster>" without a domain must be accepted.
  const pm = /^<postmaster>/i.exec(pathText);
  if (pm) {
    to = 'postmaster';
    rest = pathText.slice(pm[0].length);
  } else {
    try {
      const parsed = parsePath(pathText, { utf8: true });
      if (parsed.path === null) return bad('Bad destination mailbox address syntax: empty path', '5.1.3');
      to = parsed.path;
      rest = parsed.rest;
    } catch (err) {
      if (err instanceof PathSyntaxError) return bad(`Bad destination mailbox address syntax: ${err.message}`, '5.1.3');
      throw err;
    }
  }
  const list = splitParams(rest);
  if (typeof list === 'string') return bad(list, '5.5.4');
  const params: RcptParams = { notify: [], orcpt: null };
  for (const [key, value] of list) {
    switch (key) {
      case 'NOTIFY': {
        const items = (value ?? '').toUpperCase().split(',');
        const ok =
          (items.length === 1 && items[0] === 'NEVER') ||
          (items.every((x) => x === 'SUCCESS' || x === 'FAILURE' || x === 'DELAY') && new Set(items).size === items.length);
        if (!value || !ok) return bad('NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY', '5.5.4');
        params.notify = items;
        break;
      }
      case 'ORCPT': {
        const mm = value === null ? null : /^([A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+);(.+)$/.exec(value);
        if (!mm || value!.length > MAX_ORCPT || !isXtext(mm[2]!, { utf8: true })) return bad('ORCPT must be addr-type;xtext', '5.5.4');
        params.orcpt = value;
        break;
      }
      default:
        return bad(`Parameter ${key} not supported`, '5.5.4', 555);
    }
  }
  return { ok: true, command: { verb: 'RCPT', to, params } };
}

/** Parse one command line (without CRLF). */
export function parseCommand(line: Buffer): ParseResult {
  let text: string;
  try {
    text = utf8Decoder.decode(line);
  } catch {
    return bad('Invalid UTF-8 in command', '5.5.2', 500);
  }
  if (/[\x00-\x1f\x7f]/.test(text)) return bad('Control characters in command', '5.5.2', 500);
  const sp = text.indexOf(' ');
  const verb = (sp < 0 ? text : text.slice(0, sp)).toUpperCase();
  const args = sp < 0 ? '' : text.slice(sp + 1);
  switch (verb) {
    case 'EHLO':
    case 'HELO':
    case 'LHLO': {
      const domain = args.trim();
      // RFC 5321 §4.1.1.1: a domain or address literal; be liberal about what clients call themselves.
      if (domain === '' || /\s/.test(domain)) return bad(`Syntax: ${verb} hostname`, '5.5.4');
      return { ok: true, command: { verb, domain } };
    }
    case 'MAIL':
      return parseMail(args);
    case 'RCPT':
      return parseRcpt(args);
    case 'DATA':
    case 'RSET':
    case 'QUIT':
    case 'STARTTLS':
      if (args.trim() !== '') return bad(`${verb} takes no arguments`, '5.5.4');
      return { ok: true, command: { verb } };
    case 'NOOP':
    case 'HELP':
      return { ok: true, command: { verb } };
    case 'VRFY':
    case 'EXPN':
      if (args.trim() === '') return bad(`Syntax: ${verb} string`, '5.5.4');
      return { ok: true, command: { verb, argument: args.trim() } };
    case 'BDAT': {
      const m = /^(\d{1,15})(?: +(LAST))? *$/i.exec(args);
      if (!m) return bad('Syntax: BDAT size [LAST]', '5.5.4');
      return { ok: true, command: { verb: 'BDAT', size: Number(m[1]), last: m[2] !== undefined } };
    }
    case 'BURL': {
      const m = /^(\S+)(?: +(LAST))? *$/i.exec(args);
      if (!m) return bad('Syntax: BURL url [LAST]', '5.5.4');
      return { ok: true, command: { verb: 'BURL', url: m[1]!, last: m[2] !== undefined } };
    }
    case 'AUTH': {
      const m = /^([A-Za-z0-9_-]{1,20})(?: +(\S+))? *$/.exec(args);
      if (!m) return bad('Syntax: AUTH mechanism [initial-response]', '5.5.4');
      return { ok: true, command: { verb: 'AUTH', mechanism: m[1]!.toUpperCase(), initial: m[2] ?? null } };
    }
    default:
      if (HTTP_VERBS.has(verb)) return { ok: false, reply: reply('421 4.7.0', 'This is an SMTP server, not HTTP'), http: true };
      return { ok: false, reply: reply('500 5.5.1', 'Command unrecognized'), unknown: true };
  }
}
