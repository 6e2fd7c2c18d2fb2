// The IMAP command grammar (RFC 9051 §9 and the extensions' ABNF cited per command) over a framed
// command: Reader tokens → one typed Command. Throws WireSyntaxError for malformed input and
// Incomplete when the frame ends at a literal not yet received (see reader.ts).

import iconv from 'iconv-lite';

import { Reader, WireSyntaxError, isAstringChar, isAtomChar } from './reader.js';
import type {
  AppendMessage,
  CatenatePart,
  Command,
  FetchAttribute,
  ListReturnOptions,
  ListSelectOption,
  MetadataOptions,
  NotifyEvent,
  NotifyEventGroup,
  NotifyFilter,
  QresyncParams,
  SearchKey,
  SearchProgram,
  SearchReturnOption,
  SectionSpec,
  SortCriterion,
  StatusItem,
  PartialRange,
  PartialWindow,
} from './types.js';

const SIMPLE = new Set(['CAPABILITY', 'NOOP', 'LOGOUT', 'STARTTLS', 'CHECK', 'CLOSE', 'UNSELECT', 'IDLE', 'NAMESPACE'] as const);
const UID_COMMANDS = new Set(['COPY', 'MOVE', 'FETCH', 'SEARCH', 'STORE', 'EXPUNGE', 'SORT', 'THREAD']);

/** Names the parser knows (with UID as a prefix); anything else is refused before reading a literal. */
export const KNOWN_COMMANDS: ReadonlySet<string> = new Set([
  ...SIMPLE,
  'AUTHENTICATE', 'LOGIN', 'ENABLE', 'SELECT', 'EXAMINE', 'CREATE', 'DELETE', 'RENAME', 'SUBSCRIBE',
  'UNSUBSCRIBE', 'LIST', 'LSUB', 'STATUS', 'APPEND', 'EXPUNGE', 'SEARCH', 'FETCH', 'STORE', 'COPY',
  'MOVE', 'UID', 'ID', 'SORT', 'THREAD', 'NOTIFY', 'GETQUOTA', 'GETQUOTAROOT', 'SETQUOTA',
  'GETMETADATA', 'SETMETADATA', 'COMPRESS', 'GENURLAUTH', 'RESETKEY', 'URLFETCH',
]);

/** Parse one whole command; the tag was already validated by the caller. */
export function parseCommand(r: Reader, tag: string): Command {
  r.chars((b) => isAstringChar(b) && b !== 0x2b);
  r.sp();
  let name = r.keyword('a command name');
  let uid = false;
  if (name === 'UID') {
    r.sp();
    name = r.keyword('a command name after UID');
    if (!UID_COMMANDS.has(name)) throw new WireSyntaxError(`UID ${name} is not a command`);
    uid = true;
  }
  const command = parseBody(r, tag, name, uid);
  r.end();
  return command;
}

