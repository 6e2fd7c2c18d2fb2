// The change feed. Every mutation of mail data returns Change[] committed in its transaction; the
// store publishes them here only after the commit. IMAP IDLE/NOTIFY, CONDSTORE and push are readers.
// Readers treat a change as a wake-up for (account, mailbox) and read the journal
// (Store.changesSince) for the truth, so the same code works when changes arrive from another
// process or node with less detail.

export type Change =
  | { kind: 'message-added'; accountId: number; mailboxId: number; uid: number; modseq: number }
  | { kind: 'flags-changed'; accountId: number; mailboxId: number; uid: number; modseq: number }
  | { kind: 'message-expunged'; accountId: number; mailboxId: number; uid: number; modseq: number }
  | { kind: 'mailbox-created'; accountId: number; mailboxId: number; name: string }
  | { kind: 'mailbox-deleted'; accountId: number; mailboxId: number; name: string }
  | { kind: 'mailbox-renamed'; accountId: number; mailboxId: number; name: string; oldName: string }
  | { kind: 'subscription-changed'; accountId: number; mailboxId: number; name: string; subscribed: boolean }
  /** Something changed in this mailbox, details unknown (from another process/node): read the journal. */
  | { kind: 'mailbox-changed'; accountId: number; mailboxId: number };

export type ChangeListener = (changes: readonly Change[]) => void;

/** In-process fan-out by account. Listeners must not throw and must not block. */
export class ChangeFeed {
  #byAccount = new Map<number, Set<ChangeListener>>();
  #all = new Set<ChangeListener>();

  /** Listen to one account's changes; returns the unsubscribe function. */
  subscribe(accountId: number, listener: ChangeListener): () => void {
    let set = this.#byAccount.get(accountId);
    if (!set) this.#byAccount.set(accountId, (set = new Set()));
    set.add(listener);
    return () => {
      set!.delete(listener);
      if (set!.size === 0 && this.#byAccount.get(accountId) === set) this.#byAccount.delete(accountId);
    };
  }

  /** Listen to every account (push notifier, metrics). */
  subscribeAll(listener: ChangeListener): () => void {
    this.#all.add(listener);
    return () => this.#all.delete(listener);
  }

  listenerCount(accountId: number): number {
    return this.#byAccount.get(accountId)?.size ?? 0;
  }

  publish(changes: readonly Change[]): void {
    if (changes.length === 0) return;
    const grouped = new Map<number, Change[]>();
    for (const c of changes) {
      let list = grouped.get(c.accountId);
      if (!list) grouped.set(c.accountId, (list = []));
      list.push(c);
    }
    for (const [accountId, list] of grouped) {
      const set = this.#byAccount.get(accountId);
      if (set) for (const l of [...set]) l(list);
    }
    for (const l of [...this.#all]) l(changes);
  }
}
