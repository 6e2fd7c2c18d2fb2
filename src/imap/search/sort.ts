// SORT (RFC 5256 §3, RFC 5957 DISPLAYFROM/DISPLAYTO) and the THREAD response lists (RFC 5256 §4).
// Pure: the handler searches first, then orders the matches here and writes
// `* SORT n…` (or ESORT via esearchResult with sorted: true) / `* THREAD (…)…`.
//
// Invariants: every comparison falls back to the sequence number, so the order is total and stable
// (RFC 5256 §3: "if all sort criteria … are equal, the order of the messages is by sequence number").
import type { EnvelopeAddress } from '../../mail/types.js';
import { decodeWords } from '../../mail/decode.js';
import type { ImapValue, SortCriterion } from '../wire/types.js';
import { asciiCasemap, baseSubject, unicodeCasemap } from './base-subject.js';
import { finish, run, type Wire } from '../fetch/wire-text.js';
import { sentDate, threadMessages, type SortMessage, type ThreadAlgorithm, type ThreadNode } from './thread.js';

export { threadMessages, type SortMessage, type ThreadAlgorithm, type ThreadNode };

/** The first real address of a list (group markers skipped). */
function firstAddress(list: EnvelopeAddress[] | null): EnvelopeAddress | null {
  return list?.find((a) => a.host !== null && a.mailbox !== null) ?? null;
}

/** RFC 5256 §3 CC/FROM/TO: the addr-mailbox (local part) of the first address, "" when none. */
function addrMailbox(list: EnvelopeAddress[] | null): string {
  return asciiCasemap(firstAddress(list)?.mailbox ?? '');
}

/**
 * RFC 5957 §3: the decoded display-name of the first address when present and non-empty,
 * otherwise its addr-spec (mailbox@host); "" when there is no address.
 */
function displayName(list: EnvelopeAddress[] | null): string {
  const a = firstAddress(list);
  if (!a) return '';
  const name = a.name === null ? '' : decodeWords(a.name).trim();
  return unicodeCasemap(name !== '' ? name : `${a.mailbox}@${a.host}`);
}

type Key = string | number;

function keyOf(m: SortMessage, criterion: SortCriterion['key']): Key {
  switch (criterion) {
    case 'ARRIVAL':
      return m.internalDate;
    case 'DATE':
      return sentDate(m);
    case 'SIZE':
      return m.size;
    case 'SUBJECT':
      return asciiCasemap(baseSubject(m.index.search.subject).text);
    case 'FROM':
      return addrMailbox(m.index.envelope.from);
    case 'TO':
      return addrMailbox(m.index.envelope.to);
    case 'CC':
      return addrMailbox(m.index.envelope.cc);
    case 'DISPLAYFROM':
      return displayName(m.index.envelope.from);
    case 'DISPLAYTO':
      return displayName(m.index.envelope.to);
  }
}

function compareKeys(a: Key, b: Key): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** RFC 5256 §3 SORT: the messages ordered by the criteria (each possibly REVERSE), then by seq. */
export function sortMessages(messages: readonly SortMessage[], criteria: readonly SortCriterion[]): SortMessage[] {
  // Precompute the keys once per message (base subject extraction is not free).
  const rows = messages.map((m) => ({ m, keys: criteria.map((c) => keyOf(m, c.key)) }));
  rows.sort((x, y) => {
    for (let i = 0; i < criteria.length; i++) {
      const c = compareKeys(x.keys[i]!, y.keys[i]!);
      if (c !== 0) return criteria[i]!.reverse ? -c : c;
    }
    return x.m.seq - y.m.seq;
  });
  return rows.map((r) => r.m);
}

/** Nesting deeper than this is flattened into the parent's list (bounds recursion on the output). */
const MAX_THREAD_DEPTH = 200;

/**
 * One thread as its response list (RFC 5256 §4 thread-list): a chain of single children is a run of
 * numbers, several children are nested lists written side by side, a dummy parent is left out:
 * "(3 6 (4 23)(44 7 96))".
 */
function threadList(node: ThreadNode, number: (m: SortMessage) => number, depth: number): Wire {
  const out: Wire[] = [];
  let current: ThreadNode = node;
  for (;;) {
    if (current.message) out.push(number(current.message));
    if (current.children.length !== 1) break;
    current = current.children[0]!;
  }
  if (current.children.length > 0) {
    out.push(
      run(current.children.map((child) => (depth < MAX_THREAD_DEPTH ? threadList(child, number, depth + 1) : flatten(child, number)))),
    );
  }
  return out;
}

function flatten(node: ThreadNode, number: (m: SortMessage) => number): Wire {
  const out: Wire[] = [];
  const stack = [node];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (n.message) out.push(number(n.message));
    for (let i = n.children.length - 1; i >= 0; i--) stack.push(n.children[i]!);
  }
  return out;
}

/**
 * The data of the THREAD response, to follow the THREAD atom: nothing when there are no threads,
 * else one verbatim value with the thread lists side by side ("(2)(3 6 (4 23)(44 7 96))", RFC 5256
 * §4 thread-data = "THREAD" [SP 1*thread-list]). Numbered by UID or sequence number.
 */
export function renderThreads(threads: readonly ThreadNode[], options: { uid: boolean }): ImapValue[] {
  if (threads.length === 0) return [];
  const number = options.uid ? (m: SortMessage) => m.uid : (m: SortMessage) => m.seq;
  return [finish(run(threads.map((t) => threadList(t, number, 0))))];
}