function parseBody(r: Reader, tag: string, name: string, uid: boolean): Command {
  if (SIMPLE.has(name as never)) return { tag, name: name as 'NOOP' };
  switch (name) {
    case 'AUTHENTICATE': {
      r.sp();
      const mechanism = r.keyword('a SASL mechanism');
      if (r.atEnd()) return { tag, name, mechanism };
      r.sp();
      // RFC 4959 §3: initial-response = base64 / "="
      const text = r.chars(isAtomChar);
      return { tag, name, mechanism, initialResponse: decodeBase64(text) };
    }
    case 'LOGIN': {
      r.sp();
      const username = r.astring();
      r.sp();
      return { tag, name, username, password: r.astring() };
    }
    case 'ENABLE': {
      const capabilities: string[] = [];
      do {
        r.sp();
        capabilities.push(r.keyword('a capability'));
      } while (!r.atEnd());
      return { tag, name, capabilities };
    }
    case 'SELECT':
    case 'EXAMINE': {
      r.sp();
      const mailbox = r.mailbox();
      let condstore = false;
      let qresync: QresyncParams | undefined;
      if (!r.atEnd()) {
        r.sp();
        // RFC 4466 §2.1 select-params; RFC 7162 §3.1.8 CONDSTORE, §3.2.5 QRESYNC
        r.list(() => {
          const param = r.keyword('a SELECT parameter');
          if (param === 'CONDSTORE') condstore = true;
          else if (param === 'QRESYNC') {
            r.sp();
            qresync = parseQresync(r);
          } else throw new WireSyntaxError(`unknown SELECT parameter ${param}`);
        });
      }
      return { tag, name, mailbox, condstore, ...(qresync ? { qresync } : {}) };
    }
    case 'CREATE': {
      r.sp();
      const mailbox = r.mailbox();
      if (r.atEnd()) return { tag, name, mailbox };
      r.sp();
      // RFC 6154 §3: create-param =/ "USE" SP "(" [use-attr *(SP use-attr)] ")"
      let specialUse: string[] | undefined;
      r.list(() => {
        const param = r.keyword('a CREATE parameter');
        if (param !== 'USE') throw new WireSyntaxError(`unknown CREATE parameter ${param}`);
        r.sp();
        specialUse = r.list(() => {
          r.expect(0x5c, 'a special-use attribute');
          return '\\' + r.atom('a special-use attribute');
        }, true);
      });
      return { tag, name, mailbox, ...(specialUse ? { specialUse } : {}) };
    }
    case 'DELETE':
    case 'SUBSCRIBE':
    case 'UNSUBSCRIBE':
      r.sp();
      return { tag, name, mailbox: r.mailbox() };
    case 'RENAME': {
      r.sp();
      const from = r.mailbox();
      r.sp();
      return { tag, name, from, to: r.mailbox() };
    }
    case 'LIST':
      return parseList(r, tag);
    case 'LSUB': {
      r.sp();
      const reference = r.mailbox(false);
      r.sp();
      return { tag, name, reference, pattern: r.listMailbox() };
    }
    case 'STATUS': {
      r.sp();
      const mailbox = r.mailbox();
      r.sp();
      return { tag, name, mailbox, items: parseStatusItems(r) };
    }
    case 'APPEND':
      return parseAppend(r, tag);
    case 'EXPUNGE':
      if (!uid) return { tag, name, uid: false };
      r.sp();
      return { tag, name, uid: true, set: r.sequenceSet() };
    case 'SEARCH': {
      const returnOptions = parseSearchReturn(r);
      let charset: string | undefined;
      r.sp();
      if (r.word('CHARSET')) {
        r.sp();
        charset = parseCharset(r);
        r.sp();
      }
      return { tag, name, uid, program: parseSearchKeys(r, charset, returnOptions) };
    }
    case 'FETCH':
      return parseFetch(r, tag, uid);
    case 'STORE':
      return parseStore(r, tag, uid);
    case 'COPY':
    case 'MOVE': {
      r.sp();
      const set = r.sequenceSet();
      r.sp();
      return { tag, name, uid, set, mailbox: r.mailbox() };
    }
    case 'ID': {
      // RFC 2971 §4: id-params-list = "(" *(string SP nstring) ")" / nil
      r.sp();
      if (r.word('NIL')) return { tag, name, params: null };
      const params: Array<[string, string | null]> = [];
      r.open();
      while (!r.accept(0x29)) {
        if (params.length > 0) r.sp();
        const field = r.text(r.string());
        r.sp();
        const value = r.nstringBytes();
        params.push([field, value === null ? null : r.text(value)]);
        if (params.length > r.limits.maxItems) throw new WireSyntaxError('too many ID parameters');
      }
      return { tag, name, params };
    }
    case 'SORT': {
      // RFC 5256 §3 sort; RFC 5267 §3.2 sort =/ ... "SORT" [search-return-opts] SP sort-criteria SP search-criteria
      const returnOptions = parseSearchReturn(r);
      r.sp();
      const criteria = r.list((): SortCriterion => {
        const reverse = r.word('REVERSE');
        if (reverse) r.sp();
        const key = r.keyword('a sort key');
        if (!SORT_KEYS.has(key)) throw new WireSyntaxError(`unknown sort key ${key}`);
        return { key: key as SortCriterion['key'], reverse };
      });
      r.sp();
      const charset = parseCharset(r);
      r.sp();
      return { tag, name, uid, criteria, program: parseSearchKeys(r, charset, returnOptions) };
    }
    case 'THREAD': {
      r.sp();
      const algorithm = r.keyword('a thread algorithm');
      r.sp();
      const charset = parseCharset(r);
      r.sp();
      return { tag, name, uid, algorithm, program: parseSearchKeys(r, charset, undefined) };
    }
    case 'NOTIFY':
      return parseNotify(r, tag);
    case 'GETQUOTA':
      r.sp();
      return { tag, name, root: r.astring() };
    case 'GETQUOTAROOT':
      r.sp();
      return { tag, name, mailbox: r.mailbox() };
    case 'SETQUOTA': {
      // RFC 9208 §4.1: setquota-list = "(" [setquota-resource *(SP setquota-resource)] ")"
      r.sp();
      const root = r.astring();
      r.sp();
      const limits = r.list(() => {
        const resource = r.keyword('a quota resource');
        r.sp();
        return { resource, limit: r.number64('a quota limit') };
      }, true);
      return { tag, name, root, limits };
    }
    case 'GETMETADATA': {
      // RFC 5464 §4.2
      r.sp();
      const options: MetadataOptions = {};
      if (r.peek() === 0x28) {
        r.list(() => {
          const option = r.keyword('a GETMETADATA option');
          r.sp();
          if (option === 'MAXSIZE') options.maxSize = r.number64('MAXSIZE');
          else if (option === 'DEPTH') {
            const depth = r.keyword('a depth').toLowerCase();
            if (depth !== '0' && depth !== '1' && depth !== 'infinity') throw new WireSyntaxError('DEPTH must be 0, 1 or infinity');
            options.depth = depth;
          } else throw new WireSyntaxError(`unknown GETMETADATA option ${option}`);
        });
        r.sp();
      }
      const mailbox = r.mailbox();
      r.sp();
      const entries = r.peek() === 0x28 ? r.list(() => r.astring()) : [r.astring()];
      return { tag, name, options, mailbox, entries };
    }
    case 'SETMETADATA': {
      // RFC 5464 §4.3: entry-values = "(" entry-value *(SP entry-value) ")"; value = nstring / literal8
      r.sp();
      const mailbox = r.mailbox();
      r.sp();
      const entries = r.list(() => {
        const entry = r.astring();
        r.sp();
        const value = r.atLiteral(true) ? r.literal('other', true).data : r.nstringBytes();
        return { entry, value };
      });
      return { tag, name, mailbox, entries };
    }
    case 'COMPRESS':
      r.sp();
      return { tag, name, mechanism: r.keyword('a compression mechanism') };
    case 'GENURLAUTH': {
      // RFC 4467 §7: genurlauth = "GENURLAUTH" 1*(SP url-rump SP mechanism)
      const items: Array<{ url: string; mechanism: string }> = [];
      do {
        r.sp();
        const url = r.astring();
        r.sp();
        items.push({ url, mechanism: r.keyword('a URLAUTH mechanism') });
      } while (!r.atEnd());
      return { tag, name, items };
    }
    case 'RESETKEY': {
      if (r.atEnd()) return { tag, name, mechanisms: [] };
      r.sp();
      const mailbox = r.mailbox();
      const mechanisms: string[] = [];
      while (!r.atEnd()) {
        r.sp();
        mechanisms.push(r.keyword('a URLAUTH mechanism'));
      }
      return { tag, name, mailbox, mechanisms };
    }
    case 'URLFETCH': {
      const urls: string[] = [];
      do {
        r.sp();
        urls.push(r.astring());
      } while (!r.atEnd());
      return { tag, name, urls };
    }
    default:
      throw new WireSyntaxError(`unknown command ${name}`);
  }
}

