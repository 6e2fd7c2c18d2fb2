// The notifier: reads the store's change feed (the only source; nothing polls), coalesces the
// changes of one (account, mailbox) over `[push] coalesce_ms`, then builds each subscribed
// device's MailboxChange (PUSH.md "Notification") from the store and queues it in the outbox.
//
// Invariants: the feed listener never throws and never blocks (it only arms a timer); the store is
// the truth (a change is a wake-up, the mailbox state and journal are read afresh); newMessages are
// the UIDs from what the subscription was last told (push_mailbox_state) up to the UIDNEXT of the
// mailbox snapshot the notification describes, at most maxNewMessages, with sender and subject only
// where the domain allows it. So each new message is named once per subscription, although every
// node's notifier (and overlapping runs on one node) see the same changes: the store queues a
// payload only while the state it was built on is still current (push-store.ts).
import type { Change } from '../store/changes.js';
import type { Mailbox, Store } from '../store/store.js';
import type { EnqueueOutcome, PushSubscription, PushUrgency } from '../store/push-store.js';
import type { Logger } from '../shared/logger.js';
import type { Clock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import { endedReason, liveFingerprints } from './relay.js';

/** New messages named in one notification (the newest). */
export const maxNewMessages = 20;
/** Longest sender or subject text carried. */
const maxTextLength = 200;

export interface NewMessageInfo {
  uid: number;
  size: number;
  from?: string;
  subject?: string;
}

export interface MailboxChangePayload {
  type: 'MailboxChange';
  subscriptionId: string;
  account: string;
  mailbox: string;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  unseen: number;
  exists: number;
  newMessages: NewMessageInfo[];
}

export interface NotifierDeps {
  store: Store;
  logger: Logger;
  clock: Clock;
  coalesceMs: number;
  /** Push may run (server switch). */
  serverEnabled: () => Promise<boolean>;
  /** Something was queued. */
  queued: () => void;
  /** A subscription made with an old password or a revoked app password was found and ended. */
  ended: (sub: PushSubscription, reason: string) => void;
}

const relevant = new Set<Change['kind']>(['message-added', 'flags-changed', 'message-expunged', 'mailbox-changed']);

function mergeNew(older: NewMessageInfo[], newer: NewMessageInfo[]): NewMessageInfo[] {
  const byUid = new Map<number, NewMessageInfo>();
  for (const m of [...older, ...newer]) byUid.set(m.uid, m);
  return [...byUid.values()].sort((a, b) => a.uid - b.uid).slice(-maxNewMessages);
}

export class Notifier {
  readonly #deps: NotifierDeps;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #running = new Set<Promise<void>>();
  #unsubscribe: (() => void) | undefined;
  #closed = false;

  constructor(deps: NotifierDeps) {
    this.#deps = deps;
  }

  start(): void {
    this.#unsubscribe = this.#deps.store.feed.subscribeAll((changes) => this.#onChanges(changes));
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#unsubscribe?.();
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    await Promise.allSettled([...this.#running]);
  }

  #onChanges(changes: readonly Change[]): void {
    if (this.#closed) return;
    for (const c of changes) {
      if (!relevant.has(c.kind)) continue;
      const key = `${c.accountId}:${c.mailboxId}`;
      if (this.#timers.has(key)) continue;
      const timer = setTimeout(() => {
        this.#timers.delete(key);
        const p = this.#fire(c.accountId, c.mailboxId)
          .catch((err: unknown) => this.#deps.logger.error({ accountId: c.accountId, mailboxId: c.mailboxId, err: errorMessage(err) }, 'push notifier failed'))
          .finally(() => this.#running.delete(p));
        this.#running.add(p);
      }, this.#deps.coalesceMs);
      this.#timers.set(key, timer);
    }
  }

  async #fire(accountId: number, mailboxId: number): Promise<void> {
    const { store } = this.#deps;
    const subs = await store.push.activeForAccount(accountId);
    if (subs.length === 0 || !(await this.#deps.serverEnabled())) return;
    const mailbox = await store.getMailboxById(mailboxId);
    if (!mailbox || mailbox.accountId !== accountId) return;
    const targets = subs.filter((s) => s.mailboxes.includes(mailbox.name));
    if (targets.length === 0) return;
    const account = await store.getAccount(accountId);
    const domain = targets[0] && (await store.getDomain(targets[0].domain));
    if (!account || !domain || !domain.settings.pushEnabled) return;
    const live = await liveFingerprints(store, account);
    let queued = false;
    for (const sub of targets) {
      if (!live.has(sub.credentialFingerprint)) {
        if (await store.push.deleteSubscription(sub.id)) this.#deps.ended(sub, endedReason(sub.credentialFingerprint));
        continue;
      }
      if (await this.#notify(sub, mailbox, domain.settings.pushDetails)) queued = true;
    }
    if (queued) this.#deps.queued();
  }

  /** Queue the subscription's notification of this mailbox snapshot; true when something was queued. */
  async #notify(sub: PushSubscription, mailbox: Mailbox, details: boolean): Promise<boolean> {
    // 'raced' means another notifier moved the state forward (still below this snapshot's modseq,
    // or the store would answer 'stale'), so this ends: the state only grows towards it.
    for (;;) {
      const outcome = await this.#enqueue(sub, mailbox, details);
      if (outcome !== 'raced') return outcome === 'queued' || outcome === 'merged';
    }
  }

  async #enqueue(sub: PushSubscription, mailbox: Mailbox, details: boolean): Promise<EnqueueOutcome> {
    const { store } = this.#deps;
    const state = await store.push.getMailboxState(sub.id, mailbox.id);
    const since = state?.notifiedModseq ?? 0;
    if (since >= mailbox.highestModseq) return 'stale';
    const base = state?.uidNext ?? 1;
    // The journal is read after the mailbox snapshot and may hold later messages: those belong to
    // the notification of a later snapshot (which starts at this one's uidNext), not to this one.
    const journal = await store.changesSince(mailbox.id, since);
    const uids = journal.changed.map((m) => m.uid).filter((u) => u >= base && u < mailbox.uidNext).sort((a, b) => a - b).slice(-maxNewMessages);
    const newMessages: NewMessageInfo[] = [];
    if (uids.length > 0) {
      for (const m of await store.getMessages(mailbox.id, uids, { index: details })) {
        const info: NewMessageInfo = { uid: m.uid, size: m.size };
        if (details) {
          info.from = (m.index.search?.from ?? '').slice(0, maxTextLength);
          info.subject = (m.index.search?.subject ?? '').slice(0, maxTextLength);
        }
        newMessages.push(info);
      }
    }
    const payload: MailboxChangePayload = {
      type: 'MailboxChange', subscriptionId: sub.id, account: sub.account, mailbox: mailbox.name, uidValidity: mailbox.uidValidity,
      uidNext: mailbox.uidNext, highestModseq: mailbox.highestModseq, unseen: mailbox.unseenCount, exists: mailbox.messageCount, newMessages,
    };
    const urgency: PushUrgency = newMessages.length > 0 ? 'high' : 'normal';
    return store.push.enqueueNotification(
      {
        subscriptionId: sub.id, mailboxId: mailbox.id, since, modseq: mailbox.highestModseq, uidNext: mailbox.uidNext,
        payload: JSON.stringify(payload), urgency, now: this.#deps.clock.now(),
      },
      (pending) => {
        const older = (JSON.parse(pending) as MailboxChangePayload).newMessages ?? [];
        return JSON.stringify({ ...payload, newMessages: mergeNew(older, newMessages) });
      },
    );
  }
}
