import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { indexMessage } from '../../../src/mail/parse.js';
import { envelopeWire, renderEnvelope } from '../../../src/imap/fetch/envelope.js';
import { bodyStructureWire, renderBodyStructure } from '../../../src/imap/fetch/body-structure.js';
import { structured } from '../../../src/imap/fetch/wire-text.js';
import { encodeValue } from '../../../src/imap/wire/encoder.js';
import type { ImapValue } from '../../../src/imap/wire/types.js';

const wire = (v: ImapValue, utf8 = false) => encodeValue(v, { utf8 }).toString('utf8');
import type { Envelope } from '../../../src/mail/types.js';
import { crlf, nested, simple } from './fixtures.js';

describe('ENVELOPE (RFC 9051 §7.5.2)', () => {
  test('a simple message renders date, subject, address lists and message-id; absent fields are NIL', () => {
    const gray = ['Terry Gray', null, 'gray', 'cac.washington.edu'];
    assert.deepEqual(structured(envelopeWire(indexMessage(simple).envelope)), [
      'Wed, 17 Jul 1996 02:23:25 -0700',
      'IMAP4rev2 WG mtg summary',
      [gray],
      [gray],
      [gray],
      [[null, null, 'imap', 'cac.washington.edu']],
      null,
      null,
      null,
      '<B27397-0100000@cac.washington.edu>',
    ]);
  });

  test('an empty Subject is "" while a missing Date is NIL; groups render start and end markers', () => {
    const raw = crlf(['From: a@example.com', 'Subject:', 'To: Team: x@example.com, y@example.com;', 'Cc: ', '', 'b', '']);
    const env = structured(envelopeWire(indexMessage(raw).envelope)) as unknown[];
    assert.equal(env[0], null);
    assert.equal(env[1], '');
    assert.deepEqual(env[5], [
      [null, null, 'Team', null],
      [null, null, 'x', 'example.com'],
      [null, null, 'y', 'example.com'],
      [null, null, null, null],
    ]);
    // An empty Cc: has no addresses: NIL, not "()".
    assert.equal(env[6], null);
  });

  test('absent or empty Sender and Reply-To take the From value', () => {
    const from = [{ name: null, adl: null, mailbox: 'f', host: 'example.com' }];
    const env: Envelope = {
      date: null,
      subject: null,
      from,
      sender: [],
      replyTo: null,
      to: null,
      cc: null,
      bcc: null,
      inReplyTo: null,
      messageId: null,
    };
    const out = structured(envelopeWire(env)) as unknown[];
    assert.deepEqual(out[3], [[null, null, 'f', 'example.com']]);
    assert.deepEqual(out[4], [[null, null, 'f', 'example.com']]);
  });
});

