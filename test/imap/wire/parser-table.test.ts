// Wire table: each command line → the typed command it must parse to (RFC 9051 §9 and extensions).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { parseAll } from '../../../src/imap/wire/parser.js';
import type { Command, ParseResult } from '../../../src/imap/wire/types.js';

function parseOne(input: string, utf8 = false): ParseResult {
  const results = parseAll(input, { utf8 }).filter((r) => r.kind !== 'need-more' && r.kind !== 'need-literal');
  assert.equal(results.length, 1, `one result for ${JSON.stringify(input)}: ${JSON.stringify(results)}`);
  return results[0] as ParseResult;
}

function command(input: string, utf8 = false): Command {
  const result = parseOne(input, utf8);
  if (result.kind !== 'command') assert.fail(`expected a command for ${JSON.stringify(input)}, got ${JSON.stringify(result)}`);
  return result.command;
}

const all = { ranges: [{ start: 1, end: '*' as const }] };
const one = { ranges: [{ start: 1, end: 1 }] };
const noReturns = { subscribed: false, children: false, specialUse: false, myRights: false };

const table: Array<[string, Command]> = [
  ['a CAPABILITY', { tag: 'a', name: 'CAPABILITY' }],
  ['a.1 noop', { tag: 'a.1', name: 'NOOP' }],
  ['A] LOGOUT', { tag: 'A]', name: 'LOGOUT' }],
  ['A STARTTLS', { tag: 'A', name: 'STARTTLS' }],
  ['A CHECK', { tag: 'A', name: 'CHECK' }],
  ['A CLOSE', { tag: 'A', name: 'CLOSE' }],
  ['A UNSELECT', { tag: 'A', name: 'UNSELECT' }],
  ['A IDLE', { tag: 'A', name: 'IDLE' }],
  ['A NAMESPACE', { tag: 'A', name: 'NAMESPACE' }],
  ['A AUTHENTICATE plain', { tag: 'A', name: 'AUTHENTICATE', mechanism: 'PLAIN' }],
  ['A AUTHENTICATE PLAIN AGpvZQBzZWNyZXQ=', { tag: 'A', name: 'AUTHENTICATE', mechanism: 'PLAIN', initialResponse: Buffer.from('\0joe\0secret') }],
  ['A AUTHENTICATE EXTERNAL =', { tag: 'A', name: 'AUTHENTICATE', mechanism: 'EXTERNAL', initialResponse: Buffer.alloc(0) }],
  ['A LOGIN joe "pa ss\\"word\\\\"', { tag: 'A', name: 'LOGIN', username: 'joe', password: 'pa ss"word\\' }],
  ['A LOGIN {4}\r\njoé {4+}\r\n\u00e9\u00e9', { tag: 'A', name: 'LOGIN', username: 'jo\u00e9', password: '\u00e9\u00e9' }],
  ['A ENABLE CONDSTORE utf8=accept', { tag: 'A', name: 'ENABLE', capabilities: ['CONDSTORE', 'UTF8=ACCEPT'] }],
  ['A SELECT inbox', { tag: 'A', name: 'SELECT', mailbox: 'INBOX', condstore: false }],
  ['A EXAMINE "Sent Items" (CONDSTORE)', { tag: 'A', name: 'EXAMINE', mailbox: 'Sent Items', condstore: true }],
  [
    'A SELECT INBOX (QRESYNC (67890007 9006011519404 41,43:211,214:541))',
    { tag: 'A', name: 'SELECT', mailbox: 'INBOX', condstore: false, qresync: { uidValidity: 67890007, modseq: 9006011519404, knownUids: { ranges: [{ start: 41, end: 41 }, { start: 43, end: 211 }, { start: 214, end: 541 }] } } },
  ].map((x) => x) as [string, Command],
  [
    'A SELECT INBOX (CONDSTORE QRESYNC (1 2 1:10 (1,5 2,9)))',
    {
      tag: 'A', name: 'SELECT', mailbox: 'INBOX', condstore: true,
      qresync: { uidValidity: 1, modseq: 2, knownUids: { ranges: [{ start: 1, end: 10 }] }, seqMatch: { seqs: { ranges: [{ start: 1, end: 1 }, { start: 5, end: 5 }] }, uids: { ranges: [{ start: 2, end: 2 }, { start: 9, end: 9 }] } } },
    },
  ],
  ['A SELECT x (QRESYNC (1 2 (3 4)))', { tag: 'A', name: 'SELECT', mailbox: 'x', condstore: false, qresync: { uidValidity: 1, modseq: 2, seqMatch: { seqs: { ranges: [{ start: 3, end: 3 }] }, uids: { ranges: [{ start: 4, end: 4 }] } } } }],
  ['A CREATE Archive/2024', { tag: 'A', name: 'CREATE', mailbox: 'Archive/2024' }],
  ['A CREATE MySent (USE (\\Sent))', { tag: 'A', name: 'CREATE', mailbox: 'MySent', specialUse: ['\\Sent'] }],
  ['A DELETE "&U,BTFw-"', { tag: 'A', name: 'DELETE', mailbox: '\u53f0\u5317' }],
  ['A SUBSCRIBE news', { tag: 'A', name: 'SUBSCRIBE', mailbox: 'news' }],
  ['A UNSUBSCRIBE news', { tag: 'A', name: 'UNSUBSCRIBE', mailbox: 'news' }],
  ['A RENAME a b', { tag: 'A', name: 'RENAME', from: 'a', to: 'b' }],
  ['A LIST "" *', { tag: 'A', name: 'LIST', selection: [], reference: '', patterns: ['*'], returns: noReturns, extended: false }],
  ['A LIST "" ""', { tag: 'A', name: 'LIST', selection: [], reference: '', patterns: [''], returns: noReturns, extended: false }],
  ['A LIST ~/Mail/ %]', { tag: 'A', name: 'LIST', selection: [], reference: '~/Mail/', patterns: ['%]'], returns: noReturns, extended: false }],
  [
    'A LIST (SUBSCRIBED RECURSIVEMATCH) "" ("INBOX" "Lists/*") RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN HIGHESTMODSEQ))',
    { tag: 'A', name: 'LIST', selection: ['SUBSCRIBED', 'RECURSIVEMATCH'], reference: '', patterns: ['INBOX', 'Lists/*'], returns: { ...noReturns, children: true, specialUse: true, status: ['MESSAGES', 'UNSEEN', 'HIGHESTMODSEQ'] }, extended: true },
  ],
  ['A LIST () "" % RETURN (SUBSCRIBED MYRIGHTS)', { tag: 'A', name: 'LIST', selection: [], reference: '', patterns: ['%'], returns: { ...noReturns, subscribed: true, myRights: true }, extended: true }],
  ['A LSUB "" *', { tag: 'A', name: 'LSUB', reference: '', pattern: '*' }],
  ['A STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ APPENDLIMIT MAILBOXID)', { tag: 'A', name: 'STATUS', mailbox: 'INBOX', items: ['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'DELETED', 'SIZE', 'RECENT', 'HIGHESTMODSEQ', 'APPENDLIMIT', 'MAILBOXID'] }],
  ['A APPEND Drafts {2}\r\nhi', { tag: 'A', name: 'APPEND', mailbox: 'Drafts', messages: [{ flags: [], content: { kind: 'literal', data: Buffer.from('hi'), binary: false, utf8: false } }] }],
  [
    'A APPEND INBOX (\\Seen $Forwarded) " 7-Feb-1994 21:52:25 -0800" {2+}\r\nhi () ~{1}\r\n\0',
    {
      tag: 'A', name: 'APPEND', mailbox: 'INBOX',
      messages: [
        { flags: ['\\Seen', '$Forwarded'], internalDate: { time: Date.UTC(1994, 1, 8, 5, 52, 25), offsetMinutes: -480 }, content: { kind: 'literal', data: Buffer.from('hi'), binary: false, utf8: false } },
        { flags: [], content: { kind: 'literal', data: Buffer.from([0]), binary: true, utf8: false } },
      ],
    },
  ],
  [
    'A APPEND Drafts CATENATE (URL "/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER" TEXT {3}\r\n\r\nx URL "/x") UTF8 (~{2}\r\nok)',
    {
      tag: 'A', name: 'APPEND', mailbox: 'Drafts',
      messages: [
        { flags: [], content: { kind: 'catenate', parts: [{ kind: 'url', url: '/Drafts;UIDVALIDITY=385759045/;UID=20/;section=HEADER' }, { kind: 'text', data: Buffer.from('\r\nx'), binary: false }, { kind: 'url', url: '/x' }] } },
        { flags: [], content: { kind: 'literal', data: Buffer.from('ok'), binary: true, utf8: true } },
      ],
    },
  ],
  ['A EXPUNGE', { tag: 'A', name: 'EXPUNGE', uid: false }],
  ['A UID EXPUNGE 3:5,9', { tag: 'A', name: 'EXPUNGE', uid: true, set: { ranges: [{ start: 3, end: 5 }, { start: 9, end: 9 }] } }],
  ['A SEARCH UNSEEN', { tag: 'A', name: 'SEARCH', uid: false, program: { charsetKnown: true, key: { key: 'UNSEEN' } } }],
  [
    'A UID SEARCH RETURN () CHARSET utf-8 2:4 UID $ HEADER X-Foo "" KEYWORD $Junk LARGER 10 NOT SMALLER 5',
    {
      tag: 'A', name: 'SEARCH', uid: true,
      program: {
        charset: 'UTF-8', charsetKnown: true, returnOptions: [],
        key: { key: 'AND', operands: [{ key: 'SEQUENCE', set: { ranges: [{ start: 2, end: 4 }] } }, { key: 'UID', set: { saved: true } }, { key: 'HEADER', field: 'X-Foo', value: '' }, { key: 'KEYWORD', flag: '$Junk' }, { key: 'LARGER', size: 10 }, { key: 'NOT', operand: { key: 'SMALLER', size: 5 } }] },
      },
    },
  ],
  [
    'A SEARCH RETURN (MIN MAX COUNT SAVE PARTIAL -1:-100) OR (FROM joe SEEN) TO {3}\r\nbob',
    {
      tag: 'A', name: 'SEARCH', uid: false,
      program: { charsetKnown: true, returnOptions: ['MIN', 'MAX', 'COUNT', 'SAVE', { partial: { start: -1, end: -100 } }], key: { key: 'OR', left: { key: 'AND', operands: [{ key: 'FROM', value: 'joe' }, { key: 'SEEN' }] }, right: { key: 'TO', value: 'bob' } } },
    },
  ],
  [
    'A SEARCH BEFORE 1-Feb-2024 ON "29-feb-2024" SINCE 01-Jan-2000 SENTBEFORE 1-Mar-2000 SENTON 2-Mar-2000 SENTSINCE 3-Mar-2000 SAVEDBEFORE 4-Mar-2000 SAVEDON 5-Mar-2000 SAVEDSINCE 6-Mar-2000',
    {
      tag: 'A', name: 'SEARCH', uid: false,
      program: {
        charsetKnown: true,
        key: {
          key: 'AND',
          operands: [
            { key: 'BEFORE', date: { year: 2024, month: 2, day: 1 } }, { key: 'ON', date: { year: 2024, month: 2, day: 29 } }, { key: 'SINCE', date: { year: 2000, month: 1, day: 1 } },
            { key: 'SENTBEFORE', date: { year: 2000, month: 3, day: 1 } }, { key: 'SENTON', date: { year: 2000, month: 3, day: 2 } }, { key: 'SENTSINCE', date: { year: 2000, month: 3, day: 3 } },
            { key: 'SAVEDBEFORE', date: { year: 2000, month: 3, day: 4 } }, { key: 'SAVEDON', date: { year: 2000, month: 3, day: 5 } }, { key: 'SAVEDSINCE', date: { year: 2000, month: 3, day: 6 } },
          ],
        },
      },
    },
  ],
  [
    'A SEARCH ALL ANSWERED DELETED DRAFT FLAGGED NEW OLD RECENT SEEN UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNSEEN SAVEDATESUPPORTED',
    { tag: 'A', name: 'SEARCH', uid: false, program: { charsetKnown: true, key: { key: 'AND', operands: ['ALL', 'ANSWERED', 'DELETED', 'DRAFT', 'FLAGGED', 'NEW', 'OLD', 'RECENT', 'SEEN', 'UNANSWERED', 'UNDELETED', 'UNDRAFT', 'UNFLAGGED', 'UNSEEN', 'SAVEDATESUPPORTED'].map((k) => ({ key: k }) as never) } } },
  ],
  [
    'A SEARCH BCC a BODY b CC c FROM d SUBJECT e TEXT f TO g UNKEYWORD $x',
    { tag: 'A', name: 'SEARCH', uid: false, program: { charsetKnown: true, key: { key: 'AND', operands: [...['BCC', 'BODY', 'CC', 'FROM', 'SUBJECT', 'TEXT', 'TO'].map((k, i) => ({ key: k, value: 'abcdefg'[i] }) as never), { key: 'UNKEYWORD', flag: '$x' }] } } },
  ],
  [
    'A SEARCH MODSEQ "/flags/\\\\draft" all 620162338 MODSEQ 0 YOUNGER 3600 OLDER 60 EMAILID M6d99ac3275bb4e THREADID T64b478a75b7ea9',
    {
      tag: 'A', name: 'SEARCH', uid: false,
      program: {
        charsetKnown: true,
        key: { key: 'AND', operands: [{ key: 'MODSEQ', modseq: 620162338, entry: { name: '/flags/\\draft', type: 'all' } }, { key: 'MODSEQ', modseq: 0 }, { key: 'YOUNGER', seconds: 3600 }, { key: 'OLDER', seconds: 60 }, { key: 'EMAILID', id: 'M6d99ac3275bb4e' }, { key: 'THREADID', id: 'T64b478a75b7ea9' }] },
      },
    },
  ],
  ['A SEARCH CHARSET X-NOPE SUBJECT x', { tag: 'A', name: 'SEARCH', uid: false, program: { charset: 'X-NOPE', charsetKnown: false, key: { key: 'SUBJECT', value: 'x' } } }],
  ['A FETCH 1 FLAGS', { tag: 'A', name: 'FETCH', uid: false, set: one, attributes: [{ kind: 'FLAGS' }], vanished: false }],
  ['A FETCH 1:* ALL', { tag: 'A', name: 'FETCH', uid: false, set: all, attributes: [{ kind: 'FLAGS' }, { kind: 'INTERNALDATE' }, { kind: 'RFC822.SIZE' }, { kind: 'ENVELOPE' }], vanished: false }],
  ['A FETCH 1:* fast', { tag: 'A', name: 'FETCH', uid: false, set: all, attributes: [{ kind: 'FLAGS' }, { kind: 'INTERNALDATE' }, { kind: 'RFC822.SIZE' }], vanished: false }],
  ['A FETCH 1:* FULL', { tag: 'A', name: 'FETCH', uid: false, set: all, attributes: [{ kind: 'FLAGS' }, { kind: 'INTERNALDATE' }, { kind: 'RFC822.SIZE' }, { kind: 'ENVELOPE' }, { kind: 'BODY' }], vanished: false }],
  [
    'A FETCH *:4,2 (ENVELOPE FLAGS INTERNALDATE RFC822.SIZE RFC822 RFC822.HEADER RFC822.TEXT BODY BODYSTRUCTURE UID MODSEQ SAVEDATE EMAILID THREADID PREVIEW)',
    { tag: 'A', name: 'FETCH', uid: false, set: { ranges: [{ start: '*', end: 4 }, { start: 2, end: 2 }] }, attributes: [...['ENVELOPE', 'FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'RFC822', 'RFC822.HEADER', 'RFC822.TEXT', 'BODY', 'BODYSTRUCTURE', 'UID', 'MODSEQ', 'SAVEDATE', 'EMAILID', 'THREADID'].map((kind) => ({ kind }) as never), { kind: 'PREVIEW', lazy: false }], vanished: false },
  ],
  [
    'A FETCH 1 (BODY[] BODY.PEEK[1.2.MIME] body[3.HEADER.FIELDS.NOT (Received "X Y")]<10.20> BODY[TEXT] BODY[4.TEXT] BODY[HEADER] BODY[2])',
    {
      tag: 'A', name: 'FETCH', uid: false, set: one, vanished: false,
      attributes: [
        { kind: 'BODY[]', section: { part: [] }, peek: false },
        { kind: 'BODY[]', section: { part: [1, 2], text: 'MIME' }, peek: true },
        { kind: 'BODY[]', section: { part: [3], text: 'HEADER.FIELDS.NOT', fields: ['Received', 'X Y'] }, partial: { offset: 10, length: 20 }, peek: false },
        { kind: 'BODY[]', section: { part: [], text: 'TEXT' }, peek: false },
        { kind: 'BODY[]', section: { part: [4], text: 'TEXT' }, peek: false },
        { kind: 'BODY[]', section: { part: [], text: 'HEADER' }, peek: false },
        { kind: 'BODY[]', section: { part: [2] }, peek: false },
      ],
    },
  ],
  [
    'A UID FETCH 1:* (BINARY[] BINARY.PEEK[1.1]<0.1024> BINARY.SIZE[2] PREVIEW (LAZY)) (CHANGEDSINCE 12345 VANISHED)',
    {
      tag: 'A', name: 'FETCH', uid: true, set: all, changedSince: 12345, vanished: true,
      attributes: [{ kind: 'BINARY', part: [], peek: false }, { kind: 'BINARY', part: [1, 1], partial: { offset: 0, length: 1024 }, peek: true }, { kind: 'BINARY.SIZE', part: [2] }, { kind: 'PREVIEW', lazy: true }],
    },
  ],
  ['A FETCH 1 PREVIEW (CHANGEDSINCE 7)', { tag: 'A', name: 'FETCH', uid: false, set: one, attributes: [{ kind: 'PREVIEW', lazy: false }], changedSince: 7, vanished: false }],
  // RFC 8970 §6: preview-mod *(SP preview-mod)
  ['A FETCH 1 PREVIEW (lazy LAZY)', { tag: 'A', name: 'FETCH', uid: false, set: one, attributes: [{ kind: 'PREVIEW', lazy: true }], vanished: false }],
  // RFC 9394 §3.3 example, and with CHANGEDSINCE in either order (§3.4).
  ['10 UID FETCH 25900:26600 (UID FLAGS) (PARTIAL -1:-3)', { tag: '10', name: 'FETCH', uid: true, set: { ranges: [{ start: 25900, end: 26600 }] }, attributes: [{ kind: 'UID' }, { kind: 'FLAGS' }], vanished: false, partial: { start: -1, end: -3 } }],
  ['A UID FETCH 1:* FLAGS (CHANGEDSINCE 5 PARTIAL 500:400)', { tag: 'A', name: 'FETCH', uid: true, set: all, attributes: [{ kind: 'FLAGS' }], changedSince: 5, vanished: false, partial: { start: 500, end: 400 } }],
  ['A STORE 1 FLAGS ()', { tag: 'A', name: 'STORE', uid: false, set: one, operation: 'replace', silent: false, flags: [] }],
  ['A UID STORE 1:* -FLAGS.SILENT \\DELETED \\answered $Label1', { tag: 'A', name: 'STORE', uid: true, set: all, operation: 'remove', silent: true, flags: ['\\Deleted', '\\Answered', '$Label1'] }],
  ['A STORE $ (UNCHANGEDSINCE 0) +FLAGS (\\Flagged)', { tag: 'A', name: 'STORE', uid: false, set: { saved: true }, unchangedSince: 0, operation: 'add', silent: false, flags: ['\\Flagged'] }],
  ['A COPY 1:3 Archive', { tag: 'A', name: 'COPY', uid: false, set: { ranges: [{ start: 1, end: 3 }] }, mailbox: 'Archive' }],
  ['A UID MOVE 7 "Deleted Items"', { tag: 'A', name: 'MOVE', uid: true, set: { ranges: [{ start: 7, end: 7 }] }, mailbox: 'Deleted Items' }],
  ['A ID NIL', { tag: 'A', name: 'ID', params: null }],
  ['A ID ("name" "sodr" "version" NIL)', { tag: 'A', name: 'ID', params: [['name', 'sodr'], ['version', null]] }],
  ['A ID ()', { tag: 'A', name: 'ID', params: [] }],
  [
    'A UID SORT (REVERSE DATE SUBJECT DISPLAYFROM) UTF-8 ALL',
    { tag: 'A', name: 'SORT', uid: true, criteria: [{ key: 'DATE', reverse: true }, { key: 'SUBJECT', reverse: false }, { key: 'DISPLAYFROM', reverse: false }], program: { charset: 'UTF-8', charsetKnown: true, key: { key: 'ALL' } } },
  ],
  // RFC 5267 §3.3 example (ESORT) and PARTIAL (RFC 9394) on SORT.
  ['E01 UID SORT RETURN () (REVERSE DATE) UTF-8 UNDELETED UNKEYWORD $Junk', { tag: 'E01', name: 'SORT', uid: true, criteria: [{ key: 'DATE', reverse: true }], program: { charset: 'UTF-8', charsetKnown: true, returnOptions: [], key: { key: 'AND', operands: [{ key: 'UNDELETED' }, { key: 'UNKEYWORD', flag: '$Junk' }] } } }],
  ['A SORT RETURN (SAVE PARTIAL 1:10 MIN) (SIZE) UTF-8 ALL', { tag: 'A', name: 'SORT', uid: false, criteria: [{ key: 'SIZE', reverse: false }], program: { charset: 'UTF-8', charsetKnown: true, returnOptions: ['SAVE', { partial: { start: 1, end: 10 } }, 'MIN'], key: { key: 'ALL' } } }],
  ['A SORT RETURN (COUNT) (ARRIVAL) US-ASCII SEEN', { tag: 'A', name: 'SORT', uid: false, criteria: [{ key: 'ARRIVAL', reverse: false }], program: { charset: 'US-ASCII', charsetKnown: true, returnOptions: ['COUNT'], key: { key: 'SEEN' } } }],
  ['A THREAD references UTF-8 SINCE 5-MAR-2000', { tag: 'A', name: 'THREAD', uid: false, algorithm: 'REFERENCES', program: { charset: 'UTF-8', charsetKnown: true, key: { key: 'SINCE', date: { year: 2000, month: 3, day: 5 } } } }],
  ['A NOTIFY NONE', { tag: 'A', name: 'NOTIFY', action: { kind: 'none' } }],
  [
    'A NOTIFY SET (selected-delayed (MessageNew (UID BODY.PEEK[HEADER]) FlagChange XUnknown)) (inboxes NONE) (subtree (Lists "Other") (MailboxName)) (personal (SubscriptionChange MailboxMetadataChange ServerMetadataChange AnnotationChange))',
    {
      tag: 'A', name: 'NOTIFY',
      action: {
        kind: 'set', status: false,
        groups: [
          { filter: { kind: 'SELECTED-DELAYED' }, events: [{ event: 'MessageNew', fetch: [{ kind: 'UID' }, { kind: 'BODY[]', section: { part: [], text: 'HEADER' }, peek: true }] }, { event: 'FlagChange' }, { event: 'unknown', name: 'XUnknown' }] },
          { filter: { kind: 'INBOXES' }, events: [] },
          { filter: { kind: 'SUBTREE', mailboxes: ['Lists', 'Other'] }, events: [{ event: 'MailboxName' }] },
          { filter: { kind: 'PERSONAL' }, events: [{ event: 'SubscriptionChange' }, { event: 'MailboxMetadataChange' }, { event: 'ServerMetadataChange' }, { event: 'AnnotationChange' }] },
        ],
      },
    },
  ],
  ['A GETQUOTA ""', { tag: 'A', name: 'GETQUOTA', root: '' }],
  ['A GETQUOTAROOT INBOX', { tag: 'A', name: 'GETQUOTAROOT', mailbox: 'INBOX' }],
  ['A SETQUOTA "" (storage 512 MESSAGE 100)', { tag: 'A', name: 'SETQUOTA', root: '', limits: [{ resource: 'STORAGE', limit: 512 }, { resource: 'MESSAGE', limit: 100 }] }],
  ['A GETMETADATA "" /shared/comment', { tag: 'A', name: 'GETMETADATA', options: {}, mailbox: '', entries: ['/shared/comment'] }],
  ['A GETMETADATA (MAXSIZE 1024 DEPTH infinity) INBOX (/private/a /shared/b)', { tag: 'A', name: 'GETMETADATA', options: { maxSize: 1024, depth: 'infinity' }, mailbox: 'INBOX', entries: ['/private/a', '/shared/b'] }],
  ['A SETMETADATA INBOX (/private/comment "hi" /shared/x NIL /shared/y ~{2}\r\n\0\x01)', { tag: 'A', name: 'SETMETADATA', mailbox: 'INBOX', entries: [{ entry: '/private/comment', value: Buffer.from('hi') }, { entry: '/shared/x', value: null }, { entry: '/shared/y', value: Buffer.from([0, 1]) }] }],
  ['A COMPRESS deflate', { tag: 'A', name: 'COMPRESS', mechanism: 'DEFLATE' }],
  ['A GENURLAUTH "imap://joe@example.com/INBOX/;uid=20;urlauth=submit+fred" INTERNAL', { tag: 'A', name: 'GENURLAUTH', items: [{ url: 'imap://joe@example.com/INBOX/;uid=20;urlauth=submit+fred', mechanism: 'INTERNAL' }] }],
  ['A RESETKEY', { tag: 'A', name: 'RESETKEY', mechanisms: [] }],
  ['A RESETKEY INBOX INTERNAL', { tag: 'A', name: 'RESETKEY', mailbox: 'INBOX', mechanisms: ['INTERNAL'] }],
  ['A URLFETCH "imap://a/b" "imap://c/d"', { tag: 'A', name: 'URLFETCH', urls: ['imap://a/b', 'imap://c/d'] }],
];

describe('IMAP command parser: wire table', () => {
  for (const [line, expected] of table) {
    test(`parses ${JSON.stringify(line.length > 70 ? line.slice(0, 70) + '…' : line)}`, () => {
      assert.deepEqual(command(line + '\r\n'), expected);
    });
  }

  test('mailbox names are UTF-8 after ENABLE UTF8=ACCEPT and modified UTF-7 before', () => {
    assert.deepEqual(command('A SELECT "&ZeVnLIqe-"\r\n'), { tag: 'A', name: 'SELECT', mailbox: '\u65e5\u672c\u8a9e', condstore: false });
    assert.deepEqual(command('A SELECT "&ZeVnLIqe-"\r\n', true), { tag: 'A', name: 'SELECT', mailbox: '&ZeVnLIqe-', condstore: false });
    assert.deepEqual(command('A SELECT "Caf\u00e9"\r\n', true), { tag: 'A', name: 'SELECT', mailbox: 'Caf\u00e9', condstore: false });
    assert.deepEqual(command('A SELECT "Caf\u00e9"\r\n', false), { tag: 'A', name: 'SELECT', mailbox: 'Caf\u00e9', condstore: false });
  });

  test('search strings are decoded from the CHARSET given', () => {
    const [result] = parseAll(Buffer.from('A SEARCH CHARSET ISO-8859-1 SUBJECT {1}\r\n\xe9\r\n', 'latin1')).filter((r) => r.kind === 'command');
    assert.deepEqual(result?.kind === 'command' && result.command, { tag: 'A', name: 'SEARCH', uid: false, program: { charset: 'ISO-8859-1', charsetKnown: true, key: { key: 'SUBJECT', value: '\u00e9' } } });
  });

  test('strings that are not UTF-8 are refused', () => {
    const [result] = parseAll(Buffer.from('A1 LOGIN "\xff" x\r\n', 'latin1'));
    assert.equal(result?.kind, 'bad');
    assert.match(result?.kind === 'bad' ? result.message : '', /UTF-8/);
  });

  test('bare LF line endings are accepted', () => {
    assert.deepEqual(command('A LOGIN {1}\nx y\n'), { tag: 'A', name: 'LOGIN', username: 'x', password: 'y' });
  });
});

const bad: Array<[string, string | null, RegExp]> = [
  ['A1 FOO', 'A1', /unknown command FOO/],
  ['* NOOP', null, /tag/],
  ['+ NOOP', null, /tag/],
  ['A1', 'A1', /space/],
  ['A1 NOOP extra', 'A1', /end of command/],
  ['A1 UID NOOP', 'A1', /UID NOOP/],
  ['A1 LOGIN joe', 'A1', /space/],
  ['A1 LOGIN "joe', 'A1', /unterminated/],
  ['A1 LOGIN "jo\\e" x', 'A1', /escape/],
  ['A1 AUTHENTICATE PLAIN AGpv!', 'A1', /base64|end of command/],
  ['A1 SELECT &Jjo', 'A1', /mailbox name/],
  ['A1 SELECT "&AGE-"', 'A1', /canonical/],
  ['A1 SELECT INBOX (FOO)', 'A1', /SELECT parameter/],
  ['A1 FETCH 0 FLAGS', 'A1', /non-zero/],
  ['A1 FETCH 01 FLAGS', 'A1', /non-zero/],
  ['A1 FETCH 4294967296 FLAGS', 'A1', /too large/],
  ['A1 FETCH 1 FOO', 'A1', /unknown fetch item/],
  ['A1 FETCH 1 BODY[HEADER.FIELDS ()]', 'A1', /empty list/],
  ['A1 FETCH 1 BODY[MIME]', 'A1', /invalid section/],
  ['A1 FETCH 1 BODY[1]<0.0>', 'A1', /partial length/],
  ['A1 FETCH 1 BODY.PEEK', 'A1', /"\["/],
  ['A1 FETCH 1 (FLAGS', 'A1', /"\)"/],
  ['A1 UID FETCH 1 FLAGS (VANISHED)', 'A1', /VANISHED/],
  ['A1 FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED)', 'A1', /VANISHED/],
  ['A1 FETCH 1 FLAGS (CHANGEDSINCE 99999999999999999)', 'A1', /too large/],
  ['A1 STORE 1 +FLAGS (\\Recent)', 'A1', /Recent/],
  ['A1 STORE 1 FLAGGED (\\Seen)', 'A1', /FLAGS/],
  ['A1 SEARCH', 'A1', /space/],
  ['A1 SEARCH FOO', 'A1', /unknown search key/],
  ['A1 SEARCH BEFORE 30-Feb-2024', 'A1', /invalid date/],
  ['A1 SEARCH BEFORE 1-Foo-2024', 'A1', /month/],
  ['A1 SEARCH OR SEEN', 'A1', /space/],
  ['A1 SEARCH RETURN (PARTIAL 1:-5) ALL', 'A1', /same sign/],
  // RFC 9394 §3.1: one PARTIAL or one ALL, not both, not twice; §4: no 0, no "*", 32-bit.
  ['A1 SEARCH RETURN (PARTIAL 1:5 ALL) ALL', 'A1', /ALL and PARTIAL/],
  ['A1 UID SEARCH RETURN (ALL PARTIAL -1:-5) ALL', 'A1', /ALL and PARTIAL/],
  ['A1 SEARCH RETURN (PARTIAL 1:5 PARTIAL 6:9) ALL', 'A1', /ALL and PARTIAL/],
  ['A1 SORT RETURN (ALL PARTIAL 1:2) (DATE) UTF-8 ALL', 'A1', /ALL and PARTIAL/],
  ['A1 SEARCH RETURN (PARTIAL 0:5) ALL', 'A1', /non-zero/],
  ['A1 SEARCH RETURN (PARTIAL 1:*) ALL', 'A1', /PARTIAL bound/],
  ['A1 SEARCH RETURN (PARTIAL 1:4294967296) ALL', 'A1', /too large/],
  ['A1 UID FETCH 1:* FLAGS (PARTIAL 1:2 PARTIAL 3:4)', 'A1', /twice/],
  ['A1 UID FETCH 1:* FLAGS (PARTIAL -1:2)', 'A1', /same sign/],
  ['A1 UID FETCH 1:* FLAGS (PARTIAL)', 'A1', /space/],
  ['A1 FETCH 1 PREVIEW (LAZY FUZZY)', 'A1', /PREVIEW modifier/],
  ['A1 SEARCH MODSEQ "/flags/x" bogus 5', 'A1', /entry type/],
  ['A1 LIST (RECURSIVEMATCH) "" *', 'A1', /RECURSIVEMATCH/],
  ['A1 LIST (BOGUS) "" *', 'A1', /selection option/],
  ['A1 LIST "" * RETURN (BOGUS)', 'A1', /return option/],
  ['A1 STATUS INBOX (FOO)', 'A1', /status item/],
  ['A1 STATUS INBOX ()', 'A1', /empty list/],
  ['A1 APPEND INBOX', 'A1', /space/],
  ['A1 APPEND INBOX "31-Feb-2024 00:00:00 +0000" {1+}\r\nx', 'A1', /invalid date-time/],
  ['A1 APPEND INBOX (\\Seen) "hello"', 'A1', /date-time|day/],
  ['A1 NOTIFY SET (bogus (MessageNew))', 'A1', /mailbox filter/],
  ['A1 GETMETADATA (DEPTH 2) "" /a', 'A1', /DEPTH/],
  ['A1 ENABLE', 'A1', /space/],
];

describe('IMAP command parser: malformed commands', () => {
  for (const [line, tag, message] of bad) {
    test(`refuses ${JSON.stringify(line)} with a tagged BAD`, () => {
      const results = parseAll(line + '\r\nZ9 NOOP\r\n').filter((r) => r.kind !== 'need-more' && r.kind !== 'need-literal');
      const [first, second] = results;
      assert.equal(first?.kind, 'bad', JSON.stringify(results));
      if (first?.kind !== 'bad') return;
      assert.equal(first.tag, tag);
      assert.equal(first.status, 'BAD');
      assert.match(first.message, message);
      // The parser resynchronises: the next command is read normally.
      assert.deepEqual(second?.kind === 'command' && second.command, { tag: 'Z9', name: 'NOOP' });
    });
  }

  test('search keys nested beyond maxDepth are refused, not recursed into', () => {
    const [deepNot] = parseAll(`A1 SEARCH ${'NOT '.repeat(5000)}SEEN\r\n`);
    assert.equal(deepNot?.kind === 'bad' && deepNot.tag, 'A1');
    assert.match(deepNot?.kind === 'bad' ? deepNot.message : '', /nested too deeply/);
    const [deepParens] = parseAll(`A1 SEARCH ${'('.repeat(5000)}SEEN${')'.repeat(5000)}\r\n`);
    assert.match(deepParens?.kind === 'bad' ? deepParens.message : '', /nested too deeply/);
  });
});
