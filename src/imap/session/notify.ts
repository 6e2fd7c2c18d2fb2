// NOTIFY state of one session (RFC 5465): which events the client asked for, for which
// mailboxes, and the bounded queue of events for mailboxes that are not selected. The session
// feeds it change-feed wake-ups (session.ts #onChanges) and drains it where unsolicited responses
// may be sent: after any command, while idle, and between commands (RFC 5465 §3: STATUS and
// LIST responses about other mailboxes may be sent at any time).
//
// Invariants:
// - The queue holds at most NOTIFY_QUEUE_LIMIT entries; one more and the session reports
//   `* OK [NOTIFICATIONOVERFLOW]` and behaves as after NOTIFY NONE (RFC 5465 §5.8).
// - Message events in other mailboxes are coalesced per mailbox: the STATUS sent reads the
//   store's counts when it is written, so a burst of deliveries costs one STATUS.
// - The selected mailbox's events are not queued here: the view reads the journal (view.ts).
import { BadCommand } from '../../shared/errors.js';
import { RefusedWithArgs } from './errors.js';
import type { Change } from '../../store/changes.js';
import type { FetchAttribute, NotifyCommand, NotifyEventGroup, NotifyFilter } from '../wire/types.js';
import { DELIMITER } from './helpers.js';

/** Pending notifications per session; more is an overflow (RFC 5465 §5.8). */
export const NOTIFY_QUEUE_LIMIT = 1000;

/** The events Pigeon implements (RFC 5465 §5); METADATA events are not offered. */
const SUPPORTED = new Set(['MessageNew', 'MessageExpunge', 'FlagChange', 'MailboxName', 'SubscriptionChange']);

export type NotifyEventName = 'MessageNew' | 'MessageExpunge' | 'FlagChange' | 'MailboxName' | 'SubscriptionChange';

interface Group {
  filter: NotifyFilter;
  events: Set<NotifyEventName>;
  /** MessageNew's fetch attributes (only meaningful for the selected filter). */
  fetch: FetchAttribute[];
}

/** A queued notification for a mailbox that is not selected. */
export type NotifyItem =
  | { kind: 'status'; mailboxId: number; name: string }
  | { kind: 'list'; name: string; oldName?: string; deleted?: boolean }
  | { kind: 'subscription'; name: string; subscribed: boolean };

/** What the session needs to know about itself to match filters. */
export interface NotifyContext {
  selectedMailboxId: number | null;
  /** Subscribed names (RFC 5465 §6 "subscribed"). */
  subscribed: ReadonlySet<string>;
}

export class NotifySpec {
  readonly #groups: Group[];
  /** Whether STATUS was given with NOTIFY SET (RFC 5465 §3). */
  readonly status: boolean;
  #queue: NotifyItem[] = [];
  /** mailboxId → queued STATUS (coalescing). */
  #statusQueued = new Set<number>();
  #overflowed = false;

  private constructor(groups: Group[], status: boolean) {
    this.#groups = groups;
    this.status = status;
  }

  /**
   * Validate NOTIFY SET (RFC 5465 §3, §5): unknown or unsupported events answer
   * NO [BADEVENT (supported…)]; MessageNew and MessageExpunge go together, FlagChange needs both,
   * and a fetch list for MessageNew is allowed only on the selected filters (BAD otherwise).
   */
  static fromCommand(action: Extract<NotifyCommand['action'], { kind: 'set' }>): NotifySpec {
    const groups: Group[] = [];
    for (const g of action.groups) groups.push(compileGroup(g));
    const selected = groups.filter((g) => g.filter.kind === 'SELECTED' || g.filter.kind === 'SELECTED-DELAYED');
    if (selected.length > 1) throw new BadCommand('NOTIFY: at most one selected or selected-delayed filter');
    return new NotifySpec(groups, action.status);
  }

  get overflowed(): boolean {
    return this.#overflowed;
  }

  /** The group for the selected mailbox, if the client named one. */
  get selectedGroup(): { delayed: boolean; events: ReadonlySet<NotifyEventName>; fetch: readonly FetchAttribute[] } | null {
    const g = this.#groups.find((x) => x.filter.kind === 'SELECTED' || x.filter.kind === 'SELECTED-DELAYED');
    return g ? { delayed: g.filter.kind === 'SELECTED-DELAYED', events: g.events, fetch: g.fetch } : null;
  }

