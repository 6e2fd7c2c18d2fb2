// The selected-mailbox view of one session: sequence number ↔ UID, the flags the client was last
// told, the modseq the view has caught up to, and the changes not yet announced.
//
// Invariants:
// - Sequence numbers belong to the session (RFC 9051 §2.3.1.2): the view changes its numbering only
//   when `flush` is told that EXPUNGE responses may be sent, and every message it removes is
//   announced by one `* n EXPUNGE`. Until then an expunged message keeps its number (RFC 9051
//   §7.5.1, RFC 2180 §4.1).
// - The truth comes from the store's journal (`store.changesSince`), never from change-feed
//   payloads: a feed event only says "read the journal".
// - New messages are appended to the numbering in UID order and announced by `* n EXISTS`; flag
//   changes are announced by `* n FETCH (FLAGS …)` only when they differ from what the client
//   was last told (so a session's own STORE is not echoed twice).
// - Each message's modseq is kept (CONDSTORE, RFC 7162): QRESYNC's SELECT answers from it without
//   reading any message record.
import type { MessageState, Store } from '../../store/store.js';

export type ViewEvent =
  | { kind: 'expunge'; seq: number; uid: number }
  /** `from`: the first new sequence number. */
  | { kind: 'exists'; count: number; from: number }
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
  /** seq - 1 → uid, ascending. */
  #uids: number[];
  /** seq - 1 → flags last announced. */
  #flags: string[][];
  #modseqs: number[];
  #recent = new Set<number>();
  /** Keywords the client was told about in FLAGS (RFC 9051 §7.3.5). */
  #keywords = new Set<string>();
  #modseq: number;
  #pendingExpunge = new Set<number>();
  #pendingNew: MessageState[] = [];
  #pendingFlags = new Map<number, MessageState>();
  #sync: Promise<void> = Promise.resolve();

  private constructor(init: {
    store: Store;
    mailboxId: number;
    name: string;
    readOnly: boolean;
    uidValidity: number;
    modseq: number;
    states: MessageState[];
    trackRecent: boolean;
    recent: number[];
  }) {
    this.#store = init.store;
    this.mailboxId = init.mailboxId;
    this.name = init.name;
    this.readOnly = init.readOnly;
    this.uidValidity = init.uidValidity;
    this.#modseq = init.modseq;
    this.#trackRecent = init.trackRecent;
    this.#uids = init.states.map((s) => s.uid);
    this.#flags = init.states.map((s) => s.flags);
    this.#modseqs = init.states.map((s) => s.modseq);
    for (const uid of init.recent) this.#recent.add(uid);
    for (const flags of this.#flags) for (const f of flags) if (!f.startsWith('\\')) this.#keywords.add(f);
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
   * Open a view. The mailbox's modseq is read before its messages, so anything committed in
   * between shows up again in the first journal read, where it is de-duplicated.
   * `trackRecent`: this is a read-write rev1 session, which claims \Recent (RFC 3501 §2.3.2).
   */
  static async open(store: Store, mailboxId: number, options: { readOnly: boolean; trackRecent: boolean }): Promise<MailboxView> {
    const mailbox = await store.getMailboxById(mailboxId);
    if (!mailbox) throw new Error(`mailbox ${mailboxId} vanished`);
    const states = await store.listMessageStates(mailboxId);
    const recent = options.trackRecent ? await store.claimRecent(mailboxId) : [];
    return new MailboxView({
      store,
      mailboxId,
      name: mailbox.name,
      readOnly: options.readOnly,
      uidValidity: mailbox.uidValidity,
      modseq: mailbox.highestModseq,
      states,
      trackRecent: options.trackRecent,
      recent,
    });
  }

  get exists(): number {
    return this.#uids.length;
  }
  get recentCount(): number {
    return this.#recent.size;
  }
  get modseq(): number {
    return this.#modseq;
  }
  /** Highest UID in the view (0 when empty). */
  get maxUid(): number {
    return this.#uids.length ? this.#uids[this.#uids.length - 1]! : 0;
  }
  uidAt(seq: number): number | undefined {
    return this.#uids[seq - 1];
  }
  flagsAt(seq: number): string[] {
    return this.#flags[seq - 1] ?? [];
  }
  /** The mod-sequence the view holds for a message (RFC 7162 §3.1.4.1), 0 when out of range. */
  modseqAt(seq: number): number {
    return this.#modseqs[seq - 1] ?? 0;
  }
  /** Messages whose known mod-sequence is above `modseq` (QRESYNC, RFC 7162 §3.2.5), ascending. */
  changedSince(modseq: number): ViewMessage[] {
    const out: ViewMessage[] = [];
    for (let i = 0; i < this.#modseqs.length; i++) if (this.#modseqs[i]! > modseq) out.push({ seq: i + 1, uid: this.#uids[i]! });
    return out;
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
    let lo = 0;
    let hi = this.#uids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.#uids[mid]!;
      if (v === uid) return mid + 1;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }
  /** The first sequence number whose UID is ≥ uid (length + 1 when none). */
  #lowerBound(uid: number): number {
    let lo = 0;
    let hi = this.#uids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#uids[mid]! < uid) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  /** UIDs of every message in the view (present or pending expunge), ascending. */
  allUids(): number[] {
    return this.#uids.slice();
  }

  /**
   * Resolve a sequence set (RFC 9051 §9 sequence-set) to messages in ascending order, without
   * duplicates. By sequence number a number beyond the view is a client error (thrown as
   * RangeError); by UID, numbers that match no message are ignored (RFC 9051 §6.4.8). `*` is the
   * last message (by UID: the highest UID, or for an empty mailbox nothing matches).
   */
  resolve(ranges: readonly NumberRange[], byUid: boolean): ViewMessage[] {
    const n = this.#uids.length;
    const seen = new Uint8Array(n);
    const out: ViewMessage[] = [];
    for (const r of ranges) {
      if (byUid) {
        if (n === 0) continue;
        const max = this.#uids[n - 1]!;
        let a = r.start === '*' ? max : r.start;
        let b = r.end === '*' ? max : r.end;
        if (a > b) [a, b] = [b, a];
        for (let i = this.#lowerBound(a); i < n && this.#uids[i]! <= b; i++) seen[i] = 1;
      } else {
        let a = r.start === '*' ? n : r.start;
        let b = r.end === '*' ? n : r.end;
        if (a > b) [a, b] = [b, a];
        if (a < 1 || b > n) throw new RangeError(n === 0 ? 'No messages in the mailbox' : `Invalid message sequence number (the mailbox has ${n})`);
        for (let i = a - 1; i < b; i++) seen[i] = 1;
      }
    }
    for (let i = 0; i < n; i++) if (seen[i]) out.push({ seq: i + 1, uid: this.#uids[i]! });
    return out;
  }

  /** Record flags this session has just announced itself (STORE, fetch-set \Seen). */
  noteFlags(states: readonly MessageState[]): void {
    for (const s of states) {
      const seq = this.seqOf(s.uid);
      if (seq === 0) continue;
      this.#flags[seq - 1] = s.flags;
      this.#modseqs[seq - 1] = s.modseq;
      const pending = this.#pendingFlags.get(s.uid);
      if (pending && pending.modseq <= s.modseq) this.#pendingFlags.delete(s.uid);
    }
  }

  /** Remove messages this session expunged itself (the caller announces them now); returns the
   *  sequence numbers in the order they must be sent (each relative to the numbering before it). */
  removeNow(uids: readonly number[]): ViewEvent[] {
    const events: ViewEvent[] = [];
    for (const uid of [...uids].sort((a, b) => a - b)) {
      const seq = this.seqOf(uid);
      if (seq === 0) continue;
      this.#removeAt(seq);
      this.#pendingExpunge.delete(uid);
      this.#pendingFlags.delete(uid);
      this.#recent.delete(uid);
      events.push({ kind: 'expunge', seq, uid });
    }
    return events;
  }

  #removeAt(seq: number): void {
    this.#uids.splice(seq - 1, 1);
    this.#flags.splice(seq - 1, 1);
    this.#modseqs.splice(seq - 1, 1);
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
      const from = this.#uids.length + 1;
      for (const s of this.#pendingNew) {
        this.#uids.push(s.uid);
        this.#flags.push(s.flags);
        this.#modseqs.push(s.modseq);
      }
      this.#pendingNew = [];
      events.push({ kind: 'exists', count: this.#uids.length, from });
      if (this.#trackRecent) events.push({ kind: 'recent', count: this.#recent.size });
    }
    if (this.#pendingFlags.size) {
      const sorted = [...this.#pendingFlags.values()].sort((a, b) => a.uid - b.uid);
      this.#pendingFlags.clear();
      for (const s of sorted) {
        const seq = this.seqOf(s.uid);
        if (seq === 0 || this.#pendingExpunge.has(s.uid)) continue;
        this.#modseqs[seq - 1] = s.modseq;
        if (sameFlags(this.#flags[seq - 1]!, s.flags)) continue;
        this.#flags[seq - 1] = s.flags;
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
