// The outbound-queue sub-store: leases on queued recipients, attempt outcomes, pending delivery
// status notifications, DKIM keys and the per-account "Sent copy" switch. Reached as
// `Store.queue`; the SQL lives in sqlite/queue-store.ts (later postgres/queue-store.ts), the
// delivery logic in queue/. The queued messages themselves are Store.enqueueMessage & co.
//
// Invariants:
// - A recipient is worked by one lease holder at a time: leaseDue picks due rows whose lease is
//   free or has run out and stamps lease_until and a fresh token in one transaction (SQLite:
//   BEGIN IMMEDIATE; PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED). record/finish/release act only
//   on rows whose lease token still matches.
// - A recipient is "due" when it is queued/deferred and its next attempt time has come, or when a
//   DSN is still pending for it (a crash between the outcome and the DSN retries the DSN).
// - A queued message is deleted (its blob reference released) once no recipient is queued or
//   deferred and no DSN is pending: accepted mail is delivered or bounced, never dropped.
import type { QueuedMessage, QueueRecipient, QueueRecipientState } from './store.js';

/** The DSN action still to report for a recipient (RFC 3464 §2.3.3). */
export type DsnAction = 'delivered' | 'relayed' | 'delayed' | 'failed';

export interface QueueRecipientDetail extends QueueRecipient {
  id: number;
  messageId: number;
  state: QueueRecipientState;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  /** Enhanced status code (RFC 3463) of the last outcome, e.g. "5.1.1". */
  statusCode: string | null;
  /** Host that gave the last answer. */
  remoteMta: string | null;
  dsnPending: DsnAction | null;
  delayNotified: boolean;
  leaseUntil: number | null;
}

export type QueuedMessageInfo = Omit<QueuedMessage, 'recipients'>;

export interface LeasedMessage {
  message: QueuedMessageInfo;
  /** The leased recipients of this message (not necessarily all of its recipients). */
  recipients: QueueRecipientDetail[];
  leaseToken: string;
}

export interface AttemptOutcome {
  recipientId: number;
  state: QueueRecipientState;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  statusCode: string | null;
  remoteMta: string | null;
  /** DSN to send for this outcome (null: none). */
  dsnPending: DsnAction | null;
  delayNotified?: boolean;
}

export interface DkimKey {
  domain: string;
  selector: string;
  /** PKCS#8 PEM. */
  privateKey: string;
  /** SPKI PEM. */
  publicKey: string;
  createdAt: number;
}

export interface QueueStore {
  /** Lease due recipients (at most `limit`), grouped per message. */
  leaseDue(options: { now: number; leaseMs: number; limit: number }): Promise<LeasedMessage[]>;
  /** Record attempt outcomes while holding the lease (the lease is kept). Returns rows updated. */
  record(leaseToken: string, outcomes: AttemptOutcome[]): Promise<number>;
  /**
   * End a lease in one transaction: record `outcomes` (if any), clear the pending DSN of
   * `noticesSent`, free the leased rows, delete messages that are done (see the invariants).
   */
  finish(leaseToken: string, options: { noticesSent: number[]; outcomes?: AttemptOutcome[] }): Promise<void>;
  /** Free a lease without recording anything (not attempted). */
  release(leaseToken: string): Promise<void>;
  /** When the next recipient becomes due (ms since epoch), or null for an idle queue. */
  nextDue(): Promise<number | null>;
  /** Make queued/deferred recipients due now: of one message, or of all (flush). Returns recipients touched. */
  retryNow(messageId: number | null, now: number): Promise<number>;
  /** All recipients of a message with their delivery details. */
  recipientDetails(messageId: number): Promise<QueueRecipientDetail[]>;

  getDkimKey(domain: string): Promise<DkimKey | undefined>;
  /** Insert or replace the domain's key. */
  putDkimKey(key: DkimKey): Promise<void>;
  listDkimKeys(): Promise<DkimKey[]>;
  removeDkimKey(domain: string): Promise<void>;

  /** Per-account "file submitted messages into \Sent". */
  getSentCopy(accountId: number): Promise<boolean>;
  setSentCopy(accountId: number, on: boolean): Promise<void>;
}
