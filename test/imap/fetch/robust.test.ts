// Property tests: any input renders without throwing, and every section stays inside the message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { indexMessage } from '../../../src/mail/parse.js';
import { renderBodyStructure } from '../../../src/imap/fetch/body-structure.js';
import { renderEnvelope } from '../../../src/imap/fetch/envelope.js';
import { previewText } from '../../../src/imap/fetch/preview.js';
import { binaryBytes, sectionBytes } from '../../../src/imap/fetch/section.js';
import type { SectionSpec } from '../../../src/imap/wire/types.js';
import { BadCommand, Refused } from '../../../src/shared/errors.js';
import { baseSubject } from '../../../src/imap/search/base-subject.js';

const line = fc.oneof(
  fc.constantFrom(
    'Content-Type: multipart/mixed; boundary=b',
    'Content-Type: message/rfc822',
    'Content-Type: text/plain',
    'Content-Type: text/html; charset=utf-8',
    'Content-Transfer-Encoding: base64',
    'Content-Transfer-Encoding: quoted-printable',
    'Content-Transfer-Encoding: x-unknown',
    'From: A <a@example.com>',
    'Subject: Re: [x] hi',
    '--b',
    '--b--',
    '',
    'AAEC/w==',
    '=C3=A9=',
  ),
  fc.string({ maxLength: 40 }),
);

const messageArb = fc.array(line, { maxLength: 40 }).map((lines) => Buffer.from(lines.join('\r\n'), 'utf8'));
const partArb = fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 4 });
const textArb = fc.constantFrom<SectionSpec['text']>(undefined, 'HEADER', 'TEXT', 'MIME', 'HEADER.FIELDS', 'HEADER.FIELDS.NOT');

test('rendering and cutting sections never throws and stays within the message', () => {
  fc.assert(
    fc.property(messageArb, partArb, textArb, (raw, part, text) => {
      const index = indexMessage(raw);
      renderEnvelope(index.envelope);
      renderBodyStructure(index.body, true);
      renderBodyStructure(index.body, false);
      previewText(raw, index);
      if (text === 'MIME' && part.length === 0) return;
      const section: SectionSpec = { part, ...(text ? { text } : {}), ...(text?.startsWith('HEADER.FIELDS') ? { fields: ['Subject'] } : {}) };
      const bytes = sectionBytes(raw, index, section);
      if (bytes && !text?.startsWith('HEADER.FIELDS')) assert.ok(raw.includes(bytes) || bytes.length === 0);
      try {
        binaryBytes(raw, index, { part });
      } catch (err) {
        assert.ok(err instanceof BadCommand || (err instanceof Refused && err.code === 'UNKNOWN-CTE'), String(err));
      }
    }),
    { numRuns: 300 },
  );
});

test('base subject extraction is idempotent', () => {
  const subject = fc.array(fc.constantFrom('Re:', 're', 'Fwd:', 'fw', '[', ']', '[list]', ' ', '\t', '(fwd)', '[Fwd:', 'x', 'y', ':'), { maxLength: 12 }).map((a) => a.join(''));
  fc.assert(
    fc.property(subject, (s) => {
      const once = baseSubject(s).text;
      assert.equal(baseSubject(once).text, once);
    }),
    { numRuns: 500 },
  );
});
