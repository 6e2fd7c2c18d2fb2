// Real-world message shapes for the MIME indexer tests, generated in code (the compiled tests run
// from dist/, so no fixture files to copy). Each entry is the exact raw bytes as stored.
import iconv from 'iconv-lite';

/** Join lines with CRLF (and end with one). */
export function crlf(...lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n') + '\r\n', 'utf8');
}

/** Join lines with LF only (and end with one). */
export function lf(...lines: string[]): Buffer {
  return Buffer.from(lines.join('\n') + '\n', 'utf8');
}

export const simple = crlf(
  'Return-Path: <alice@example.org>',
  'From: Alice Example <alice@example.org>',
  'To: bob@example.com',
  'Subject: Lunch',
  'Date: Tue, 3 Mar 2026 12:30:00 +0100',
  'Message-ID: <lunch-1@example.org>',
  '',
  'Shall we meet at noon?',
  'Alice',
);

/** mixed > (alternative > (plain, related > (html, image)), attachment) */
export const nested = crlf(
  'From: Carol <carol@example.net>',
  'To: dave@example.com',
  'Subject: Report',
  'MIME-Version: 1.0',
  'Content-Type: multipart/mixed; boundary="outer"',
  '',
  'This is a multi-part message in MIME format.',
  '--outer',
  'Content-Type: multipart/alternative; boundary=alt',
  '',
  '--alt',
  'Content-Type: text/plain; charset=UTF-8',
  'Content-Transfer-Encoding: quoted-printable',
  '',
  'Caf=C3=A9 report',
  '--alt',
  'Content-Type: multipart/related; boundary="rel"; type="text/html"',
  '',
  '--rel',
  'Content-Type: text/html; charset=utf-8',
  '',
  '<p>Café &amp; <b>report</b></p>\n<img src="cid:logo@x">',
  '--rel',
  'Content-Type: image/png',
  'Content-Transfer-Encoding: base64',
  'Content-ID: <logo@x>',
  '',
  'iVBORw0KGgo=',
  '--rel--',
  '',
  '--alt--',
  '--outer',
  'Content-Type: application/pdf; name="report.pdf"',
  'Content-Disposition: attachment; filename="report.pdf"; size=4',
  'Content-Transfer-Encoding: base64',
  'Content-Description: The report',
  'Content-Language: en, de (German)',
  'Content-Location: http://example.net/report.pdf',
  'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==',
  '',
  'JVBERg==',
  '--outer--',
  'epilogue text',
);

export const attachedMessage = crlf(
  'From: eve@example.org',
  'To: frank@example.com',
  'Subject: Fwd: hello',
  'Content-Type: multipart/mixed; boundary=fwd',
  '',
  '--fwd',
  'Content-Type: text/plain',
  '',
  'See below.',
  '--fwd',
  'Content-Type: message/rfc822',
  '',
  'From: Grace <grace@example.org>',
  'To: eve@example.org',
  'Subject: hello',
  'Date: Wed, 4 Mar 2026 08:00:00 +0000',
  'Message-ID: <inner@example.org>',
  '',
  'Inner body line 1',
  'Inner body line 2',
  '--fwd--',
);

export const missingFinalBoundary = crlf(
  'Content-Type: multipart/mixed; boundary="cut"',
  '',
  '--cut',
  'Content-Type: text/plain',
  '',
  'first',
  '--cut',
  'Content-Type: text/plain',
  '',
  'second, truncated',
);

export const missingBoundaryParam = crlf('Content-Type: multipart/mixed', '', 'Just text', 'really.');

export const boundaryNeverFound = crlf('Content-Type: multipart/alternative; boundary="zzz"', '', '--other', '', 'text');

/** Inner boundary has the outer one as a prefix, delimiters carry trailing white space. */
export const prefixBoundaries = crlf(
  'Content-Type: multipart/mixed; boundary="b"',
  '',
  '--b \t',
  'Content-Type: multipart/alternative; boundary="b2"',
  '',
  '--b2',
  '',
  'inner one',
  '--b2--',
  '--b',
  '',
  '',
  '--b--',
);

