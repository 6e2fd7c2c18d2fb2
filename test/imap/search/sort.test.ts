import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { indexMessage } from '../../../src/mail/parse.js';
import { baseSubject } from '../../../src/imap/search/base-subject.js';
import { encodeValue } from '../../../src/imap/wire/encoder.js';
import type { ImapValue } from '../../../src/imap/wire/types.js';
import { renderThreads, sortMessages, threadMessages, type SortMessage } from '../../../src/imap/search/sort.js';
import type { SortCriterion } from '../../../src/imap/wire/types.js';

/** The values as written on the wire, space-separated. */
const wire = (values: ImapValue[]) => values.map((v) => encodeValue(v, { utf8: false }).toString('latin1')).join(' ');

interface Spec {
  subject?: string;
  from?: string;
  to?: string;
  cc?: string;
  date?: string;
  id?: string;
  refs?: string;
  inReplyTo?: string;
  size?: number;
  arrival?: number;
}

function message(seq: number, spec: Spec): SortMessage {
  const lines: string[] = [];
  if (spec.date !== undefined) lines.push(`Date: ${spec.date}`);
  if (spec.from !== undefined) lines.push(`From: ${spec.from}`);
  if (spec.to !== undefined) lines.push(`To: ${spec.to}`);
  if (spec.cc !== undefined) lines.push(`Cc: ${spec.cc}`);
  if (spec.subject !== undefined) lines.push(`Subject: ${spec.subject}`);
  if (spec.id !== undefined) lines.push(`Message-ID: ${spec.id}`);
  if (spec.inReplyTo !== undefined) lines.push(`In-Reply-To: ${spec.inReplyTo}`);
  if (spec.refs !== undefined) lines.push(`References: ${spec.refs}`);
  lines.push('', 'body', '');
  const raw = Buffer.from(lines.join('\r\n'));
  return { seq, uid: seq * 10, size: spec.size ?? raw.length, internalDate: spec.arrival ?? Date.UTC(2026, 0, 1) + seq, index: indexMessage(raw) };
}

describe('base subject (RFC 5256 §2.1)', () => {
  const cases: Array<[string, string, boolean]> = [
    ['Hello', 'Hello', false],
    ['Re: Hello', 'Hello', true],
    ['RE:Hello', 'Hello', true],
    ['Re: Re: re: Hello', 'Hello', true],
    ['Fwd: Hello', 'Hello', true],
    ['Fw: Hello', 'Hello', true],
    ['Re[2]: Hello', 'Hello', true],
    ['Re [2]: Hello', 'Hello', true],
    ['[list] Re: Hello', 'Hello', true],
    ['[list] [tag] Hello', 'Hello', false],
    ['Hello (fwd)', 'Hello', true],
    ['Hello (Fwd) (fwd)  ', 'Hello', true],
    ['[Fwd: Re: Hello]', 'Hello', true],
    ['Re: [Fwd: [list] Hello (fwd)]', 'Hello', true],
    ['  Hello   \t  world  ', 'Hello world', false],
    ['[only a blob]', '[only a blob]', false],
    ['Re: [only a blob]', '[only a blob]', true],
    ['Re:', '', true],
    ['', '', false],
    ['Reply to this', 'Reply to this', false],
    ['Fwd : Hello', 'Hello', true],
    ['Rex: Hello', 'Rex: Hello', false],
  ];
  for (const [input, text, isReplyOrForward] of cases) {
    test(JSON.stringify(input), () => assert.deepEqual(baseSubject(input), { text, isReplyOrForward }));
  }
});

