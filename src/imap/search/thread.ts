// THREAD (RFC 5256 §3): ORDEREDSUBJECT and REFERENCES. Pure: takes the messages that matched the
// search, returns the thread forest; `renderThreads` turns it into the THREAD response's lists.
// Ordering ties are broken by sequence number (RFC 5256 §2.2 "sent date").
import type { MessageIndex } from '../../mail/types.js';
import { asciiCasemap, baseSubject } from './base-subject.js';

/** What sorting and threading read of one message. */
export interface SortMessage {
  seq: number;
  uid: number;
  size: number;
  /** INTERNALDATE, ms since epoch. */
  internalDate: number;
  index: MessageIndex;
}

/** A node of the thread forest; `message` null is a dummy (RFC 5256 §3 "dummy message"). */
export interface ThreadNode {
  message: SortMessage | null;
  children: ThreadNode[];
}

export type ThreadAlgorithm = 'ORDEREDSUBJECT' | 'REFERENCES';

/** Bound on References entries looked at per message (a hostile header could list thousands). */
const MAX_REFERENCES = 256;

/** RFC 5256 §2.2: the Date: header in UTC, or INTERNALDATE when it is missing or unparseable. */
export function sentDate(m: SortMessage): number {
  return m.index.search.date ?? m.internalDate;
}

function compareByDate(a: SortMessage, b: SortMessage): number {
  return sentDate(a) - sentDate(b) || a.seq - b.seq;
}

export function threadMessages(messages: readonly SortMessage[], algorithm: ThreadAlgorithm): ThreadNode[] {
  return algorithm === 'ORDEREDSUBJECT' ? orderedSubject(messages) : references(messages);
}

/** RFC 5256 §3 ORDEREDSUBJECT: group by base subject; the first (by sent date) is the parent of the rest. */
function orderedSubject(messages: readonly SortMessage[]): ThreadNode[] {
  const keyed = messages.map((m) => ({ m, key: asciiCasemap(baseSubject(m.index.search.subject).text) }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : compareByDate(a.m, b.m)));
  const threads: ThreadNode[] = [];
  let current: ThreadNode | null = null;
  let currentKey = '';
  for (const { m, key } of keyed) {
    if (current && key === currentKey) {
      current.children.push({ message: m, children: [] });
    } else {
      current = { message: m, children: [] };
      currentKey = key;
      threads.push(current);
    }
  }
  threads.sort((a, b) => compareByDate(a.message!, b.message!));
  return threads;
}

interface Container {
  message: SortMessage | null;
  parent: Container | null;
  children: Container[];
}

/** The msg-ids (<…>) in a header value, in order. */
export function messageIds(value: string, limit = MAX_REFERENCES): string[] {
  const ids: string[] = [];
  for (const m of value.matchAll(/<([^<>\s]+)>/g)) {
    ids.push(m[1]!);
    if (ids.length >= limit) break;
  }
  return ids;
}

/** True when `a` is `b` or one of b's ancestors. */
function isAncestorOrSelf(a: Container, b: Container): boolean {
  for (let c: Container | null = b; c; c = c.parent) if (c === a) return true;
  return false;
}

function unlink(child: Container): void {
  const p = child.parent;
  if (!p) return;
  const i = p.children.indexOf(child);
  if (i >= 0) p.children.splice(i, 1);
  child.parent = null;
}

function link(parent: Container, child: Container): void {
  child.parent = parent;
  parent.children.push(child);
}

