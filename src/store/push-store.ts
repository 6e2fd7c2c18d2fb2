// The push sub-store (PUSH.md): subscriptions, what each was last told per mailbox, the outbox of
// verifications and notifications, and server-wide push settings. Reached as `Store.push`; the
// SQL lives in sqlite/push-store.ts and postgres/push-store.ts, the protocol in push/.
//
// Invariants:
// - One subscription per (account, deviceId): creating a second replaces the first in the same
//   transaction (relays retry, late).
// - The outbox is worked by leases: leaseDue picks due rows whose lease is free or has run out and
//   stamps lease_until and a fresh lease token in one transaction (SQLite: BEGIN IMMEDIATE;
//   PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED), so with several nodes each row is sent by one.
//   recordSuccess/recordFailure only act while the caller still holds the lease (token matches).
// - Each new message is named to a subscription once. push_mailbox_state holds the HIGHESTMODSEQ
//   and UIDNEXT of the mailbox snapshot the last queued notification described; a notification
//   names the UIDs from that UIDNEXT up to its own snapshot's. enqueueNotification takes the
//   notified modseq the payload was built on (`since`) and, in the transaction that moves the
//   state forward, refuses a payload whose base is no longer current: 'stale' when the state
//   already covers its modseq (the change feed reaches several nodes, only the first enqueues),
//   'raced' when another notifier moved the state since it was read (the caller reads it again and
//   rebuilds). An unleased pending notification of the same mailbox is merged into (undelivered
//   pings collapse) rather than queued twice.
// - Delivery is at least once per outbox row: a row is deleted only by recordSuccess after a 2xx
//   answer, so a request whose answer was lost (timeout, reset) is sent again (with any
//   change merged into the row meanwhile).
// - Ending a subscription deletes it with its outbox rows and mailbox state (ON DELETE CASCADE);
//   deleting the account ends its subscriptions.

export type PushState = 'pending' | 'active' | 'suspended';

export interface WebPushKeys {
  /** The user agent's P-256 public key, base64url (RFC 8291 §3.1). */
  p256dh: string;
  /** The 16-byte authentication secret, base64url (RFC 8291 §3.2). */
  auth: string;
}

export interface PushSubscription {
  id: string;
  accountId: number;
  /** The account's address. */
  account: string;
  domain: string;
  deviceId: string;
  deviceName: string;
  callbackUrl: string;
  relayHost: string;
  /** Present: deliver as Web Push. */
  keys: WebPushKeys | null;
  mailboxes: string[];
  state: PushState;
  /** HMAC key of Pigeon-Signature. */
  secret: string;
  /** SHA-256 hex of the verification code; null once active. */
  codeHash: string | null;
  failedCodes: number;
  /** Fingerprint of the credential the subscription was made with (never the password). */
  credentialFingerprint: string;
  remoteAddress: string;
  createdAt: number;
  activatedAt: number | null;
  expiresAt: number;
  lastNotifiedAt: number | null;
  lastError: string | null;
  failingSince: number | null;
}

export interface NewPushSubscription {
  id: string;
  accountId: number;
  deviceId: string;
  deviceName: string;
  callbackUrl: string;
  relayHost: string;
  keys: WebPushKeys | null;
  mailboxes: string[];
  secret: string;
  codeHash: string;
  credentialFingerprint: string;
  remoteAddress: string;
  createdAt: number;
  expiresAt: number;
  /** The verification request body, queued with the subscription. */
  verificationPayload: string;
}

export interface MailboxPushState {
  mailboxId: number;
  notifiedModseq: number;
  uidNext: number;
}

export type PushUrgency = 'normal' | 'high';

export interface OutboxItem {
  id: number;
  /** Proof of the lease; pass it back to recordSuccess/recordFailure. */
  leaseToken: string;
  kind: 'verification' | 'notification';
  mailboxId: number;
  payload: string;
  urgency: PushUrgency;
  /** Attempts made before this one. */
  attempts: number;
  subscription: PushSubscription;
}