describe('SORT (RFC 5256 §3, RFC 5957)', () => {
  const msgs = [
    message(1, { subject: 'Re: banana', from: 'Zed <zed@example.com>', to: 'b@x', date: 'Tue, 3 Feb 2026 10:00:00 +0000', size: 300, arrival: 5 }),
    message(2, { subject: 'apple', from: '"Anna" <yy@example.com>', to: 'c@x', date: 'Tue, 3 Feb 2026 09:00:00 -0200', size: 100, arrival: 9 }),
    message(3, { subject: '[list] Banana', from: 'mike@example.com', cc: 'a@x', date: 'garbage', size: 200, arrival: Date.UTC(2026, 1, 3, 10, 30) }),
    message(4, { subject: 'Apple', from: '=?utf-8?q?=C3=84rger?= <aaa@example.com>', to: 'a@x', size: 100, arrival: 1 }),
  ];
  const order = (criteria: SortCriterion[]) => sortMessages(msgs, criteria).map((m) => m.seq);

  test('SUBJECT compares base subjects, ties by sequence number', () => {
    assert.deepEqual(order([{ key: 'SUBJECT', reverse: false }]), [2, 4, 1, 3]);
  });
  test('REVERSE SUBJECT reverses the key but not the sequence tie-break', () => {
    assert.deepEqual(order([{ key: 'SUBJECT', reverse: true }]), [1, 3, 2, 4]);
  });
  test('DATE uses the Date: header in UTC, else INTERNALDATE', () => {
    // 1: 10:00Z, 2: 11:00Z, 3: unparseable → arrival 10:30Z, 4: no Date → arrival 1 ms.
    assert.deepEqual(order([{ key: 'DATE', reverse: false }]), [4, 1, 3, 2]);
  });
  test('ARRIVAL', () => assert.deepEqual(order([{ key: 'ARRIVAL', reverse: false }]), [4, 1, 2, 3]));
  test('SIZE then REVERSE ARRIVAL', () => {
    assert.deepEqual(order([{ key: 'SIZE', reverse: false }, { key: 'ARRIVAL', reverse: true }]), [2, 4, 3, 1]);
  });
  test('FROM compares the mailbox (local part) of the first address', () => {
    assert.deepEqual(order([{ key: 'FROM', reverse: false }]), [4, 3, 2, 1]);
  });
  test('TO, with a missing To sorting first', () => {
    assert.deepEqual(order([{ key: 'TO', reverse: false }]), [3, 4, 1, 2]);
  });
  test('CC', () => assert.deepEqual(order([{ key: 'CC', reverse: false }]), [1, 2, 4, 3]));
  test('DISPLAYFROM uses the decoded display name, else the address', () => {
    // i;unicode-casemap decomposes "Ärger" to "A\u0308RGER": after "ANNA", before "MIKE@EXAMPLE.COM" and "ZED".
    assert.deepEqual(order([{ key: 'DISPLAYFROM', reverse: false }]), [2, 4, 3, 1]);
    assert.deepEqual(order([{ key: 'DISPLAYFROM', reverse: true }]), [1, 3, 4, 2]);
  });
});

describe('THREAD=ORDEREDSUBJECT (RFC 5256 §3)', () => {
  test('groups by base subject; the first by date is the parent of the rest; threads by date', () => {
    const msgs = [
      message(1, { subject: 'Lunch', date: '1 Feb 2026 10:00 +0000' }),
      message(2, { subject: 'Re: Lunch', date: '1 Feb 2026 11:00 +0000' }),
      message(3, { subject: 'Dinner', date: '1 Feb 2026 09:00 +0000' }),
      message(4, { subject: 'RE: lunch', date: '1 Feb 2026 12:00 +0000' }),
      message(5, { subject: 'Re: Dinner', date: '1 Feb 2026 13:00 +0000' }),
      message(6, { subject: 'Breakfast', date: '1 Feb 2026 14:00 +0000' }),
    ];
    const threads = threadMessages(msgs, 'ORDEREDSUBJECT');
    assert.equal(wire(renderThreads(threads, { uid: false })), '(3 5)(1 (2)(4))(6)');
    assert.equal(wire(renderThreads(threads, { uid: true })), '(30 50)(10 (20)(40))(60)');
  });
});