function decodeBase64(text: string): Buffer {
  if (text === '=') return Buffer.alloc(0);
  if (text.length === 0 || !/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(text)) {
    throw new WireSyntaxError('invalid base64');
  }
  return Buffer.from(text, 'base64');
}

/** RFC 5465 §8 / RFC 3516 etc. share this: QRESYNC params (RFC 7162 §7 select-param). */
function parseQresync(r: Reader): QresyncParams {
  r.open();
  const uidValidity = r.nzNumber('UIDVALIDITY');
  r.sp();
  const modseq = r.number64('a mod-sequence');
  const params: QresyncParams = { uidValidity, modseq };
  if (r.accept(0x20)) {
    if (r.peek() !== 0x28) {
      params.knownUids = r.sequenceSet();
      if (!r.accept(0x20)) {
        r.close();
        return params;
      }
    }
    // seq-match-data = "(" known-sequence-set SP known-uid-set ")"
    r.open();
    const seqs = r.sequenceSet();
    r.sp();
    const uids = r.sequenceSet();
    r.close();
    params.seqMatch = { seqs, uids };
  }
  r.close();
  return params;
}

const STATUS_ITEMS = new Set<StatusItem>(['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'SIZE', 'RECENT', 'HIGHESTMODSEQ', 'APPENDLIMIT', 'MAILBOXID']);

function parseStatusItems(r: Reader): StatusItem[] {
  return r.list(() => {
    const item = r.keyword('a status item');
    if (!STATUS_ITEMS.has(item as StatusItem)) throw new WireSyntaxError(`unknown status item ${item}`);
    return item as StatusItem;
  });
}

const SELECT_OPTIONS = new Set<ListSelectOption>(['SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH', 'SPECIAL-USE']);

/** RFC 9051 §6.3.9 / RFC 5258 §6 LIST. */
function parseList(r: Reader, tag: string): Command {
  r.sp();
  let extended = false;
  const selection: ListSelectOption[] = [];
  if (r.peek() === 0x28) {
    extended = true;
    for (const opt of r.list(() => r.keyword('a LIST selection option'), true)) {
      if (!SELECT_OPTIONS.has(opt as ListSelectOption)) throw new WireSyntaxError(`unknown LIST selection option ${opt}`);
      if (!selection.includes(opt as ListSelectOption)) selection.push(opt as ListSelectOption);
    }
    // RFC 5258 §3: RECURSIVEMATCH alone (or only with REMOTE) is an error.
    if (selection.includes('RECURSIVEMATCH') && !selection.some((o) => o === 'SUBSCRIBED' || o === 'SPECIAL-USE')) {
      throw new WireSyntaxError('RECURSIVEMATCH needs another selection option');
    }
    r.sp();
  }
  const reference = r.mailbox(false);
  r.sp();
  let patterns: string[];
  if (r.peek() === 0x28) {
    extended = true;
    patterns = r.list(() => r.listMailbox());
  } else {
    patterns = [r.listMailbox()];
  }
  const returns: ListReturnOptions = { subscribed: false, children: false, specialUse: false, myRights: false };
  if (!r.atEnd()) {
    r.sp();
    if (!r.word('RETURN')) r.fail('expected RETURN');
    extended = true;
    r.sp();
    r.list(() => {
      const opt = r.keyword('a LIST return option');
      if (opt === 'SUBSCRIBED') returns.subscribed = true;
      else if (opt === 'CHILDREN') returns.children = true;
      else if (opt === 'SPECIAL-USE') returns.specialUse = true;
      else if (opt === 'MYRIGHTS') returns.myRights = true;
      else if (opt === 'STATUS') {
        r.sp();
        returns.status = parseStatusItems(r);
      } else throw new WireSyntaxError(`unknown LIST return option ${opt}`);
    }, true);
  }
  return { tag, name: 'LIST', selection, reference, patterns, returns, extended };
}

/** RFC 3502 §6.3.11 append / RFC 4469 §5 CATENATE / RFC 6855 §4 UTF8. */
function parseAppend(r: Reader, tag: string): Command {
  r.sp();
  const mailbox = r.mailbox();
  const messages: AppendMessage[] = [];
  do {
    r.sp();
    let flags: string[] = [];
    if (r.peek() === 0x28) {
      flags = r.flagList();
      r.sp();
    }
    const internalDate = r.peek() === 0x22 ? r.dateTime() : undefined;
    if (internalDate) r.sp();
    let content: AppendMessage['content'];
    if (r.atLiteral(true)) {
      const { data, binary } = r.literal('message', true);
      content = { kind: 'literal', data, binary, utf8: false };
    } else {
      const ext = r.keyword('message data');
      r.sp();
      if (ext === 'CATENATE') {
        content = {
          kind: 'catenate',
          parts: r.list((): CatenatePart => {
            const kind = r.keyword('TEXT or URL');
            r.sp();
            if (kind === 'TEXT') {
              const { data, binary } = r.literal('message', true);
              return { kind: 'text', data, binary };
            }
            if (kind === 'URL') return { kind: 'url', url: r.astring() };
            throw new WireSyntaxError(`unknown CATENATE part ${kind}`);
          }),
        };
      } else if (ext === 'UTF8') {
        r.open();
        if (!r.atLiteral(true)) r.fail('expected a literal8');
        const { data } = r.literal('message', true);
        r.close();
        content = { kind: 'literal', data, binary: true, utf8: true };
      } else {
        throw new WireSyntaxError(`unknown APPEND data ${ext}`);
      }
    }
    messages.push({ flags, ...(internalDate ? { internalDate } : {}), content });
    if (messages.length > r.limits.maxItems) throw new WireSyntaxError('too many messages in one APPEND');
  } while (!r.atEnd());
  return { tag, name: 'APPEND', mailbox, messages };
}

/** RFC 9394 §4 partial-range = partial-range-first / partial-range-last (no "*", no 0, one sign). */
function parsePartialWindow(r: Reader): PartialWindow {
  const signed = (): number => (r.accept(0x2d) ? -r.nzNumber('a PARTIAL bound') : r.nzNumber('a PARTIAL bound'));
  const start = signed();
  r.expect(0x3a, '":" in PARTIAL range');
  const end = signed();
  if (Math.sign(start) !== Math.sign(end)) throw new WireSyntaxError('PARTIAL bounds must have the same sign');
  return { start, end };
}

/** RFC 4731 §3.1 search-return-opts, RFC 9394 §3.1 PARTIAL: `SP RETURN SP (…)`, if present. */
function parseSearchReturn(r: Reader): SearchReturnOption[] | undefined {
  const mark = r.mark();
  if (!r.accept(0x20) || !r.word('RETURN')) {
    r.reset(mark);
    return undefined;
  }
  r.sp();
  const options = r.list((): SearchReturnOption => {
    const opt = r.keyword('a search return option');
    if (opt === 'MIN' || opt === 'MAX' || opt === 'ALL' || opt === 'COUNT' || opt === 'SAVE') return opt;
    if (opt === 'PARTIAL') {
      r.sp();
      return { partial: parsePartialWindow(r) };
    }
    throw new WireSyntaxError(`unknown search return option ${opt}`);
  }, true);
  // RFC 9394 §3.1: "either one PARTIAL, one ALL, or neither PARTIAL nor ALL is allowed".
  if (options.filter((o) => o === 'ALL' || typeof o === 'object').length > 1) throw new WireSyntaxError('at most one of ALL and PARTIAL');
  return options;
}

/** RFC 9051 §9 charset = atom / quoted. */
function parseCharset(r: Reader): string {
  if (r.peek() === 0x22) return r.quoted().toString('latin1').toUpperCase();
  return r.keyword('a charset');
}

const SORT_KEYS = new Set(['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO']);
const FLAG_KEYS = new Set([
  'ALL', 'ANSWERED', 'DELETED', 'DRAFT', 'FLAGGED', 'NEW', 'OLD', 'RECENT', 'SEEN', 'UNANSWERED',
  'UNDELETED', 'UNDRAFT', 'UNFLAGGED', 'UNSEEN', 'SAVEDATESUPPORTED',
]);
const TEXT_KEYS = new Set(['BCC', 'BODY', 'CC', 'FROM', 'SUBJECT', 'TEXT', 'TO']);
const DATE_KEYS = new Set(['BEFORE', 'ON', 'SINCE', 'SENTBEFORE', 'SENTON', 'SENTSINCE', 'SAVEDBEFORE', 'SAVEDON', 'SAVEDSINCE']);

interface SearchContext {
  decode: (bytes: Buffer) => string;
  count: number;
}

/** 1*(search-key) separated by SP, up to the end of the command. */
function parseSearchKeys(r: Reader, charset: string | undefined, returnOptions: SearchReturnOption[] | undefined): SearchProgram {
  let charsetKnown = true;
  let decode: (bytes: Buffer) => string = (bytes) => r.text(bytes);
  if (charset !== undefined && charset !== 'UTF-8' && charset !== 'US-ASCII') {
    if (iconv.encodingExists(charset)) decode = (bytes) => iconv.decode(bytes, charset);
    else {
      charsetKnown = false;
      decode = (bytes) => bytes.toString('latin1');
    }
  }
  const ctx: SearchContext = { decode, count: 0 };
  const keys: SearchKey[] = [];
  for (;;) {
    keys.push(parseSearchKey(r, ctx));
    if (r.atEnd()) break;
    r.sp();
  }
  const key: SearchKey = keys.length === 1 ? (keys[0] as SearchKey) : { key: 'AND', operands: keys };
  return { ...(charset !== undefined ? { charset } : {}), charsetKnown, ...(returnOptions ? { returnOptions } : {}), key };
}

/** RFC 9051 §9 search-key and the extension keys named in types.ts. */
function parseSearchKey(r: Reader, ctx: SearchContext): SearchKey {
  if (++ctx.count > r.limits.maxItems) throw new WireSyntaxError('too many search keys');
  const b = r.peek();
  if (b === 0x28) {
    const operands = r.list(() => parseSearchKey(r, ctx));
    return operands.length === 1 ? (operands[0] as SearchKey) : { key: 'AND', operands };
  }
  if ((b >= 0x30 && b <= 0x39) || b === 0x2a || b === 0x24) return { key: 'SEQUENCE', set: r.sequenceSet() };
  const name = r.keyword('a search key');
  if (FLAG_KEYS.has(name)) return { key: name as 'ALL' };
  if (TEXT_KEYS.has(name)) {
    r.sp();
    return { key: name as 'BODY', value: ctx.decode(r.astringBytes()) };
  }
  if (DATE_KEYS.has(name)) {
    r.sp();
    return { key: name as 'BEFORE', date: r.date() };
  }
  switch (name) {
    case 'HEADER': {
      r.sp();
      const field = r.astring();
      r.sp();
      return { key: 'HEADER', field, value: ctx.decode(r.astringBytes()) };
    }
    case 'KEYWORD':
    case 'UNKEYWORD':
      r.sp();
      return { key: name, flag: r.atom('a keyword') };
    case 'LARGER':
    case 'SMALLER':
      r.sp();
      return { key: name, size: r.number64('a size') };
    case 'NOT':
      r.sp();
      return r.nest(() => ({ key: 'NOT', operand: parseSearchKey(r, ctx) }));
    case 'OR':
      return r.nest(() => {
        r.sp();
        const left = parseSearchKey(r, ctx);
        r.sp();
        return { key: 'OR', left, right: parseSearchKey(r, ctx) };
      });
    case 'UID':
      r.sp();
      return { key: 'UID', set: r.sequenceSet() };
    case 'MODSEQ': {
      // RFC 7162 §7: "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer
      r.sp();
      if (r.peek() === 0x22) {
        const entryName = r.text(r.quoted());
        r.sp();
        const type = r.keyword('an entry type').toLowerCase();
        if (type !== 'priv' && type !== 'shared' && type !== 'all') throw new WireSyntaxError('entry type must be priv, shared or all');
        r.sp();
        return { key: 'MODSEQ', modseq: r.number64('a mod-sequence'), entry: { name: entryName, type } };
      }
      return { key: 'MODSEQ', modseq: r.number64('a mod-sequence') };
    }
    case 'YOUNGER':
    case 'OLDER':
      r.sp();
      return { key: name, seconds: r.nzNumber('an interval in seconds') };
    case 'EMAILID':
    case 'THREADID': {
      // RFC 8474 §7: objectid = 1*255(ALPHA / DIGIT / "_" / "-")
      r.sp();
      const id = r.chars((c) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x2d);
      if (id.length === 0 || id.length > 255) r.fail('expected an object id');
      return { key: name, id };
    }
    default:
      throw new WireSyntaxError(`unknown search key ${name}`);
  }
}

const isItemNameChar = (b: number): boolean =>
  (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || (b >= 0x30 && b <= 0x39) || b === 0x2e || b === 0x2d;

const SIMPLE_FETCH = new Set(['ENVELOPE', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT', 'BODY', 'BODYSTRUCTURE', 'UID', 'MODSEQ', 'SAVEDATE', 'EMAILID', 'THREADID']);
const MACROS: Record<string, FetchAttribute['kind'][]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

/** RFC 9051 §6.4.5 fetch; RFC 7162 §3.1.4.1 / §3.2.6 fetch modifiers. */
function parseFetch(r: Reader, tag: string, uid: boolean): Command {
  r.sp();
  const set = r.sequenceSet();
  r.sp();
  let attributes: FetchAttribute[];
  if (r.peek() === 0x28) attributes = r.list(() => parseFetchAttribute(r));
  else {
    const mark = r.mark();
    const word = r.chars(isItemNameChar).toUpperCase();
    const macro = MACROS[word];
    if (macro && r.peek() !== 0x5b) attributes = macro.map((kind) => ({ kind }) as FetchAttribute);
    else {
      r.reset(mark);
      attributes = [parseFetchAttribute(r)];
    }
  }
  let changedSince: number | undefined;
  let vanished = false;
  let partial: PartialWindow | undefined;
  if (!r.atEnd()) {
    r.sp();
    const seen = new Set<string>();
    r.list(() => {
      const modifier = r.keyword('a FETCH modifier');
      if (seen.has(modifier)) throw new WireSyntaxError(`FETCH modifier ${modifier} given twice`);
      seen.add(modifier);
      if (modifier === 'CHANGEDSINCE') {
        r.sp();
        changedSince = r.number64('a mod-sequence');
      } else if (modifier === 'VANISHED') vanished = true;
      else if (modifier === 'PARTIAL') {
        // RFC 9394 §3.3: fetch-modifier =/ "PARTIAL" SP partial-range
        r.sp();
        partial = parsePartialWindow(r);
      } else throw new WireSyntaxError(`unknown FETCH modifier ${modifier}`);
    });
  }
  // RFC 7162 §3.2.6: VANISHED only in UID FETCH with CHANGEDSINCE, else BAD.
  if (vanished && (!uid || changedSince === undefined)) throw new WireSyntaxError('VANISHED needs UID FETCH with CHANGEDSINCE');
  return { tag, name: 'FETCH', uid, set, attributes, ...(changedSince !== undefined ? { changedSince } : {}), vanished, ...(partial ? { partial } : {}) };
}

export function parseFetchAttribute(r: Reader): FetchAttribute {
  const name = r.chars(isItemNameChar).toUpperCase();
  if (name.length === 0) r.fail('expected a fetch item');
  const bracket = r.peek() === 0x5b;
  if (!bracket) {
    if (SIMPLE_FETCH.has(name)) return { kind: name as 'FLAGS' };
    if (name === 'PREVIEW') {
      // RFC 8970 §6: "PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"], preview-mod = "LAZY"
      const mark = r.mark();
      if (r.accept(0x20) && r.accept(0x28) && r.word('LAZY')) {
        while (r.accept(0x20)) if (!r.word('LAZY')) r.fail('expected a PREVIEW modifier');
        r.expect(0x29, '")" after the PREVIEW modifiers');
        return { kind: 'PREVIEW', lazy: true };
      }
      r.reset(mark);
      return { kind: 'PREVIEW', lazy: false };
    }
    if (name === 'BODY.PEEK' || name === 'BINARY' || name === 'BINARY.PEEK' || name === 'BINARY.SIZE') r.fail(`expected "[" after ${name}`);
    throw new WireSyntaxError(`unknown fetch item ${name}`);
  }
  r.accept(0x5b);
  if (name === 'BODY' || name === 'BODY.PEEK') {
    const section = parseSection(r);
    const partial = parsePartial(r);
    return { kind: 'BODY[]', section, ...(partial ? { partial } : {}), peek: name === 'BODY.PEEK' };
  }
  if (name === 'BINARY' || name === 'BINARY.PEEK' || name === 'BINARY.SIZE') {
    // RFC 3516 §4.2: section-binary = "[" [section-part] "]"
    const part: number[] = [];
    if (r.peek() !== 0x5d) {
      do part.push(r.nzNumber('a section part'));
      while (r.accept(0x2e));
    }
    r.expect(0x5d, '"]"');
    if (name === 'BINARY.SIZE') return { kind: 'BINARY.SIZE', part };
    const partial = parsePartial(r);
    return { kind: 'BINARY', part, ...(partial ? { partial } : {}), peek: name === 'BINARY.PEEK' };
  }
  throw new WireSyntaxError(`unknown fetch item ${name}[`);
}

/** RFC 9051 §9 section-spec after "[", through "]". */
function parseSection(r: Reader): SectionSpec {
  const part: number[] = [];
  let text: SectionSpec['text'];
  let fields: string[] | undefined;
  if (r.peek() !== 0x5d) {
    const b = r.peek();
    if (b >= 0x30 && b <= 0x39) {
      for (;;) {
        part.push(r.nzNumber('a section part'));
        if (!r.accept(0x2e)) break;
        const n = r.peek();
        if (!(n >= 0x30 && n <= 0x39)) break;
      }
    }
    const textStarts = part.length === 0 || r.peek() !== 0x5d;
    if (textStarts) {
      const word = r.chars((c) => (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2e).toUpperCase();
      if (word === 'HEADER' || word === 'TEXT') text = word;
      else if (word === 'MIME' && part.length > 0) text = 'MIME';
      else if (word === 'HEADER.FIELDS' || word === 'HEADER.FIELDS.NOT') {
        text = word;
        r.sp();
        fields = r.list(() => r.astring());
      } else r.fail('invalid section');
    }
  }
  r.expect(0x5d, '"]"');
  return { part, ...(text ? { text } : {}), ...(fields ? { fields } : {}) };
}

/** RFC 9051 §9 partial = "<" number64 "." nz-number64 ">". */
function parsePartial(r: Reader): PartialRange | undefined {
  if (!r.accept(0x3c)) return undefined;
  const offset = r.number64('a partial offset');
  r.expect(0x2e, '"." in partial');
  const length = r.number({ max: Number.MAX_SAFE_INTEGER, nonZero: true, what: 'a partial length' });
  r.expect(0x3e, '">"');
  return { offset, length };
}

/** RFC 9051 §6.4.6 store; RFC 7162 §3.1.3 UNCHANGEDSINCE. */
function parseStore(r: Reader, tag: string, uid: boolean): Command {
  r.sp();
  const set = r.sequenceSet();
  r.sp();
  let unchangedSince: number | undefined;
  if (r.peek() === 0x28) {
    r.list(() => {
      const modifier = r.keyword('a STORE modifier');
      if (modifier !== 'UNCHANGEDSINCE') throw new WireSyntaxError(`unknown STORE modifier ${modifier}`);
      r.sp();
      unchangedSince = r.number64('a mod-sequence');
    });
    r.sp();
  }
  const operation = r.accept(0x2b) ? 'add' : r.accept(0x2d) ? 'remove' : 'replace';
  const item = r.keyword('FLAGS');
  if (item !== 'FLAGS' && item !== 'FLAGS.SILENT') throw new WireSyntaxError('expected FLAGS or FLAGS.SILENT');
  r.sp();
  let flags: string[];
  if (r.peek() === 0x28) flags = r.flagList();
  else {
    flags = [r.flag()];
    while (!r.atEnd()) {
      r.sp();
      flags.push(r.flag());
      if (flags.length > r.limits.maxItems) throw new WireSyntaxError('too many flags');
    }
  }
  return { tag, name: 'STORE', uid, set, ...(unchangedSince !== undefined ? { unchangedSince } : {}), operation, silent: item === 'FLAGS.SILENT', flags };
}

const NOTIFY_EVENTS = new Map(
  ['MessageNew', 'MessageExpunge', 'FlagChange', 'AnnotationChange', 'MailboxName', 'SubscriptionChange', 'MailboxMetadataChange', 'ServerMetadataChange'].map((e) => [e.toUpperCase(), e]),
);

/** RFC 5465 §8 notify. */
function parseNotify(r: Reader, tag: string): Command {
  r.sp();
  const verb = r.keyword('SET or NONE');
  if (verb === 'NONE') return { tag, name: 'NOTIFY', action: { kind: 'none' } };
  if (verb !== 'SET') throw new WireSyntaxError('expected SET or NONE');
  r.sp();
  const status = r.word('STATUS');
  if (status) r.sp();
  const groups: NotifyEventGroup[] = [];
  for (;;) {
    r.open();
    const filter = parseNotifyFilter(r);
    r.sp();
    let events: NotifyEvent[] = [];
    if (!r.word('NONE')) {
      events = r.list((): NotifyEvent => {
        const raw = r.atom('an event');
        const event = NOTIFY_EVENTS.get(raw.toUpperCase());
        if (event === 'MessageNew') {
          const mark = r.mark();
          if (r.accept(0x20) && r.peek() === 0x28) return { event, fetch: r.list(() => parseFetchAttribute(r)) };
          r.reset(mark);
          return { event };
        }
        if (event) return { event: event as 'FlagChange' };
        return { event: 'unknown', name: raw };
      });
    }
    r.close();
    groups.push({ filter, events });
    if (groups.length > r.limits.maxItems) throw new WireSyntaxError('too many event groups');
    if (r.atEnd()) break;
    r.sp();
  }
  return { tag, name: 'NOTIFY', action: { kind: 'set', status, groups } };
}

function parseNotifyFilter(r: Reader): NotifyFilter {
  const kind = r.keyword('a mailbox filter');
  switch (kind) {
    case 'SELECTED':
    case 'SELECTED-DELAYED':
    case 'INBOXES':
    case 'PERSONAL':
    case 'SUBSCRIBED':
      return { kind };
    case 'SUBTREE':
    case 'MAILBOXES': {
      r.sp();
      const mailboxes = r.peek() === 0x28 ? r.list(() => r.mailbox()) : [r.mailbox()];
      return { kind, mailboxes };
    }
    default:
      throw new WireSyntaxError(`unknown mailbox filter ${kind}`);
  }
}