export const lfOnly = lf(
  'From: lf@example.org',
  'Subject: LF only',
  'Content-Type: multipart/mixed; boundary=x',
  '',
  '--x',
  'Content-Type: text/plain',
  '',
  'line one',
  'line two',
  '--x',
  '',
  'no header part',
  '--x--',
);

export const rawUtf8Headers = crlf('From: Jürgen Groß <juergen@example.de>', 'Subject: Grüße aus Köln', '', 'Hallo');

export const latin1Headers = Buffer.concat([
  Buffer.from('From: ', 'latin1'),
  Buffer.from('Jürgen <j@example.de>\r\nSubject: Grüße\r\n\r\nHallo\r\n', 'latin1'),
]);

const b64 = (s: string, charset: string): string => iconv.encode(s, charset).toString('base64');
const q = (s: string, charset: string): string =>
  [...iconv.encode(s, charset)].map((b) => (b >= 0x21 && b <= 0x7e && b !== 0x3d && b !== 0x3f && b !== 0x5f ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');

/** RFC 2047 subjects: [header value, expected decoded text]. */
export const encodedSubjects: Array<[string, string]> = [
  ['=?utf-8?B?' + b64('Grüße 🌍', 'utf-8') + '?=', 'Grüße 🌍'],
  ['=?ISO-8859-1?Q?' + q('Olle Järnefors', 'latin1') + '?=', 'Olle Järnefors'],
  ['=?windows-1252?Q?' + q('“quoted” – €5', 'windows-1252') + '?=', '“quoted” – €5'],
  ['=?koi8-r?B?' + b64('Привет, мир', 'koi8-r') + '?=', 'Привет, мир'],
  ['=?shift_jis?B?' + b64('日本語の件名', 'shift_jis') + '?=', '日本語の件名'],
  ['=?ISO-2022-JP?B?GyRCJDMkcyRLJEEkTxsoQg==?=', 'こんにちは'],
];

export const rfc2231 = crlf(
  'Content-Type: multipart/mixed; boundary=p',
  '',
  '--p',
  "Content-Type: application/octet-stream; name*=iso-8859-1'de'Gr%FC%DFe.txt",
  'Content-Disposition: attachment;',
  "  filename*0*=utf-8''%E6%97%A5%E6%9C%AC;",
  '  filename*1*=%E8%AA%9E;',
  '  filename*2=".txt"; filename="fallback.txt"',
  '',
  'data',
  '--p--',
);

export const emptyBody = crlf('From: a@example.org', 'Subject: nothing', '');

export const noSeparator = Buffer.from('From: a@example.org\r\nSubject: only headers', 'utf8');

export const groups = crlf(
  'From: Sales <sales@example.com>',
  'To: Friends: ann@example.org, "Bo, B." <bo@example.org>;, undisclosed-recipients:;',
  'Cc: =?utf-8?Q?J=C3=B6rg?= <joerg@example.de>, route <@relay.example,@r2.example:kim@example.kr>',
  'Reply-To: ',
  'Subject: groups',
  '',
  'body',
);

export const digest = crlf(
  'Subject: Digest',
  'Content-Type: multipart/digest; boundary="d"',
  '',
  '--d',
  '',
  'From: one@example.org',
  'Subject: first',
  '',
  'Body one',
  '--d',
  'Content-Type: text/plain',
  '',
  'Not a message',
  '--d--',
);

export const corpus: Record<string, Buffer> = {
  simple,
  nested,
  attachedMessage,
  missingFinalBoundary,
  missingBoundaryParam,
  boundaryNeverFound,
  prefixBoundaries,
  lfOnly,
  rawUtf8Headers,
  latin1Headers,
  rfc2231,
  emptyBody,
  noSeparator,
  groups,
  digest,
};