describe('BODY and BODYSTRUCTURE (RFC 9051 §7.5.2)', () => {
  test('a text/plain message: BODY has size and lines, BODYSTRUCTURE adds md5, disposition, language, location', () => {
    const body = indexMessage(simple).body;
    const basic = ['TEXT', 'PLAIN', ['CHARSET', 'us-ascii'], null, null, '7BIT', 28, 2];
    assert.deepEqual(structured(bodyStructureWire(body, false)), basic);
    assert.deepEqual(structured(bodyStructureWire(body, true)), [...basic, null, null, null, null]);
  });

  test('nested multipart with message/rfc822 renders the exact tree, with extension data only in BODYSTRUCTURE', () => {
    const body = indexMessage(nested).body;
    const carol = [['Carol', null, 'carol', 'example.com']];
    const innerEnvelope = [null, 'Inner', carol, carol, carol, null, null, null, null, null];
    assert.deepEqual(structured(bodyStructureWire(body, true)), [
      ['TEXT', 'PLAIN', ['CHARSET', 'utf-8'], null, null, 'QUOTED-PRINTABLE', 16, 1, null, null, null, null],
      [
        ['TEXT', 'PLAIN', null, null, null, '7BIT', 9, 1, null, null, null, null],
        ['TEXT', 'HTML', null, null, null, '7BIT', 15, 1, null, null, null, null],
        'ALTERNATIVE',
        ['BOUNDARY', 'alt'],
        null,
        null,
        null,
      ],
      [
        'MESSAGE',
        'RFC822',
        null,
        null,
        null,
        '7BIT',
        291,
        innerEnvelope,
        [
          ['TEXT', 'PLAIN', null, null, null, '7BIT', 10, 1, null, null, null, null],
          ['APPLICATION', 'OCTET-STREAM', null, null, null, 'BASE64', 8, null, ['ATTACHMENT', ['FILENAME', 'a.bin']], null, null],
          'MIXED',
          ['BOUNDARY', 'in'],
          null,
          null,
          null,
        ],
        15,
        null,
        null,
        null,
        null,
      ],
      [
        'IMAGE',
        'GIF',
        ['NAME', 'x.gif'],
        '<gif@x>',
        'a dot',
        'BASE64',
        8,
        'Q2hlY2sgSW50ZWdyaXR5IQ==',
        ['ATTACHMENT', ['FILENAME', 'x.gif']],
        ['en', 'de'],
        'http://example.com/x.gif',
      ],
      'MIXED',
      ['BOUNDARY', 'outer'],
      null,
      null,
      null,
    ]);
    assert.deepEqual(structured(bodyStructureWire(body, false)), [
      ['TEXT', 'PLAIN', ['CHARSET', 'utf-8'], null, null, 'QUOTED-PRINTABLE', 16, 1],
      [['TEXT', 'PLAIN', null, null, null, '7BIT', 9, 1], ['TEXT', 'HTML', null, null, null, '7BIT', 15, 1], 'ALTERNATIVE'],
      [
        'MESSAGE',
        'RFC822',
        null,
        null,
        null,
        '7BIT',
        291,
        innerEnvelope,
        [['TEXT', 'PLAIN', null, null, null, '7BIT', 10, 1], ['APPLICATION', 'OCTET-STREAM', null, null, null, 'BASE64', 8], 'MIXED'],
        15,
      ],
      ['IMAGE', 'GIF', ['NAME', 'x.gif'], '<gif@x>', 'a dot', 'BASE64', 8],
      'MIXED',
    ]);
  });
});

describe('wire text: lists side by side as the ABNF writes them (RFC 9051 §9)', () => {
  test('ENVELOPE address lists have no space between addresses', () => {
    const raw = crlf(['From: "A \\"q\\"" <a@example.com>', 'To: b@example.com, c@example.com', 'Subject: Hi', '', 'x']);
    assert.equal(wire(renderEnvelope(indexMessage(raw).envelope)),
        '(NIL "Hi" (("A \\"q\\"" NIL "a" "example.com")) (("A \\"q\\"" NIL "a" "example.com")) (("A \\"q\\"" NIL "a" "example.com")) ' +
        '((NIL NIL "b" "example.com")(NIL NIL "c" "example.com")) NIL NIL NIL NIL)');
  });

  test('BODY of a multipart writes its bodies side by side, then the subtype', () => {
    assert.equal(wire(renderBodyStructure(indexMessage(nested).body.parts![1]!, false)),
      '(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 9 1)("TEXT" "HTML" NIL NIL NIL "7BIT" 15 1) "ALTERNATIVE")');
    assert.equal(wire(renderBodyStructure(indexMessage(nested).body.parts![1]!, true)),
      '(("TEXT" "PLAIN" NIL NIL NIL "7BIT" 9 1 NIL NIL NIL NIL)("TEXT" "HTML" NIL NIL NIL "7BIT" 15 1 NIL NIL NIL NIL) "ALTERNATIVE" ("BOUNDARY" "alt") NIL NIL NIL)');
  });

  test('8-bit strings inside the structure go through the encoder: a literal, or quoted UTF-8 after UTF8=ACCEPT', () => {
    const raw = crlf(['From: Jürgen <j@example.com>', 'Subject: a', '', 'x']);
    const env = renderEnvelope(indexMessage(raw).envelope);
    assert.equal(wire(env), '(NIL "a" (({7}\r\nJürgen NIL "j" "example.com")) (({7}\r\nJürgen NIL "j" "example.com")) (({7}\r\nJürgen NIL "j" "example.com")) NIL NIL NIL NIL NIL)');
    assert.equal(wire(env, true), '(NIL "a" (("Jürgen" NIL "j" "example.com")) (("Jürgen" NIL "j" "example.com")) (("Jürgen" NIL "j" "example.com")) NIL NIL NIL NIL NIL)');
  });
});
