// The selected-mailbox view of one session: sequence number ↔ UID, the flags the client was last
// told, the modseq the view has caught up to, and the changes not yet announced.
//
// Invariants:
// - The view is built from one store snapshot (store.mailboxSnapshot): the UIDs as runs, expanded
//   into one packed array, and the mailbox's HIGHESTMODSEQ from the same read. No per-message
//   record is loaded at SELECT, so opening a large mailbox costs one small read.
// - Sequence numbers belong to the session (RFC 9051 §2.3.1.2): the view changes its numbering only
//   when `flush` is told that EXPUNGE responses may be sent, and every message it removes is
//   announced by one `* n EXPUNGE`. Until then an expunged message keeps its number (RFC 9051
//   §7.5.1, RFC 2180 §4.1).
// - The truth comes from the store's journal (`store.changesSince`), never from change-feed
//   payloads: a feed event only says "read the journal".
// - New messages are appended to the numbering in UID order and announced by `* n EXISTS` (FLAGS
//   first when they carry a keyword the client was not told of, RFC 9051 §7.3.5).
// - Flags the client was told are kept only for messages the session announced itself (FETCH,
//   STORE, the QRESYNC answer, unsolicited FETCH), with their modseq. A flag change read from the
//   journal is announced by `* n FETCH (FLAGS …)` unless the client was already told that modseq
//   or a later one, or the same flags: so a session's own STORE is not echoed twice, and a change
//   to a message the session never announced is always sent.
// - \Recent (RFC 3501 §2.3.2) is claimed only by read-write rev1 sessions, at open and when new
//   messages arrive.
import type { MailboxSnapshot, MessageState, Store } from '../../store/store.js';

export type ViewEvent =
  | { kind: 'expunge'; seq: number; uid: number }
  /** `from`: the first new sequence number; `keywords`: those the new messages carry. */
  | { kind: 'exists'; count: number; from: number; keywords: string[] }
  | { kind: 'recent'; count: number }
  | { kind: 'flags'; seq: number; uid: number; flags: string[]; modseq: number };

/** A range of sequence numbers or UIDs; `'*'` is the largest in use. */
export interface NumberRange {
  start: number | '*';
  end: number | '*';
}

export interface ViewMessage {
  seq: number;
  uid: number;
}

export class MailboxView {
  readonly mailboxId: number;
  readonly readOnly: boolean;
  readonly uidValidity: number;
  /** UTF-8 name as selected (for responses that name it). */
  name: string;
  #store: Store;
  #trackRecent: boolean;
  /** seq - 1 → uid, ascending; entries from #count on are spare capacity. */
  #uids: Uint32Array;
  #count: number;
  /** uid → flags and modseq the client was last told (only messages announced to it). */
  #told = new Map<number, MessageState>();
  #recent = new Set<number>();
  /** Keywords the client was told about in FLAGS (RFC 9051 §7.3.5). */
  #keywords: Set<string>;
  #modseq: number;
  #pendingExpunge = new Set<number>();
  #pendingNew: MessageState[] = [];
  #pendingFlags = new Map<number, MessageState>();
  #sync: Promise<void> = Promise.resolve();

  private constructor(store: Store, snapshot: MailboxSnapshot, options: { readOnly: boolean; trackRecent: boolean; recent: number[] }) {
    this.#store = store;
    this.mailboxId = snapshot.mailbox.id;
    this.name = snapshot.mailbox.name;
    this.readOnly = options.readOnly;
    this.uidValidity = snapshot.mailbox.uidValidity;
    this.#modseq = snapshot.mailbox.highestModseq;
    this.#trackRecent = options.trackRecent;
    let count = 0;
    for (const [first, last] of snapshot.uidRuns) count += last - first + 1;
    const uids = new Uint32Array(count + 16);
    let n = 0;
    for (const [first, last] of snapshot.uidRuns) for (let uid = first; uid <= last; uid++) uids[n++] = uid;
    this.#uids = uids;
    this.#count = n;
    for (const uid of options.recent) this.#recent.add(uid);
    this.#keywords = new Set(snapshot.keywords);
  }