  /** Events asked for a mailbox that is not selected: the first group whose filter matches. */
  eventsFor(name: string, ctx: NotifyContext): ReadonlySet<NotifyEventName> | null {
    for (const g of this.#groups) if (matches(g.filter, name, ctx)) return g.events;
    return null;
  }

  /** Whether a non-selected filter mentions subscriptions (the session then keeps that set fresh). */
  get needsSubscriptions(): boolean {
    return this.#groups.some((g) => g.filter.kind === 'SUBSCRIBED');
  }

  /** Names of mailboxes the STATUS option reports on at NOTIFY SET (RFC 5465 §3). */
  watched(names: readonly string[], ctx: NotifyContext): string[] {
    return names.filter((n) => {
      const ev = this.eventsFor(n, ctx);
      return ev !== null && (ev.has('MessageNew') || ev.has('MessageExpunge'));
    });
  }

  /** Queue what these changes mean for mailboxes other than the selected one. */
  note(changes: readonly Change[], names: ReadonlyMap<number, string>, ctx: NotifyContext): void {
    if (this.#overflowed) return;
    for (const c of changes) {
      if (c.mailboxId === ctx.selectedMailboxId && c.kind !== 'mailbox-renamed' && c.kind !== 'subscription-changed' && c.kind !== 'mailbox-deleted') continue;
      switch (c.kind) {
        case 'message-added':
        case 'message-expunged':
        case 'flags-changed':
        case 'mailbox-changed': {
          const name = names.get(c.mailboxId);
          if (name === undefined) continue;
          const ev = this.eventsFor(name, ctx);
          if (!ev) continue;
          const wanted =
            c.kind === 'message-added' ? ev.has('MessageNew') : c.kind === 'message-expunged' ? ev.has('MessageExpunge') : c.kind === 'flags-changed' ? ev.has('FlagChange') : ev.has('MessageNew');
          if (!wanted || this.#statusQueued.has(c.mailboxId)) continue;
          this.#statusQueued.add(c.mailboxId);
          this.#push({ kind: 'status', mailboxId: c.mailboxId, name });
          break;
        }
        case 'mailbox-created':
          if (this.eventsFor(c.name, ctx)?.has('MailboxName')) this.#push({ kind: 'list', name: c.name });
          break;
        case 'mailbox-deleted':
          if (this.eventsFor(c.name, ctx)?.has('MailboxName')) this.#push({ kind: 'list', name: c.name, deleted: true });
          break;
        case 'mailbox-renamed':
          if (this.eventsFor(c.name, ctx)?.has('MailboxName') || this.eventsFor(c.oldName, ctx)?.has('MailboxName')) {
            this.#push({ kind: 'list', name: c.name, oldName: c.oldName });
          }
          break;
        case 'subscription-changed':
          if (this.eventsFor(c.name, ctx)?.has('SubscriptionChange')) this.#push({ kind: 'subscription', name: c.name, subscribed: c.subscribed });
          break;
      }
      if (this.#overflowed) return;
    }
  }

  #push(item: NotifyItem): void {
    if (this.#queue.length >= NOTIFY_QUEUE_LIMIT) {
      this.#overflowed = true;
      this.#queue = [];
      this.#statusQueued.clear();
      return;
    }
    this.#queue.push(item);
  }

  get pending(): boolean {
    return this.#queue.length > 0 || this.#overflowed;
  }

  /** Take everything queued. */
  take(): NotifyItem[] {
    const out = this.#queue;
    this.#queue = [];
    this.#statusQueued.clear();
    return out;
  }
}

function compileGroup(g: NotifyEventGroup): Group {
  const events = new Set<NotifyEventName>();
  const unsupported: string[] = [];
  let fetch: FetchAttribute[] = [];
  for (const e of g.events) {
    const name = e.event === 'unknown' ? e.name : e.event;
    if (!SUPPORTED.has(name)) {
      unsupported.push(name);
      continue;
    }
    events.add(name as NotifyEventName);
    if (e.event === 'MessageNew' && e.fetch) {
      if (g.filter.kind !== 'SELECTED' && g.filter.kind !== 'SELECTED-DELAYED') {
        throw new BadCommand('NOTIFY: fetch attributes for MessageNew only with selected or selected-delayed');
      }
      fetch = e.fetch;
    }
  }
  if (unsupported.length) {
    throw new BadEvent(`NOTIFY: unsupported event ${unsupported.join(' ')}`);
  }
  // RFC 5465 §5: MessageNew and MessageExpunge only together; FlagChange needs both.
  if (events.has('MessageNew') !== events.has('MessageExpunge')) throw new BadCommand('NOTIFY: MessageNew and MessageExpunge must be given together');
  if (events.has('FlagChange') && !events.has('MessageNew')) throw new BadCommand('NOTIFY: FlagChange requires MessageNew and MessageExpunge');
  if (g.filter.kind === 'SELECTED' || g.filter.kind === 'SELECTED-DELAYED') {
    if (events.has('MailboxName') || events.has('SubscriptionChange')) {
      throw new BadCommand('NOTIFY: MailboxName and SubscriptionChange do not apply to the selected mailbox');
    }
  }
  const filter: NotifyFilter =
    g.filter.kind === 'SUBTREE' || g.filter.kind === 'MAILBOXES' ? { kind: g.filter.kind, mailboxes: g.filter.mailboxes.map(normalise) } : g.filter;
  return { filter, events, fetch };
}

/** NO [BADEVENT (events the server supports)] (RFC 5465 §3). */
export class BadEvent extends RefusedWithArgs {
  constructor(message: string) {
    super(message, 'BADEVENT', [[...SUPPORTED].map((atom) => ({ atom }))]);
  }
}

function normalise(name: string): string {
  let n = name;
  while (n.length > 1 && n.endsWith(DELIMITER)) n = n.slice(0, -1);
  if (n.toUpperCase() === 'INBOX') return 'INBOX';
  if (n.toUpperCase().startsWith('INBOX' + DELIMITER)) return 'INBOX' + n.slice(5);
  return n;
}

/** RFC 5465 §6 filter-mailboxes for a mailbox that is not selected. */
function matches(filter: NotifyFilter, name: string, ctx: NotifyContext): boolean {
  switch (filter.kind) {
    case 'SELECTED':
    case 'SELECTED-DELAYED':
      return false;
    case 'INBOXES':
      // Pigeon delivers to INBOX only (Sieve may add more later).
      return name === 'INBOX';
    case 'PERSONAL':
      return true;
    case 'SUBSCRIBED':
      return ctx.subscribed.has(name);
    case 'MAILBOXES':
      return filter.mailboxes.includes(name);
    case 'SUBTREE':
      return filter.mailboxes.some((m) => name === m || name.startsWith(m + DELIMITER));
  }
}
