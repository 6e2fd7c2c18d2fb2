// Messages shared by the FETCH tests, written with CRLF line ends.
import type { MessageRecord } from '../../../src/store/store.js';
import { indexMessage } from '../../../src/mail/parse.js';

export const crlf = (lines: string[]): Buffer => Buffer.from(lines.join('\r\n'), 'utf8');

/** Plain single-part message. */
export const simple = crlf([
  'Date: Wed, 17 Jul 1996 02:23:25 -0700',
  'From: Terry Gray <gray@cac.washington.edu>',
  'Subject: IMAP4rev2 WG mtg summary',
  'To: imap@cac.washington.edu',
  'Message-ID: <B27397-0100000@cac.washington.edu>',
  '',
  'Hello world,',
  'second line.',
  '',
]);

/**
 * multipart/mixed:
 *   1 text/plain (QP)
 *   2 multipart/alternative: 2.1 text/plain, 2.2 text/html
 *   3 message/rfc822: 3.1 text/plain, 3.2 application/octet-stream (base64, attachment)
 *   4 image/gif base64 attachment
 */
export const nested = crlf([
  'From: Alice <alice@example.com>',
  'To: Bob <bob@example.com>',
  'Subject: Nested',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="outer"',
  '',
  'preamble',
  '--outer',
  'Content-Type: text/plain; charset=utf-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Caf=C3=A9 =3D ok',
  '--outer',
  'Content-Type: multipart/alternative; boundary=alt',
  '',
  '--alt',
  'Content-Type: text/plain',
  '',
  'alt plain',
  '--alt',
  'Content-Type: text/html',
  '',
  '<p>alt html</p>',
  '--alt--',
  '--outer',
  'Content-Type: message/rfc822',
  '',
  'From: Carol <carol@example.com>',
  'Subject: Inner',
  'Content-Type: multipart/mixed; boundary=in',
  '',
  '--in',
  'Content-Type: text/plain',
  '',
  'inner text',
  '--in',
  'Content-Type: application/octet-stream',
  'Content-Transfer-Encoding: base64',
  'Content-Disposition: attachment; filename="a.bin"',
  '',
  'AAEC/w==',
  '--in--',
  '--outer',
  'Content-Type: image/gif; name="x.gif"',
  'Content-Transfer-Encoding: base64',
  'Content-Disposition: attachment; filename="x.gif"',
  'Content-ID: <gif@x>',
  'Content-Description: a dot',
  'Content-Language: en, de',
  'Content-Location: http://example.com/x.gif',
  'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==',
  '',
  'R0lGODdh',
  '--outer--',
  'epilogue',
  '',
]);

export function record(raw: Buffer, overrides: Partial<MessageRecord> = {}): MessageRecord {
  const index = indexMessage(raw);
  return {
    uid: 7,
    modseq: 42,
    flags: ['\\Seen', 'Work'],
    mailboxId: 1,
    size: raw.length,
    internalDate: Date.UTC(1996, 6, 7, 2, 44, 25),
    saveDate: Date.UTC(2026, 0, 2, 3, 4, 5),
    blobHash: 'h',
    emailId: 'M6d99ac3275bb4e',
    threadId: 'T64b478a75b7ea9',
    index,
    ...overrides,
  };
}

/** The bytes between two markers of a fixture (start of `from`, up to the start of `to`). */
export function between(raw: Buffer, from: string, to: string): Buffer {
  const s = raw.indexOf(from);
  const e = raw.indexOf(to, s + from.length);
  if (s < 0 || e < 0) throw new Error(`markers not found: ${from} … ${to}`);
  return raw.subarray(s, e);
}
