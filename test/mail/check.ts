// Shared assertions for the MIME indexer tests: structural invariants of a MessageIndex.
import assert from 'node:assert/strict';
import type { BodyPart, MessageIndex } from '../../src/mail/types.js';

/** Every offset within bounds, every child inside its parent's body, siblings in order. */
export function assertSoundIndex(index: MessageIndex, raw: Buffer): void {
  assert.equal(index.size, raw.length);
  let count = 0;
  const walk = (part: BodyPart, lo: number, hi: number, depth: number): void => {
    count++;
    assert.ok(depth <= 200, 'nesting is bounded');
    assert.ok(lo <= part.headerStart, `headerStart ${part.headerStart} >= ${lo}`);
    assert.ok(part.headerStart <= part.bodyStart, 'headerStart <= bodyStart');
    assert.ok(part.bodyStart <= part.bodyEnd, 'bodyStart <= bodyEnd');
    assert.ok(part.bodyEnd <= hi, `bodyEnd ${part.bodyEnd} <= ${hi}`);
    assert.ok(part.lines >= 0 && Number.isInteger(part.lines), 'lines is a count');
    assert.equal(part.type, part.type.toLowerCase());
    assert.equal(part.subtype, part.subtype.toLowerCase());
    if (part.parts) {
      assert.equal(part.type, 'multipart');
      assert.ok(part.parts.length > 0, 'a multipart has at least one part');
      let prev = part.bodyStart;
      const boundary = `--${part.params.find(([k]) => k === 'boundary')?.[1]}`;
      for (const child of part.parts) {
        assert.ok(child.headerStart >= prev, 'siblings do not overlap');
        // RFC 2046 §5.1.1: a part starts right after a delimiter line and ends at the line end
        // before the next delimiter (or at the end of the multipart).
        const lineStart = raw.lastIndexOf(0x0a, child.headerStart - 2) + 1;
        assert.equal(raw[child.headerStart - 1], 0x0a, 'a part starts after a line end');
        assert.equal(raw.toString('utf8', Math.max(lineStart, part.bodyStart), Math.max(lineStart, part.bodyStart) + Buffer.byteLength(boundary)), boundary, 'a part follows a delimiter line');
        if (child.bodyEnd < part.bodyEnd) {
          const after = raw.toString('utf8', child.bodyEnd, child.bodyEnd + 2 + Buffer.byteLength(boundary));
          assert.ok(after.startsWith(`\r\n${boundary}`) || after.startsWith(`\n${boundary}`) || (child.bodyEnd === child.headerStart && after.startsWith(boundary)), `a part ends before a delimiter: ${JSON.stringify(after)}`);
        }
        walk(child, part.bodyStart, part.bodyEnd, depth + 1);
        prev = child.bodyEnd;
      }
    } else {
      assert.notEqual(part.type, 'multipart', 'a multipart leaf is served as text/plain');
    }
    if (part.message) {
      assert.equal(part.message.body.headerStart, part.bodyStart);
      walk(part.message.body, part.bodyStart, part.bodyEnd, depth + 1);
    }
  };
  walk(index.body, 0, raw.length, 0);
  assert.equal(index.body.headerStart, 0);
  assert.equal(index.body.bodyEnd, raw.length);
  assert.ok(count <= 1000, `at most 1000 parts, got ${count}`);
}

/** The body bytes of a part as a string (UTF-8). */
export function bodyOf(raw: Buffer, part: BodyPart): string {
  return raw.toString('utf8', part.bodyStart, part.bodyEnd);
}

/** The header bytes of a part as a string (UTF-8), blank line included. */
export function headerOf(raw: Buffer, part: BodyPart): string {
  return raw.toString('utf8', part.headerStart, part.bodyStart);
}
