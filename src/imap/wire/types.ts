// The typed contract of the IMAP wire layer (sans-I/O): what the command parser produces and what
// the response encoder consumes. Nothing here touches a socket or the store.
//
// Invariants:
// - Every client command is one variant of `Command`, discriminated by `name`, with typed
//   arguments (never token arrays). Every variant carries the client's `tag`.
// - The UID prefix (RFC 9051 §6.4.9) is not a separate command: it is `uid: true` on the variant.
// - Mailbox names in commands are already decoded to Unicode (modified UTF-7, RFC 3501 §5.1.3, or
//   UTF-8 after ENABLE UTF8=ACCEPT, RFC 6855 §3); "INBOX" in any case is normalised to "INBOX"
//   (RFC 9051 §5.1). Handlers never see mUTF-7.
// - Numbers fit in a JS number: the parser refuses (BAD) any number above 2^53 - 1, including
//   mod-sequences (RFC 7162 allows 2^63 - 1; Pigeon's store keeps modseqs as numbers).
// - System flags are given in their canonical case ("\Seen"); keywords keep the client's case.
//
// This file is a stable contract read by the session and command handlers: add to it, never rename.

// ---------------------------------------------------------------------------------------------
// Sequence sets, sections, dates
// ---------------------------------------------------------------------------------------------

/** One end of a sequence range: a number, or `*` = the largest number in use (RFC 9051 §9 seq-number). */
export type SeqNumber = number | '*';

/** `a:b` (either order, RFC 9051 §9 seq-range says "4:2" equals "2:4"); a single number `n` is `{ start: n, end: n }`. */
export interface SeqRange {
  start: SeqNumber;
  end: SeqNumber;
}

/**
 * RFC 9051 §9 sequence-set: comma-separated numbers and ranges, or `$` = the result saved by
 * `SEARCH RETURN (SAVE)` (RFC 5182 SEARCHRES, RFC 9051 §6.4.4.1). Ranges are as the client wrote
 * them (not sorted, not merged).
 */
export type SequenceSet = { ranges: SeqRange[] } | { saved: true };

/**
 * RFC 9051 §6.4.5 section-spec of BODY[…] / BODY.PEEK[…].
 * `part` is the section-part (`[1, 2]` for "1.2", `[]` for the whole message).
 * `text` is the section-msgtext or MIME ("MIME" only with a non-empty part).
 * `fields` is present exactly when text is HEADER.FIELDS or HEADER.FIELDS.NOT (at least one name);
 * names keep the client's spelling (the FETCH response echoes the request, RFC 9051 §7.5.2) and
 * are compared case-insensitively.
 */
export interface SectionSpec {
  part: number[];
  text?: 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';
  fields?: string[];
}

/**
 * RFC 9051 §6.4.5 partial `<offset.length>` of BODY[]/BINARY[] (length ≥ 1).
 * (Named PartialRange, not Partial, so it does not shadow TypeScript's utility type.)
 */
export interface PartialRange {
  offset: number;
  length: number;
}

/** A calendar date as in SEARCH keys (RFC 9051 §9 date: "1-Feb-1994"); month is 1–12. */
export interface ImapDate {
  year: number;
  month: number;
  day: number;
}

/**
 * RFC 9051 §9 date-time ("17-Jul-1996 02:44:25 -0700") as in APPEND: the instant, and the zone
 * the client gave (INTERNALDATE is echoed with it).
 */
export interface ImapDateTime {
  /** Milliseconds since the epoch (UTC). */
  time: number;
  /** The zone as minutes east of UTC: -0700 → -420. */
  offsetMinutes: number;
}

// ---------------------------------------------------------------------------------------------
// FETCH (RFC 9051 §6.4.5, RFC 3501 §6.4.5)
// ---------------------------------------------------------------------------------------------

/**
 * One fetch item. Macros are expanded by the parser (RFC 9051 §6.4.5):
 * ALL = FLAGS INTERNALDATE RFC822.SIZE ENVELOPE; FAST = FLAGS INTERNALDATE RFC822.SIZE;
 * FULL = FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODY.
 */