describe('THREAD=REFERENCES (RFC 5256 §3)', () => {
  const day = (h: number) => `1 Feb 2026 ${String(h).padStart(2, '0')}:00 +0000`;

  test('replies nest under their parents; siblings sort by date', () => {
    const msgs = [
      message(1, { subject: 'Plan', id: '<a@x>', date: day(1) }),
      message(2, { subject: 'Re: Plan', id: '<b@x>', refs: '<a@x>', date: day(2) }),
      message(3, { subject: 'Re: Plan', id: '<c@x>', refs: '<a@x> <b@x>', date: day(4) }),
      message(4, { subject: 'Re: Plan', id: '<d@x>', refs: '<a@x>', date: day(3) }),
      message(5, { subject: 'Other', id: '<e@x>', date: day(0) }),
    ];
    // (5)(1 (2 3)(4))
    assert.equal(wire(renderThreads(threadMessages(msgs, 'REFERENCES'), { uid: false })), '(5)(1 (2 3)(4))');
  });

  test('In-Reply-To is used when References is absent', () => {
    const msgs = [message(1, { subject: 'Q', id: '<q@x>', date: day(1) }), message(2, { subject: 'A', id: '<r@x>', inReplyTo: '<q@x>', date: day(2) })];
    assert.equal(wire(renderThreads(threadMessages(msgs, 'REFERENCES'), { uid: false })), '(1 2)');
  });

  test('a missing parent is a dummy: its children become siblings under an unnamed root', () => {
    const msgs = [
      message(1, { subject: 'Re: Gone', id: '<b@x>', refs: '<gone@x>', date: day(2) }),
      message(2, { subject: 'Re: Gone', id: '<c@x>', refs: '<gone@x>', date: day(1) }),
    ];
    // The dummy root holds two children: ((2)(1)).
    assert.equal(wire(renderThreads(threadMessages(msgs, 'REFERENCES'), { uid: false })), '((2)(1))');
  });

  test('a dummy with one child is pruned away, and deeper dummies splice their children in', () => {
    const msgs = [
      message(1, { subject: 'Top', id: '<a@x>', date: day(1) }),
      message(2, { subject: 'Re: Top', id: '<c@x>', refs: '<a@x> <missing@x>', date: day(2) }),
      message(3, { subject: 'Lonely', id: '<z@x>', refs: '<nowhere@x>', date: day(3) }),
    ];
    // 2's parent <missing@x> is a dummy under 1: pruned, 2 becomes 1's child. 3's dummy parent is pruned.
    assert.equal(wire(renderThreads(threadMessages(msgs, 'REFERENCES'), { uid: false })), '(1 2)(3)');
  });

  test('threads with the same base subject are merged: a reply goes under the original', () => {
    const msgs = [
      message(1, { subject: 'Budget', id: '<a@x>', date: day(1) }),
      message(2, { subject: 'Re: Budget', id: '<b@x>', date: day(2) }),
      message(3, { subject: 'budget', id: '<c@x>', date: day(3) }),
    ];
    // 2 is a reply with no references: child of 1. 3 is not a reply: 1 and 3 go under a new dummy.
    assert.equal(wire(renderThreads(threadMessages(msgs, 'REFERENCES'), { uid: false })), '((1 2)(3))');
  });

  test('duplicate Message-IDs and reference loops do not break threading', () => {
    const msgs = [
      message(1, { subject: 'A', id: '<dup@x>', refs: '<b@x>', date: day(1) }),
      message(2, { subject: 'B', id: '<b@x>', refs: '<dup@x>', date: day(2) }),
      message(3, { subject: 'C', id: '<dup@x>', date: day(3) }),
      message(4, { subject: 'D', date: day(4) }),
    ];
    const out = renderThreads(threadMessages(msgs, 'REFERENCES'), { uid: false });
    // 1 references b, and b references dup (1): the second link would close a loop and is skipped.
    assert.equal(wire(out), '(2 1)(3)(4)');
  });

  test('a long reference chain renders as one flat run', () => {
    const msgs = Array.from({ length: 50 }, (_, i) =>
      message(i + 1, { subject: 'Chain', id: `<m${i}@x>`, refs: i === 0 ? undefined : `<m${i - 1}@x>`, date: `1 Feb 2026 10:${String(i).padStart(2, '0')} +0000` }),
    );
    assert.equal(wire(renderThreads(threadMessages(msgs, 'REFERENCES'), { uid: false })), `(${msgs.map((m) => m.seq).join(' ')})`);
  });

  test('no messages, no thread data', () => {
    assert.deepEqual(renderThreads(threadMessages([], 'REFERENCES'), { uid: false }), []);
  });
});