  /** Keywords in use (announced in FLAGS), sorted. */
  get keywords(): string[] {
    return [...this.#keywords].sort();
  }

  /** Record keywords about to be sent; true when one is new (FLAGS must be sent first). */
  learnKeywords(flags: readonly string[]): boolean {
    let fresh = false;
    for (const f of flags) {
      if (f.startsWith('\\') || this.#keywords.has(f)) continue;
      this.#keywords.add(f);
      fresh = true;
    }
    return fresh;
  }

  /**
   * Open a view on a snapshot (store.mailboxSnapshot). `trackRecent`: this is a read-write rev1
   * session, which claims \Recent (RFC 3501 §2.3.2); messages claimed after the snapshot join the
   * view with the first journal read.
   */
  static async open(store: Store, snapshot: MailboxSnapshot, options: { readOnly: boolean; trackRecent: boolean }): Promise<MailboxView> {
    const recent = options.trackRecent && snapshot.recentPending ? await store.claimRecent(snapshot.mailbox.id) : [];
    return new MailboxView(store, snapshot, { ...options, recent });
  }

  get exists(): number {
    return this.#count;
  }
  get recentCount(): number {
    return this.#recent.size;
  }
  get modseq(): number {
    return this.#modseq;
  }
  /** Highest UID in the view (0 when empty). */
  get maxUid(): number {
    return this.#count ? this.#uids[this.#count - 1]! : 0;
  }
  uidAt(seq: number): number | undefined {
    return seq >= 1 && seq <= this.#count ? this.#uids[seq - 1] : undefined;
  }
  isRecent(uid: number): boolean {
    return this.#recent.has(uid);
  }
  /** Expunged by another session but not yet announced here. */
  isExpunged(uid: number): boolean {
    return this.#pendingExpunge.has(uid);
  }
  /** Sequence number of a UID, or 0 when it is not in the view. */
  seqOf(uid: number): number {
    const i = this.#lowerBound(uid);
    return i < this.#count && this.#uids[i] === uid ? i + 1 : 0;
  }
  /** The index of the first UID ≥ uid (#count when none). */
  #lowerBound(uid: number): number {
    let lo = 0;
    let hi = this.#count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#uids[mid]! < uid) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  /** UIDs of every message in the view (present or pending expunge), ascending. */
  allUids(): number[] {
    return Array.from(this.#uids.subarray(0, this.#count));
  }

  /**
   * Resolve a sequence set (RFC 9051 §9 sequence-set) to messages in ascending order, without
   * duplicates. By sequence number a number beyond the view is a client error (thrown as
   * RangeError); by UID, numbers that match no message are ignored (RFC 9051 §6.4.8). `*` is the
   * last message (by UID: the highest UID, or for an empty mailbox nothing matches).
   */
  resolve(ranges: readonly NumberRange[], byUid: boolean): ViewMessage[] {
    const n = this.#count;
    const uids = this.#uids;
    const seen = new Uint8Array(n);
    const out: ViewMessage[] = [];
    for (const r of ranges) {
      if (byUid) {
        if (n === 0) continue;
        const max = uids[n - 1]!;
        let a = r.start === '*' ? max : r.start;
        let b = r.end === '*' ? max : r.end;
        if (a > b) [a, b] = [b, a];
        for (let i = this.#lowerBound(a); i < n && uids[i]! <= b; i++) seen[i] = 1;
      } else {
        let a = r.start === '*' ? n : r.start;
        let b = r.end === '*' ? n : r.end;
        if (a > b) [a, b] = [b, a];
        if (a < 1 || b > n) throw new RangeError(n === 0 ? 'No messages in the mailbox' : `Invalid message sequence number (the mailbox has ${n})`);
        seen.fill(1, a - 1, b);
      }
    }
    for (let i = 0; i < n; i++) if (seen[i]) out.push({ seq: i + 1, uid: uids[i]! });
    return out;
  }

  /** Record flags the client has just been told (STORE, FETCH, the QRESYNC answer), read from
   *  the store; an older state than one already told is ignored. */
  noteFlags(states: readonly MessageState[]): void {
    for (const s of states) {
      if (this.seqOf(s.uid) === 0) continue;
      const told = this.#told.get(s.uid);
      if (!told || told.modseq <= s.modseq) this.#told.set(s.uid, { uid: s.uid, flags: s.flags, modseq: s.modseq });
      const pending = this.#pendingFlags.get(s.uid);
      if (pending && pending.modseq <= s.modseq) this.#pendingFlags.delete(s.uid);
    }
  }

  /** Remove messages this session expunged itself (the caller announces them now); returns the
   *  sequence numbers in the order they must be sent (each relative to the numbering before it). */
  removeNow(uids: readonly number[]): ViewEvent[] {
    const events: ViewEvent[] = [];
    const at: number[] = [];
    for (const uid of [...new Set(uids)].sort((a, b) => a - b)) {
      const seq = this.seqOf(uid);
      if (seq === 0) continue;
      // Each EXPUNGE counts the ones sent before it (RFC 9051 §7.5.1).
      events.push({ kind: 'expunge', seq: seq - at.length, uid });
      at.push(seq - 1);
      this.#pendingExpunge.delete(uid);
      this.#pendingFlags.delete(uid);
      this.#recent.delete(uid);
      this.#told.delete(uid);
    }
    this.#removeAt(at);
    return events;
  }

  /** Drop the entries at these ascending indexes in one pass. */
  #removeAt(indexes: readonly number[]): void {
    if (indexes.length === 0) return;
    for (let k = 0; k < indexes.length; k++) {
      const end = k + 1 < indexes.length ? indexes[k + 1]! : this.#count;
      this.#uids.copyWithin(indexes[k]! - k, indexes[k]! + 1, end);
    }
    this.#count -= indexes.length;
  }

  #push(uid: number): void {
    if (this.#count === this.#uids.length) {
      const bigger = new Uint32Array(this.#uids.length * 2 + 16);
      bigger.set(this.#uids);
      this.#uids = bigger;
    }
    this.#uids[this.#count++] = uid;
  }

  /** Catch up with the store's journal; serialised, so overlapping calls read it in turn. */
  sync(): Promise<void> {
    const next = this.#sync.then(() => this.#readJournal());
    this.#sync = next.catch(() => undefined);
    return next;
  }

  async #readJournal(): Promise<void> {
    const j = await this.#store.changesSince(this.mailboxId, this.#modseq);
    const maxKnown = Math.max(this.maxUid, this.#pendingNew.length ? this.#pendingNew[this.#pendingNew.length - 1]!.uid : 0);
    const fresh: MessageState[] = [];
    for (const s of j.changed) {
      if (s.uid > maxKnown) fresh.push(s);
      else if (this.seqOf(s.uid) !== 0) this.#pendingFlags.set(s.uid, s);
      else {
        const idx = this.#pendingNew.findIndex((p) => p.uid === s.uid);
        if (idx >= 0) this.#pendingNew[idx] = s;
      }
    }
    const gone = new Set(j.expunged);
    for (const uid of j.expunged) {
      if (this.seqOf(uid) !== 0) this.#pendingExpunge.add(uid);
      this.#pendingFlags.delete(uid);
    }
    this.#pendingNew = this.#pendingNew.filter((p) => !gone.has(p.uid));
    fresh.sort((a, b) => a.uid - b.uid);
    for (const s of fresh) if (!gone.has(s.uid)) this.#pendingNew.push(s);
    if (fresh.length && this.#trackRecent) {
      for (const uid of await this.#store.claimRecent(this.mailboxId)) this.#recent.add(uid);
    }
    if (j.highestModseq > this.#modseq) this.#modseq = j.highestModseq;
  }

  /** Whether anything is waiting to be announced. */
  get hasPending(): boolean {
    return this.#pendingExpunge.size > 0 || this.#pendingNew.length > 0 || this.#pendingFlags.size > 0;
  }

  /**
   * Apply what may be announced now and return it, in the order to send: EXPUNGEs (only when
   * `allowExpunge`), then EXISTS (and RECENT for rev1), then FETCH FLAGS.
   */
  flush(options: { allowExpunge: boolean }): ViewEvent[] {
    const events: ViewEvent[] = [];
    if (options.allowExpunge && this.#pendingExpunge.size) {
      events.push(...this.removeNow([...this.#pendingExpunge]));
      this.#pendingExpunge.clear();
    }
    if (this.#pendingNew.length) {
      const from = this.#count + 1;
      const keywords = new Set<string>();
      for (const s of this.#pendingNew) {
        this.#push(s.uid);
        for (const f of s.flags) if (!f.startsWith('\\')) keywords.add(f);
      }
      this.#pendingNew = [];
      events.push({ kind: 'exists', count: this.#count, from, keywords: [...keywords] });
      if (this.#trackRecent) events.push({ kind: 'recent', count: this.#recent.size });
    }
    if (this.#pendingFlags.size) {
      const sorted = [...this.#pendingFlags.values()].sort((a, b) => a.uid - b.uid);
      this.#pendingFlags.clear();
      for (const s of sorted) {
        const seq = this.seqOf(s.uid);
        if (seq === 0 || this.#pendingExpunge.has(s.uid)) continue;
        const told = this.#told.get(s.uid);
        if (told && told.modseq >= s.modseq) continue;
        this.#told.set(s.uid, s);
        if (told && sameFlags(told.flags, s.flags)) continue;
        events.push({ kind: 'flags', seq, uid: s.uid, flags: s.flags, modseq: s.modseq });
      }
    }
    return events;
  }
}

function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a.map((f) => f.toLowerCase()));
  return b.every((f) => set.has(f.toLowerCase()));
}