export type FetchAttribute =
  /** RFC 9051 §7.5.2 items without arguments. RFC822* are the RFC 3501 forms (IMAP4rev1). */
  | {
      kind:
        | 'ENVELOPE'
        | 'FLAGS'
        | 'INTERNALDATE'
        | 'RFC822.SIZE'
        | 'RFC822'
        | 'RFC822.HEADER'
        | 'RFC822.TEXT'
        | 'BODY'
        | 'BODYSTRUCTURE'
        | 'UID';
    }
  /** BODY[section]<partial> and BODY.PEEK[…] (peek: do not set \Seen). */
  | { kind: 'BODY[]'; section: SectionSpec; partial?: PartialRange; peek: boolean }
  /** RFC 3516 / RFC 9051 BINARY[part]<partial> and BINARY.PEEK[…]; part [] = whole message. */
  | { kind: 'BINARY'; part: number[]; partial?: PartialRange; peek: boolean }
  /** RFC 3516 / RFC 9051 BINARY.SIZE[part]. */
  | { kind: 'BINARY.SIZE'; part: number[] }
  /** RFC 7162 §3.1.4.1 MODSEQ. */
  | { kind: 'MODSEQ' }
  /** RFC 8514 §4 SAVEDATE. */
  | { kind: 'SAVEDATE' }
  /** RFC 8474 §5 EMAILID and THREADID. */
  | { kind: 'EMAILID' }
  | { kind: 'THREADID' }
  /** RFC 8970 §3 PREVIEW, or PREVIEW (LAZY). */
  | { kind: 'PREVIEW'; lazy: boolean };

export type FetchAttributeKind = FetchAttribute['kind'];

// ---------------------------------------------------------------------------------------------
// SEARCH (RFC 9051 §6.4.4, RFC 3501 §6.4.4 and extensions)
// ---------------------------------------------------------------------------------------------

/** Keys with no argument (RFC 3501 §6.4.4; NEW, OLD, RECENT are IMAP4rev1 only; SAVEDATESUPPORTED RFC 8514 §4.3). */
export type FlagSearchKeyName =
  | 'ALL'
  | 'ANSWERED'
  | 'DELETED'
  | 'DRAFT'
  | 'FLAGGED'
  | 'NEW'
  | 'OLD'
  | 'RECENT'
  | 'SEEN'
  | 'UNANSWERED'
  | 'UNDELETED'
  | 'UNDRAFT'
  | 'UNFLAGGED'
  | 'UNSEEN'
  | 'SAVEDATESUPPORTED';

/** Keys taking a string matched as a substring (RFC 9051 §6.4.4). */
export type TextSearchKeyName = 'BCC' | 'BODY' | 'CC' | 'FROM' | 'SUBJECT' | 'TEXT' | 'TO';

/**
 * Keys taking a date. BEFORE/ON/SINCE compare INTERNALDATE, SENT* the Date: header
 * (RFC 9051 §6.4.4), SAVED* the save date (RFC 8514 §4.3). Dates ignore time and zone.
 */
export type DateSearchKeyName =
  | 'BEFORE'
  | 'ON'
  | 'SINCE'
  | 'SENTBEFORE'
  | 'SENTON'
  | 'SENTSINCE'
  | 'SAVEDBEFORE'
  | 'SAVEDON'
  | 'SAVEDSINCE';

/** RFC 7162 §3.1.5 MODSEQ search criterion's optional metadata item. */
export interface ModseqEntry {
  /** e.g. "/flags/\\seen" (as sent, unescaped: "/flags/\seen"). */
  name: string;
  type: 'priv' | 'shared' | 'all';
}

/**
 * A search criterion tree. A top-level list of keys and a parenthesised list are both `AND`
 * (RFC 9051 §6.4.4: "a message matches if it matches all keys"). String values are decoded to
 * Unicode from the program's charset (see SearchProgram.charsetKnown).
 */
export type SearchKey =
  | { key: FlagSearchKeyName }
  | { key: TextSearchKeyName; value: string }
  | { key: DateSearchKeyName; date: ImapDate }
  /** HEADER field-name string (an empty value matches every message with that field). */
  | { key: 'HEADER'; field: string; value: string }
  | { key: 'KEYWORD' | 'UNKEYWORD'; flag: string }
  /** Sizes in octets (RFC822.SIZE). */
  | { key: 'LARGER' | 'SMALLER'; size: number }
  | { key: 'NOT'; operand: SearchKey }
  | { key: 'OR'; left: SearchKey; right: SearchKey }
  /** Parenthesised list `( key key … )`, and the top level when it holds more than one key. */
  | { key: 'AND'; operands: SearchKey[] }
  /** UID sequence-set. */
  | { key: 'UID'; set: SequenceSet }
  /** A bare sequence-set: message sequence numbers. */
  | { key: 'SEQUENCE'; set: SequenceSet }
  /** RFC 7162 §3.1.5 MODSEQ [entry-name entry-type] mod-sequence-valzer: modseq ≥ value. */
  | { key: 'MODSEQ'; modseq: number; entry?: ModseqEntry }
  /** RFC 5032 §3 WITHIN: INTERNALDATE newer (YOUNGER) / older (OLDER) than n seconds. */
  | { key: 'YOUNGER' | 'OLDER'; seconds: number }
  /** RFC 8474 §6 EMAILID / THREADID objectid. */
  | { key: 'EMAILID' | 'THREADID'; id: string };

