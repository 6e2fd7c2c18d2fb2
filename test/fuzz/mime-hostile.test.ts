// Hostile shapes for the MIME indexer (src/mail/parse.ts), beyond the random inputs of
// test/mail/property.test.ts: deep nesting, huge header counts, pathological boundaries. Each
// message is indexed within a time bound, without throwing (buildIndex has no safety net), and
// the index stays bounded (MAX_PARTS, MAX_DEPTH) and consistent with the raw bytes.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { buildIndex, indexMessage, MAX_DEPTH, MAX_PARTS } from '../../src/mail/parse.js';
import type { BodyPart } from '../../src/mail/types.js';
import { runProperty } from './budget.js';

function measure(part: BodyPart, depth = 0): { parts: number; depth: number } {
  let parts = 1;
  let deepest = depth;
  for (const child of [...(part.parts ?? []), ...(part.message ? [part.message.body] : [])]) {
    const m = measure(child, depth + 1);
    parts += m.parts;
    deepest = Math.max(deepest, m.depth);
  }
  return { parts, depth: deepest };
}

function indexWithin(raw: Buffer, ms: number, name: string): void {
  const started = performance.now();
  const index = buildIndex(raw);
  const took = performance.now() - started;
  assert.ok(took < ms, `${name}: indexing ${raw.length} bytes took ${Math.round(took)} ms`);
  const m = measure(index.body);
  assert.ok(m.parts <= MAX_PARTS + 1, `${name}: ${m.parts} parts`);
  assert.ok(m.depth <= MAX_DEPTH + 1, `${name}: depth ${m.depth}`);
  const check = (p: BodyPart): void => {
    assert.ok(p.headerStart <= p.bodyStart && p.bodyStart <= p.bodyEnd && p.bodyEnd <= raw.length, `${name}: part offsets out of order`);
    p.parts?.forEach(check);
    if (p.message) check(p.message.body);
  };
  check(index.body);
  JSON.stringify(index);
}

const crlf = (lines: string[]) => Buffer.from(lines.join('\r\n'), 'latin1');

function nestedMultipart(depth: number): Buffer {
  const lines: string[] = ['Subject: deep'];
  for (let i = 0; i < depth; i++) lines.push(`Content-Type: multipart/mixed; boundary="b${i}"`, '', `--b${i}`);
  lines.push('Content-Type: text/plain', '', 'leaf');
  for (let i = depth - 1; i >= 0; i--) lines.push(`--b${i}--`);
  return crlf(lines);
}

function nestedRfc822(depth: number): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < depth; i++) lines.push(`Subject: level ${i}`, 'Content-Type: message/rfc822', '');
  lines.push('Subject: leaf', '', 'body');
  return crlf(lines);
}

describe('MIME indexer against hostile shapes', () => {
  test('10,000 nested multiparts and 10,000 nested message/rfc822 are cut at MAX_DEPTH quickly', () => {
    indexWithin(nestedMultipart(10_000), 3000, 'nested multipart');
    indexWithin(nestedRfc822(10_000), 3000, 'nested rfc822');
  });

  test('100,000 header fields, and one header field folded 100,000 times', () => {
    indexWithin(crlf([...Array.from({ length: 100_000 }, (_, i) => `X-H${i}: v`), 'Subject: many', '', 'body']), 3000, 'many headers');
    indexWithin(crlf(['Subject: start', ...Array.from({ length: 100_000 }, () => ' folded'), '', 'body']), 3000, 'folded header');
    indexWithin(crlf([`To: ${Array.from({ length: 20_000 }, (_, i) => `u${i}@example.com`).join(', ')}`, '', 'x']), 3000, 'long address list');
    indexWithin(crlf([`Subject: ${'=?UTF-8?B?w6k=?= '.repeat(20_000)}`, '', 'x']), 3000, 'many encoded words');
  });

  test('pathological boundaries: prefixes of each other, empty, 70+ characters, repeated, never closed', () => {
    const shapes: Array<[string, Buffer]> = [
      ['prefix boundaries', crlf(['Content-Type: multipart/mixed; boundary="a"', '', '--a', 'Content-Type: multipart/mixed; boundary="aa"', '', '--aa', '', 'x', '--a', '', 'y', '--aa--', '--a--'])],
      ['empty boundary', crlf(['Content-Type: multipart/mixed; boundary=""', '', '--', '', 'x', '----'])],
      ['long boundary', crlf([`Content-Type: multipart/mixed; boundary="${'b'.repeat(5000)}"`, '', `--${'b'.repeat(5000)}`, '', 'x', `--${'b'.repeat(5000)}--`])],
      ['5000 empty parts', crlf(['Content-Type: multipart/mixed; boundary=z', '', ...Array.from({ length: 5000 }, () => '--z'), '--z--'])],
      ['never closed', crlf(['Content-Type: multipart/mixed; boundary=z', '', '--z', 'Content-Type: multipart/alternative; boundary=y', '', '--y', '', 'x'])],
      ['boundary lines with trailing garbage', crlf(['Content-Type: multipart/mixed; boundary=z', '', ...Array.from({ length: 20_000 }, (_, i) => `--z${i % 2 ? ' ' : 'x'}`), '--z--'])],
      ['bare LF and CR', Buffer.from('Content-Type: multipart/mixed; boundary=z\n\n--z\r\rx\n--z\n\n--z--\r', 'latin1')],
      ['only CRs', Buffer.alloc(200_000, 0x0d)],
      ['only LFs', Buffer.alloc(200_000, 0x0a)],
      ['only dashes', Buffer.alloc(200_000, 0x2d)],
      ['parameter soup', crlf([`Content-Type: text/plain; ${Array.from({ length: 20_000 }, (_, i) => `p${i}*${i % 3}*=utf-8''%C3%A9`).join('; ')}`, '', 'x'])],
    ];
    for (const [name, raw] of shapes) indexWithin(raw, 3000, name);
  });

  test('random trees of multiparts with random boundaries index soundly and quickly', () => {
    const boundary = fc.constantFrom('a', 'aa', 'a-', '', '"q q"', 'x'.repeat(80), '==', '--');
    const tree: fc.Arbitrary<string> = fc.letrec<{ node: string }>((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        fc.constantFrom('Content-Type: text/plain\r\n\r\nleaf', 'Content-Type: message/rfc822\r\n\r\nSubject: in\r\n\r\nx', '\r\n', ''),
        fc.tuple(boundary, fc.array(tie('node'), { maxLength: 4 }), fc.boolean()).map(
          ([b, kids, close]) => `Content-Type: multipart/mixed; boundary=${b}\r\n\r\n${kids.map((k) => `--${b.replace(/"/g, '')}\r\n${k}\r\n`).join('')}${close ? `--${b.replace(/"/g, '')}--\r\n` : ''}`,
        ),
      ),
    })).node;
    runProperty(
      fc.property(tree, (text) => {
        const raw = Buffer.from(text, 'latin1');
        indexWithin(raw, 1000, 'random tree');
        assert.deepEqual(indexMessage(raw), buildIndex(raw));
      }),
      { runs: 500, maxMs: 4000 },
    );
  });
});
