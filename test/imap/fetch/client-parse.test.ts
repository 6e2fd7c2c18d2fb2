// A real client's parser reads what FETCH renders: imapflow parses the encoded response and builds
// its BODYSTRUCTURE tree and envelope from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parser } from 'imapflow/lib/handler/imap-handler.js';
import { parseBodystructure, parseEnvelope } from 'imapflow/lib/tools.js';
import type { ImapAttributeList } from 'imapflow/lib/handler/types.js';
import { encodeResponse } from '../../../src/imap/wire/encoder.js';
import { renderFetchItem } from '../../../src/imap/fetch/fetch.js';
import type { ImapValue } from '../../../src/imap/wire/types.js';
import { nested, record } from './fixtures.js';

interface Node {
  part?: string;
  type: string;
  size?: number;
  disposition?: string;
  childNodes?: Node[];
  envelope?: { subject?: string; from?: Array<{ address?: string }> };
}

function flatten(node: Node, out: string[] = []): string[] {
  out.push(`${node.part ?? 'root'} ${node.type}${node.size !== undefined ? ` ${node.size}` : ''}`);
  for (const child of node.childNodes ?? []) flatten(child, out);
  return out;
}

test('imapflow parses BODYSTRUCTURE and ENVELOPE as rendered and encoded', async () => {
  const rec = record(nested);
  const values: ImapValue[] = [];
  for (const kind of ['BODYSTRUCTURE', 'ENVELOPE'] as const) {
    const item = renderFetchItem({ kind }, { record: rec, seq: 1 }, { utf8: false });
    values.push(item.name, item.value);
  }
  const wire = encodeResponse({ kind: 'data', values: [1, { atom: 'FETCH' }, values] }, { utf8: false });
  const parsed = await parser(wire.subarray(0, wire.length - 2));
  assert.equal(parsed.command, '1');
  const attributes = parsed.attributes ?? [];
  assert.deepEqual(attributes[0], { type: 'ATOM', value: 'FETCH' });
  const list = attributes[1] as ImapAttributeList;
  const structure = parseBodystructure(list[1] as ImapAttributeList) as Node;
  assert.deepEqual(flatten(structure), [
    'root multipart/mixed',
    '1 text/plain 16',
    '2 multipart/alternative',
    '2.1 text/plain 9',
    '2.2 text/html 15',
    '3 message/rfc822 291',
    // imapflow labels the encapsulated multipart with its message part's number; its children
    // are 3.1 and 3.2, the numbers BODY[3.1] / BODY[3.2] serve (section.test.ts).
    '3 multipart/mixed',
    '3.1 text/plain 10',
    '3.2 application/octet-stream 8',
    '4 image/gif 8',
  ]);
  const envelope = parseEnvelope(list[3] as ImapAttributeList) as { subject: string; from: Array<{ name: string; address: string }> };
  assert.equal(envelope.subject, 'Nested');
  assert.deepEqual(envelope.from, [{ name: 'Alice', address: 'alice@example.com' }]);
  assert.equal(structure.childNodes![2]!.envelope!.subject, 'Inner');
});