export type SearchKeyName = SearchKey['key'];

/**
 * RFC 9394 §4 partial-range: 1-based positions in a result list, either both positive ("1:100",
 * from the first) or both negative ("-1:-100", from the last); "500:400" is the same as "400:500".
 */
export interface PartialWindow {
  start: number;
  end: number;
}

/**
 * RFC 4731 §3.1 / RFC 9051 §6.4.4 ESEARCH return options, RFC 5182 SAVE, RFC 9394 §3.1 PARTIAL.
 * At most one of ALL and PARTIAL (RFC 9394 §3.1; the parser refuses more).
 */
export type SearchReturnOption = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE' | { partial: PartialWindow };

/** A SEARCH / SORT / THREAD criteria program. */
export interface SearchProgram {
  /** CHARSET as given (upper-cased), absent when the client gave none (US-ASCII / UTF-8). */
  charset?: string;
  /**
   * False when the parser could not decode the charset: the handler must answer
   * `NO [BADCHARSET (UTF-8 US-ASCII)]` (RFC 9051 §6.4.4). String values are then latin1-decoded.
   */
  charsetKnown: boolean;
  /**
   * Absent: a plain SEARCH (untagged SEARCH response, or ESEARCH in IMAP4rev2).
   * `[]`: `RETURN ()`, which means ALL (RFC 4731 §3.1). Otherwise the options in order.
   */
  returnOptions?: SearchReturnOption[];
  key: SearchKey;
}

/** RFC 5256 §3 sort-key, with RFC 5957 DISPLAYFROM / DISPLAYTO. */
export interface SortCriterion {
  key: 'ARRIVAL' | 'CC' | 'DATE' | 'FROM' | 'SIZE' | 'SUBJECT' | 'TO' | 'DISPLAYFROM' | 'DISPLAYTO';
  reverse: boolean;
}

// ---------------------------------------------------------------------------------------------
// Mailbox-level pieces
// ---------------------------------------------------------------------------------------------

/** RFC 9051 §6.3.11 status-att, RFC 3501 RECENT, RFC 7162 HIGHESTMODSEQ, RFC 7889 APPENDLIMIT, RFC 8474 MAILBOXID. */
export type StatusItem =
  | 'MESSAGES'
  | 'UIDNEXT'
  | 'UIDVALIDITY'
  | 'UNSEEN'
  | 'DELETED'
  | 'SIZE'
  | 'RECENT'
  | 'HIGHESTMODSEQ'
  | 'APPENDLIMIT'
  | 'MAILBOXID';

/** RFC 5258 §6 list-select-opt (and RFC 6154 §3 SPECIAL-USE). */
export type ListSelectOption = 'SUBSCRIBED' | 'REMOTE' | 'RECURSIVEMATCH' | 'SPECIAL-USE';

/** RFC 5258 §6 list-return-opts: CHILDREN, SUBSCRIBED; RFC 6154 SPECIAL-USE; RFC 5819 STATUS (…); RFC 8440 MYRIGHTS. */
export interface ListReturnOptions {
  subscribed: boolean;
  children: boolean;
  specialUse: boolean;
  myRights: boolean;
  /** Present when RETURN (STATUS (…)) was given. */
  status?: StatusItem[];
}

/** RFC 7162 §3.2.5 SELECT/EXAMINE (QRESYNC (uidvalidity modseq [known-uids [seq-match-data]])). */
export interface QresyncParams {
  uidValidity: number;
  modseq: number;
  knownUids?: SequenceSet;
  seqMatch?: { seqs: SequenceSet; uids: SequenceSet };
}

/** One part of RFC 4469 CATENATE. */
export type CatenatePart =
  | { kind: 'text'; data: Buffer; binary: boolean }
  /** An IMAP URL (RFC 5092), as given. */
  | { kind: 'url'; url: string };