export interface NotificationInput {
  subscriptionId: string;
  mailboxId: number;
  /** The notified modseq (push_mailbox_state) the payload was built on; 0 when there was none. */
  since: number;
  /** The mailbox's HIGHESTMODSEQ this notification describes. */
  modseq: number;
  /** The mailbox's UIDNEXT in the same snapshot: the payload names no UID at or above it. */
  uidNext: number;
  payload: string;
  urgency: PushUrgency;
  now: number;
}

/** 'stale': the state already covers input.modseq; 'raced': the state moved past input.since
 *  (read it again and rebuild the payload); 'gone': the subscription is not active. */
export type EnqueueOutcome = 'queued' | 'merged' | 'stale' | 'raced' | 'gone';

export interface FailureInput {
  now: number;
  error: string;
  /** When to try again. */
  retryAt: number;
  /** 404/410: end the subscription. */
  end: boolean;
  /** Failing for at least this long (ms) suspends the subscription. */
  suspendAfterMs: number;
}

export type FailureOutcome = 'retry' | 'suspended' | 'ended' | 'lost';

export interface PushStore {
  /** Insert (replacing the account's subscription with the same deviceId) and queue its verification.
   *  Refused LIMIT when the account already has maxPerAccount other subscriptions. */
  createSubscription(input: NewPushSubscription, options: { maxPerAccount: number }): Promise<{ subscription: PushSubscription; replaced: string | null }>;
  getSubscription(id: string): Promise<PushSubscription | undefined>;
  listSubscriptions(filter?: { domain?: string; accountId?: number; states?: PushState[] }): Promise<PushSubscription[]>;
  /** Active subscriptions of an account (the notifier's question on each change). */
  activeForAccount(accountId: number): Promise<PushSubscription[]>;
  /** pending → active with the mailboxes' current state as the starting point. False when gone or not pending. */
  activate(id: string, options: { now: number; mailboxes: MailboxPushState[] }): Promise<boolean>;
  /** Counts a wrong code; at maxFailures the pending subscription is deleted. */
  recordWrongCode(id: string, maxFailures: number): Promise<{ failures: number; deleted: boolean }>;
  /** New expiry; a suspended subscription becomes active again. False when gone. */
  renew(id: string, expiresAt: number): Promise<boolean>;
  /** True when it existed. */
  deleteSubscription(id: string): Promise<boolean>;
  /** Deletes pending subscriptions created before pendingBefore and any whose expiry ≤ now. */
  deleteExpired(now: number, pendingBefore: number): Promise<Array<{ subscription: PushSubscription; reason: 'pending-expired' | 'expired' }>>;
  getMailboxState(subscriptionId: string, mailboxId: number): Promise<MailboxPushState | undefined>;
  /** Queue (or merge into the pending one) a notification; see the invariants above. */
  enqueueNotification(input: NotificationInput, merge?: (pendingPayload: string) => string): Promise<EnqueueOutcome>;
  leaseDue(now: number, leaseMs: number, limit: number): Promise<OutboxItem[]>;
  /** Deletes the row, stamps last notification. False when the lease was lost. */
  recordSuccess(item: Pick<OutboxItem, 'id' | 'leaseToken'>, now: number): Promise<boolean>;
  recordFailure(item: Pick<OutboxItem, 'id' | 'leaseToken'>, input: FailureInput): Promise<FailureOutcome>;
  /** Earliest next attempt of an unleased row (or of a lease running out), or null when empty. */
  nextDueAt(): Promise<number | null>;
  getSetting(key: string): Promise<string | undefined>;
  setSetting(key: string, value: string): Promise<void>;
  /** Stores value unless the key exists; returns the value that holds (first writer wins across nodes). */
  setSettingIfAbsent(key: string, value: string): Promise<string>;
}
