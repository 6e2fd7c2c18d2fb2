// The push sub-store (PUSH.md): subscriptions, what each was last told per mailbox, the outbox of
// verifications and notifications, and server-wide push settings. Reached as `Store.push`; the
// SQL lives in sqlite/push-store.ts (later postgres/push-store.ts), the protocol in push/.
//
// Invariants:
// - One subscription per (account, deviceId): creating a second replaces the first in the same
//   transaction (relays retry, late).
// - The outbox is worked by leases: leaseDue picks due rows whose lease is free or has run out and
//   stamps lease_until and a fresh lease token in one transaction (SQLite: BEGIN IMMEDIATE;
//   PostgreSQL: SELECT … FOR UPDATE SKIP LOCKED), so with several nodes each row is sent by one.
//   recordSuccess/recordFailure only act while the caller still holds the lease (token matches).
// - enqueueNotification is idempotent per (subscription, mailbox, modseq): the change feed may
//   reach several nodes, only the first enqueues. An unleased pending notification of the same
//   mailbox is merged into (undelivered pings collapse) rather than queued twice.
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
  /** The mailbox's HIGHESTMODSEQ this notification describes. */
  modseq: number;
  uidNext: number;
  payload: string;
  urgency: PushUrgency;
  now: number;
}

export type EnqueueOutcome = 'queued' | 'merged' | 'stale' | 'gone';

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