/** One message of APPEND (RFC 9051 §6.3.12; several = RFC 3502 MULTIAPPEND). */
export interface AppendMessage {
  /** Flag list, canonical system flags; empty when absent. */
  flags: string[];
  /** date-time; absent = now. */
  internalDate?: ImapDateTime;
  content:
    /**
     * The message literal. `binary`: sent as literal8 `~{n}` (RFC 3516 / RFC 9051, may hold NUL).
     * `utf8`: wrapped as `UTF8 (~{n})` (RFC 6855 §4).
     */
    | { kind: 'literal'; data: Buffer; binary: boolean; utf8: boolean }
    /** RFC 4469 CATENATE (part …). */
    | { kind: 'catenate'; parts: CatenatePart[] };
}

/** RFC 5465 §8 filter-mailboxes. */
export type NotifyFilter =
  | { kind: 'SELECTED' | 'SELECTED-DELAYED' | 'INBOXES' | 'PERSONAL' | 'SUBSCRIBED' }
  | { kind: 'SUBTREE' | 'MAILBOXES'; mailboxes: string[] };

/** RFC 5465 §5 events. Unknown event names are kept so the handler can answer NO [BADEVENT]. */
export type NotifyEvent =
  | { event: 'MessageNew'; fetch?: FetchAttribute[] }
  | {
      event:
        | 'MessageExpunge'
        | 'FlagChange'
        | 'AnnotationChange'
        | 'MailboxName'
        | 'SubscriptionChange'
        | 'MailboxMetadataChange'
        | 'ServerMetadataChange';
    }
  | { event: 'unknown'; name: string };

/** RFC 5465 §8 event-group: filter and its events; `events: []` is the keyword NONE. */
export interface NotifyEventGroup {
  filter: NotifyFilter;
  events: NotifyEvent[];
}

/** RFC 5464 §4.2 GETMETADATA options. */
export interface MetadataOptions {
  maxSize?: number;
  depth?: '0' | '1' | 'infinity';
}

// ---------------------------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------------------------

interface Tagged {
  /** The client's tag, as sent (RFC 9051 §9 tag). */
  tag: string;
}

/** Commands without arguments (RFC 9051 §6.1, §6.4, RFC 2177 IDLE, RFC 3691 UNSELECT, RFC 2342 NAMESPACE). */
export interface SimpleCommand extends Tagged {
  name: 'CAPABILITY' | 'NOOP' | 'LOGOUT' | 'STARTTLS' | 'CHECK' | 'CLOSE' | 'UNSELECT' | 'IDLE' | 'NAMESPACE';
}

/** RFC 9051 §6.2.2 AUTHENTICATE, RFC 4959 SASL-IR initial response. */
export interface AuthenticateCommand extends Tagged {
  name: 'AUTHENTICATE';
  /** Upper-cased mechanism name. */
  mechanism: string;
  /** Decoded initial response: absent when not given, empty Buffer for "=". */
  initialResponse?: Buffer;
}

/** RFC 9051 §6.2.3 LOGIN (astrings, UTF-8 decoded). */
export interface LoginCommand extends Tagged {
  name: 'LOGIN';
  username: string;
  password: string;
}

/** RFC 5161 ENABLE; capability names upper-cased. */
export interface EnableCommand extends Tagged {
  name: 'ENABLE';
  capabilities: string[];
}

/** SELECT / EXAMINE arguments (RFC 9051 §6.3.2-3, RFC 7162 §3.1.8 CONDSTORE, §3.2.5 QRESYNC). */
interface SelectParams extends Tagged {
  mailbox: string;
  condstore: boolean;
  qresync?: QresyncParams;
}

export interface SelectCommand extends SelectParams {
  name: 'SELECT';
}

export interface ExamineCommand extends SelectParams {
  name: 'EXAMINE';
}

/** RFC 9051 §6.3.4 CREATE, RFC 6154 §3 CREATE-SPECIAL-USE `(USE (\Sent …))`. */
export interface CreateCommand extends Tagged {
  name: 'CREATE';
  mailbox: string;
  /** Special-use attributes as given ("\Sent"); absent when no USE. */
  specialUse?: string[];
}