/** RFC 5256 §3 REFERENCES, steps 1–6. */
function references(messages: readonly SortMessage[]): ThreadNode[] {
  const byId = new Map<string, Container>();
  const get = (id: string): Container => {
    let c = byId.get(id);
    if (!c) byId.set(id, (c = { message: null, parent: null, children: [] }));
    return c;
  };
  const ordered = [...messages].sort((a, b) => a.seq - b.seq);
  // (1) Link messages by References (or the first In-Reply-To id when References has none).
  for (const m of ordered) {
    const own = messageIds(m.index.search.messageId, 1)[0];
    let container: Container;
    const existing = own === undefined ? undefined : byId.get(own);
    if (own !== undefined && (existing === undefined || existing.message === null)) {
      container = get(own);
    } else {
      // No Message-ID, or a duplicate of an earlier one: a unique id of its own (never looked up).
      container = { message: null, parent: null, children: [] };
      byId.set(`\u0000${m.seq}`, container);
    }
    container.message = m;
    let refs = messageIds(m.index.search.references);
    if (refs.length === 0) refs = messageIds(m.index.search.inReplyTo, 1);
    // (1A) chain the references: each is the parent of the next, unless already parented or a loop.
    for (let i = 0; i + 1 < refs.length; i++) {
      const parent = get(refs[i]!);
      const child = get(refs[i + 1]!);
      if (child.parent === null && !isAncestorOrSelf(child, parent)) link(parent, child);
    }
    // (1B) the last reference is this message's parent (replacing a parent from a truncated chain).
    unlink(container);
    const last = refs.at(-1);
    if (last !== undefined) {
      const parent = get(last);
      if (!isAncestorOrSelf(container, parent)) link(parent, container);
    }
  }
  // (2) the root set; (3) the id table is not needed any more.
  let roots = [...byId.values()].filter((c) => c.parent === null);
  // (4) prune dummies.
  roots = prune(roots, true);
  for (const r of roots) r.parent = null;
  sortSiblings(roots);
  // (5) merge threads whose thread subject is the same.
  roots = mergeBySubject(roots);
  // (6) sort every set of siblings by sent date.
  sortSiblings(roots);
  return roots.map(toNode);
}

function prune(children: Container[], atRoot: boolean): Container[] {
  const out: Container[] = [];
  for (const c of children) {
    c.children = prune(c.children, false);
    for (const ch of c.children) ch.parent = c;
    if (c.message === null) {
      if (c.children.length === 0) continue;
      if (!atRoot || c.children.length === 1) {
        for (const ch of c.children) out.push(ch);
        continue;
      }
    }
    out.push(c);
  }
  return out;
}

/** The message a container sorts and is named by: itself, or for a dummy its first child's. */
function representative(c: Container): SortMessage | null {
  for (let x: Container | undefined = c; x; x = x.children[0]) if (x.message) return x.message;
  return null;
}

function sortSiblings(list: Container[]): void {
  for (const c of list) sortSiblings(c.children);
  list.sort((a, b) => {
    const ma = representative(a);
    const mb = representative(b);
    if (!ma || !mb) return ma ? -1 : mb ? 1 : 0;
    return compareByDate(ma, mb);
  });
}

function mergeBySubject(roots: Container[]): Container[] {
  const subjectOf = (c: Container) => {
    const m = representative(c);
    const b = baseSubject(m ? m.index.search.subject : '');
    return { key: asciiCasemap(b.text), reply: c.message !== null && b.isReplyOrForward };
  };
  // (5B) one container per thread subject.
  const table = new Map<string, Container>();
  for (const c of roots) {
    const { key } = subjectOf(c);
    if (key === '') continue;
    const t = table.get(key);
    if (!t) table.set(key, c);
    else if (t.message !== null && (c.message === null || (subjectOf(t).reply && !subjectOf(c).reply))) table.set(key, c);
  }
  // (5C) merge.
  const created = new Set<Container>();
  for (const c of roots) {
    if (c.parent !== null) continue; // already merged under a new dummy
    const { key, reply } = subjectOf(c);
    if (key === '') continue;
    const t = table.get(key)!;
    if (t === c) continue;
    if (t.message === null && c.message === null) {
      for (const ch of c.children) link(t, ch);
      c.children = [];
      c.parent = t; // marks c as gone
    } else if (t.message === null || (reply && !subjectOf(t).reply)) {
      link(t, c);
    } else {
      const dummy: Container = { message: null, parent: null, children: [] };
      link(dummy, t);
      link(dummy, c);
      created.add(dummy);
      table.set(key, dummy);
    }
  }
  const out: Container[] = [];
  for (const r of roots) {
    if (r.parent === null) out.push(r);
    else if (created.has(r.parent) && r.parent.parent === null && !out.includes(r.parent)) out.push(r.parent);
  }
  // Dummies emptied by a dummy+dummy merge are dropped above (their parent is not a created dummy).
  return out.filter((c) => c.message !== null || c.children.length > 0);
}

function toNode(c: Container): ThreadNode {
  return { message: c.message, children: c.children.map(toNode) };
}