/** RFC 9051 §6.3.5 DELETE, §6.3.7 SUBSCRIBE, §6.3.8 UNSUBSCRIBE. */
export interface MailboxCommand extends Tagged {
  name: 'DELETE' | 'SUBSCRIBE' | 'UNSUBSCRIBE';
  mailbox: string;
}

/** RFC 9051 §6.3.6 RENAME. */
export interface RenameCommand extends Tagged {
  name: 'RENAME';
  from: string;
  to: string;
}

/** RFC 9051 §6.3.9 LIST with RFC 5258 LIST-EXTENDED. */
export interface ListCommand extends Tagged {
  name: 'LIST';
  /** Selection options; [] when none (or `()`). */
  selection: ListSelectOption[];
  /** Reference name (decoded like a mailbox name, may be ""). */
  reference: string;
  /** One or more patterns (decoded), `*` and `%` wildcards kept. */
  patterns: string[];
  /** Return options; all false and no status when no RETURN. */
  returns: ListReturnOptions;
  /**
   * True when the extended syntax was used (selection options, a pattern list or RETURN):
   * RFC 5258 §3 then requires extended replies (e.g. CHILDINFO).
   */
  extended: boolean;
}

/** RFC 3501 §6.3.9 LSUB (IMAP4rev1 only). */
export interface LsubCommand extends Tagged {
  name: 'LSUB';
  reference: string;
  pattern: string;
}

/** RFC 9051 §6.3.11 STATUS. */
export interface StatusCommand extends Tagged {
  name: 'STATUS';
  mailbox: string;
  items: StatusItem[];
}

/** RFC 9051 §6.3.12 APPEND, RFC 3502 MULTIAPPEND (several messages), RFC 4469 CATENATE. */
export interface AppendCommand extends Tagged {
  name: 'APPEND';
  mailbox: string;
  /** At least one. */
  messages: AppendMessage[];
}

/** RFC 9051 §6.4.3 EXPUNGE. */
export interface PlainExpungeCommand extends Tagged {
  name: 'EXPUNGE';
  uid: false;
}

/** RFC 4315 §2.1 / RFC 9051 §6.4.9 UID EXPUNGE sequence-set. */
export interface UidExpungeCommand extends Tagged {
  name: 'EXPUNGE';
  uid: true;
  set: SequenceSet;
}

export type ExpungeCommand = PlainExpungeCommand | UidExpungeCommand;

/** RFC 9051 §6.4.4 SEARCH / UID SEARCH (with RFC 4731 RETURN). */
export interface SearchCommand extends Tagged {
  name: 'SEARCH';
  uid: boolean;
  program: SearchProgram;
}

/** RFC 9051 §6.4.5 FETCH / UID FETCH, RFC 7162 §3.1.4.1 CHANGEDSINCE, §3.2.6 VANISHED, RFC 9394 §3.3 PARTIAL. */
export interface FetchCommand extends Tagged {
  name: 'FETCH';
  uid: boolean;
  set: SequenceSet;
  /** In the client's order, macros expanded; UID is NOT added for UID FETCH (the handler adds it). */
  attributes: FetchAttribute[];
  changedSince?: number;
  /** VANISHED modifier; the parser only accepts it with uid and changedSince (RFC 7162 §3.2.6). */
  vanished: boolean;
  /** RFC 9394 §3.3 PARTIAL modifier: only this window of the messages the set names. */
  partial?: PartialWindow;
}

/** RFC 9051 §6.4.6 STORE / UID STORE, RFC 7162 §3.1.3 UNCHANGEDSINCE. */
export interface StoreCommand extends Tagged {
  name: 'STORE';
  uid: boolean;
  set: SequenceSet;
  unchangedSince?: number;
  /** "+FLAGS" add, "-FLAGS" remove, "FLAGS" replace. */
  operation: 'add' | 'remove' | 'replace';
  /** ".SILENT": no untagged FETCH for the change. */
  silent: boolean;
  flags: string[];
}

/** RFC 9051 §6.4.7 COPY / UID COPY, RFC 6851 MOVE / UID MOVE. */
export interface CopyCommand extends Tagged {
  name: 'COPY' | 'MOVE';
  uid: boolean;
  set: SequenceSet;
  mailbox: string;
}

/** RFC 2971 ID: field/value pairs, or null for "ID NIL". */
export interface IdCommand extends Tagged {
  name: 'ID';
  params: Array<[string, string | null]> | null;
}

/** RFC 5256 §3 SORT / UID SORT, RFC 5267 ESORT RETURN options (in program.returnOptions). */
export interface SortCommand extends Tagged {
  name: 'SORT';
  uid: boolean;
  criteria: SortCriterion[];
  program: SearchProgram;
}

/** RFC 5256 §3 THREAD / UID THREAD; algorithm upper-cased ("ORDEREDSUBJECT", "REFERENCES", …). */
export interface ThreadCommand extends Tagged {
  name: 'THREAD';
  uid: boolean;
  algorithm: string;
  program: SearchProgram;
}

/** RFC 5465 §3 NOTIFY NONE | NOTIFY SET [STATUS] event-group…. */
export interface NotifyCommand extends Tagged {
  name: 'NOTIFY';
  action: { kind: 'none' } | { kind: 'set'; status: boolean; groups: NotifyEventGroup[] };
}

/** RFC 9208 §4.2 GETQUOTA quota-root. */
export interface GetQuotaCommand extends Tagged {
  name: 'GETQUOTA';
  root: string;
}

/** RFC 9208 §4.3 GETQUOTAROOT mailbox. */
export interface GetQuotaRootCommand extends Tagged {
  name: 'GETQUOTAROOT';
  mailbox: string;
}

/** RFC 9208 §4.1 SETQUOTA quota-root (resource limit …); resource names upper-cased. */
export interface SetQuotaCommand extends Tagged {
  name: 'SETQUOTA';
  root: string;
  limits: Array<{ resource: string; limit: number }>;
}

/** RFC 5464 §4.2 GETMETADATA [options] mailbox entries; mailbox "" = server metadata. */
export interface GetMetadataCommand extends Tagged {
  name: 'GETMETADATA';
  options: MetadataOptions;
  mailbox: string;
  entries: string[];
}

/** RFC 5464 §4.3 SETMETADATA mailbox (entry value …); value null = NIL (remove). */
export interface SetMetadataCommand extends Tagged {
  name: 'SETMETADATA';
  mailbox: string;
  entries: Array<{ entry: string; value: Buffer | null }>;
}

/** RFC 4978 §3 COMPRESS mechanism (upper-cased, "DEFLATE"). */
export interface CompressCommand extends Tagged {
  name: 'COMPRESS';
  mechanism: string;
}

/** RFC 4467 §7 GENURLAUTH (url mechanism)…; mechanisms upper-cased ("INTERNAL"). */
export interface GenUrlAuthCommand extends Tagged {
  name: 'GENURLAUTH';
  items: Array<{ url: string; mechanism: string }>;
}

/** RFC 4467 §7 RESETKEY [mailbox [mechanism …]]. */
export interface ResetKeyCommand extends Tagged {
  name: 'RESETKEY';
  mailbox?: string;
  mechanisms: string[];
}

/** RFC 4467 §7 URLFETCH url…. */
export interface UrlFetchCommand extends Tagged {
  name: 'URLFETCH';
  urls: string[];
}

/** Every command the parser understands. */
export type Command =
  | SimpleCommand
  | AuthenticateCommand
  | LoginCommand
  | EnableCommand
  | SelectCommand
  | ExamineCommand
  | CreateCommand
  | MailboxCommand
  | RenameCommand
  | ListCommand
  | LsubCommand
  | StatusCommand
  | AppendCommand
  | ExpungeCommand
  | SearchCommand
  | FetchCommand
  | StoreCommand
  | CopyCommand
  | IdCommand
  | SortCommand
  | ThreadCommand
  | NotifyCommand
  | GetQuotaCommand
  | GetQuotaRootCommand
  | SetQuotaCommand
  | GetMetadataCommand
  | SetMetadataCommand
  | CompressCommand
  | GenUrlAuthCommand
  | ResetKeyCommand
  | UrlFetchCommand;

export type CommandName = Command['name'];

/** Narrow a Command by name: `CommandOf<'FETCH'>` is FetchCommand. */
export type CommandOf<N extends CommandName> = Extract<Command, { name: N }>;

// ---------------------------------------------------------------------------------------------
// Parser results
// ---------------------------------------------------------------------------------------------

/**
 * What the streaming parser returns for each call to `next()`.
 * - `command`: one complete command; `consumed` = bytes of input it took (literals included).
 * - `need-more`: nothing complete yet; push more bytes.
 * - `need-literal`: the client announced a synchronising literal `{n}` / `~{n}` (RFC 9051 §4.3)
 *   within the limits; the session must send `+ Ready for literal data` (or call the parser's
 *   refuseLiteral() and answer NO) before the client sends it. Not emitted for `{n+}` (RFC 7888).
 * - `bad`: the command could not be parsed (or a limit was hit). The parser already skipped to
 *   the end of the offending command; `tag` is set when one could be read. Answer with a tagged
 *   `status` response (`BAD` for syntax; `NO` with e.g. [TOOBIG] for an over-limit literal), or an
 *   untagged `* BAD` when tag is null. `close`: also end the connection (e.g. RFC 7888 §4: a
 *   LITERAL- literal over 4096 octets whose bytes cannot be skipped safely).
 * - `line`: in line mode (`expectLine()`), one raw line without its CRLF (IDLE's "DONE",
 *   AUTHENTICATE continuations, RFC 9051 §6.2.2 / RFC 2177).
 */
export type ParseResult =
  | { kind: 'command'; command: Command; consumed: number }
  | { kind: 'need-more' }
  | { kind: 'need-literal'; tag: string; command: string; size: number; sync: true; binary: boolean }
  | {
      kind: 'bad';
      tag: string | null;
      message: string;
      consumed: number;
      status: 'BAD' | 'NO';
      code?: 'TOOBIG' | 'LIMIT' | 'CLIENTBUG' | 'PARSE';
      close?: boolean;
    }
  | { kind: 'line'; line: string; consumed: number };

// ---------------------------------------------------------------------------------------------
// Response values for the encoder
// ---------------------------------------------------------------------------------------------

/**
 * A value in a server response (RFC 9051 §4):
 * - `null` → NIL
 * - `number` / `bigint` → a number (non-negative integers only)
 * - `{ atom }` → written verbatim: atoms, flags ("\Seen"), FETCH item names such as
 *   "BODY[HEADER.FIELDS (FROM)]<0>". Must not contain CR, LF, or 8-bit bytes.
 * - `string` → quoted when safe, else a literal (CR/LF, NUL, 8-bit unless UTF-8 is allowed, or long)
 * - `{ mailbox }` → a mailbox name: modified UTF-7 (RFC 3501 §5.1.3), or UTF-8 when the session
 *   enabled UTF8=ACCEPT (RFC 6855 §3), then quoted / literal as a string
 * - `Buffer` or `{ literal }` → a literal `{n}`; `binary` → literal8 `~{n}` (RFC 3516)
 * - array → a parenthesised list
 */
export type ImapValue =
  | null
  | number
  | bigint
  | { atom: string }
  | string
  | { mailbox: string }
  | Buffer
  | { literal: Buffer; binary?: boolean }
  /** Elements written side by side with no separator, for the grammar rules that put lists
   *  together without SP (RFC 9051 §9 env-from `"(" 1*address ")"`, body-type-mpart
   *  `1*body SP media-subtype`; RFC 5256 thread-nested). */
  | { run: ImapValue[] }
  | ImapValue[];

/** RFC 9051 §7.1 resp-text-code: `[CODE]` or `[CODE args…]`, e.g. { code: 'UIDNEXT', args: [5] }. */
export interface ResponseCode {
  code: string;
  /** Written after the code separated by spaces; a list argument is parenthesised (PERMANENTFLAGS). */
  args?: ImapValue[];
}

/** A server response line (RFC 9051 §7). */
export type Response =
  /** `tag OK|NO|BAD [code] text` (RFC 9051 §7.1). */
  | { kind: 'tagged'; tag: string; status: 'OK' | 'NO' | 'BAD'; code?: ResponseCode; text: string }
  /** `* OK|NO|BAD|PREAUTH|BYE [code] text` (RFC 9051 §7.1). */
  | { kind: 'status'; status: 'OK' | 'NO' | 'BAD' | 'PREAUTH' | 'BYE'; code?: ResponseCode; text: string }
  /** `* v1 v2 …`: untagged data, e.g. [3, {atom:'EXISTS'}] or [{atom:'FLAGS'}, [{atom:'\\Seen'}]]. */
  | { kind: 'data'; values: ImapValue[] }
  /** `+ text` (RFC 9051 §7.5); text may be base64 for AUTHENTICATE. */
  | { kind: 'continuation'; text: string };

/** Options of the encoder, per session. */
export interface EncodeOptions {
  /** UTF8=ACCEPT enabled (RFC 6855): quoted strings may hold UTF-8, mailbox names are sent as UTF-8. */
  utf8: boolean;
}
