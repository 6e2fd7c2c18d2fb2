// The mail store: the only writer of mail data and the only module that knows SQL. Every engine
// (sqlite/, later postgres/) implements `Store` with the same file set and passes the same
// conformance suite (conformance/).
//
// Invariants (ARCHITECTURE.md "Mail store invariants"):
// - UIDVALIDITY is fixed at mailbox creation; UIDNEXT only grows; a UID is never reused, also across
//   restarts, nodes, and deleting then re-creating a mailbox of the same name (new UIDVALIDITY).
// - Each mailbox has a 64-bit MODSEQ counter that only grows; every append, flag change and expunge
//   takes the next value. Expunges leave tombstones (uid, modseq) for VANISHED (EARLIER).
// - Messages are immutable; raw bytes live in content-addressed blobs (SHA-256) shared by copies.
// - A mutation is durable (committed and synced) when its promise resolves, and its Change[] are
//   published on the feed only after the commit.
// - Sequence numbers are not the store's business: sessions keep their own view.
import type { ChangeFeed } from './changes.js';
import type { MessageIndex } from '../mail/types.js';
import type { PushStore } from './push-store.js';
import type { QueueStore } from './queue-store.js';
import type { AdminSessionStore } from './admin-sessions.js';

export interface DomainSettings {
  /** Push integration for this domain (PUSH.md). */
  pushEnabled: boolean;
  /** Notifications may carry sender and subject. */
  pushDetails: boolean;
  /** Callback hosts exempt from the https/public-address rules. */
  pushAllowedHosts: string[];
  /** Authenticated users may use only their own addresses and aliases as MAIL FROM. */
  enforceSender: boolean;
}

export const defaultDomainSettings: DomainSettings = { pushEnabled: false, pushDetails: false, pushAllowedHosts: [], enforceSender: true };

export interface Domain {
  id: number;
  /** Lower-case ASCII (IDNA) domain name. */
  name: string;
  createdAt: number;
  settings: DomainSettings;
}

export interface Account {
  id: number;
  /** Full address, lower-case domain; the login name. */
  email: string;
  domainId: number;
  passwordHash: string;
  /** Bytes; 0 = unlimited. */
  quota: number;
  /** Bytes of messages in all mailboxes (each copy counted). */
  usedBytes: number;
  isAdmin: boolean;
  /** What an admin administers: 'server' (everything) or 'domain' (its own domain). Meaningful only with isAdmin. */
  adminScope: AdminScope;
  createdAt: number;
}

export type AdminScope = 'domain' | 'server';

/**
 * A password the account holder uses instead of the account password in one mail client or
 * device (auth/app-passwords.ts makes and checks them). Never carries its hash.
 */
export interface AppPassword {
  id: number;
  accountId: number;
  /** The label the user gave ("Phone", "Thunderbird at work"). */
  name: string;
  createdAt: number;
  /** Last successful login with it (updated at most about once a minute); null when never used. */
  lastUsedAt: number | null;
}

/** An app password with what login needs: its lookup key and scrypt hash (auth/ and push/ only). */
export interface AppPasswordCredential extends AppPassword {
  /** Short non-secret key derived from the password, so a login verifies one hash, not all. */
  lookup: string;
  passwordHash: string;
}

export interface Alias {
  id: number;
  /** "local@domain", or "@domain" for the domain's catch-all. */
  address: string;
  targets: string[];
}

export interface Network {
  id: number;
  /** Normalised CIDR ("192.0.2.0/24", "2001:db8::/32"). */
  cidr: string;
  note: string;
}

export type SpecialUse = '\\Sent' | '\\Drafts' | '\\Trash' | '\\Junk' | '\\Archive' | '\\All' | '\\Flagged' | '\\Important';

export interface Mailbox {
  id: number;
  accountId: number;
  /** Full name in UTF-8, hierarchy delimiter "/"; "INBOX" is always upper-case. */
  name: string;
  uidValidity: number;
  uidNext: number;
  highestModseq: number;
  specialUse: SpecialUse | null;
  subscribed: boolean;
  createdAt: number;
  /** Messages present now. */
  messageCount: number;
  /** Sum of message sizes now. */
  totalSize: number;
  /** Unseen messages now. */
  unseenCount: number;
}

/** The per-message state a session's view needs. Flags include system flags (\Seen…) and keywords. */
export interface MessageState {
  uid: number;
  modseq: number;
  flags: string[];
}

export interface MessageMeta extends MessageState {
  mailboxId: number;
  size: number;
  /** INTERNALDATE, ms since epoch. */
  internalDate: number;
  /** SAVEDATE (RFC 8514), ms since epoch. */
  saveDate: number;
  /** SHA-256 of the raw bytes, hex. */
  blobHash: string;
  /** OBJECTID EMAILID (stable across copy/move? no: a copy gets a new one; move keeps it). */
  emailId: string;
  threadId: string;
}

export interface MessageRecord extends MessageMeta {
  index: MessageIndex;
}

export interface NewMessage {
  raw: Buffer;
  index: MessageIndex;
  flags?: string[];
  /** ms since epoch; default now. */
  internalDate?: number;
}

export interface AppendResult {
  mailboxId: number;
  uidValidity: number;
  uid: number;
  modseq: number;
}

export type FlagMode = 'add' | 'remove' | 'replace';

export interface StoreFlagsOptions {
  mode: FlagMode;
  flags: string[];
  /** CONDSTORE: only change messages whose modseq ≤ this. */
  unchangedSince?: number;
}

export interface StoreFlagsResult {
  /** Messages whose flags changed, with their new state. */
  updated: MessageState[];
  /** UIDs refused by UNCHANGEDSINCE (RFC 7162 MODIFIED). */
  modified: number[];
}

export interface CopyResult {
  uidValidity: number;
  /** Pairs in source UID order. */
  mapping: Array<{ from: number; to: number }>;
}

/** What changed in a mailbox after a given modseq: the journal a session (or node) catches up from. */
export interface JournalEntry {
  highestModseq: number;
  /** Messages present whose modseq > since (added or flags changed), by UID. */
  changed: MessageState[];
  /** UIDs expunged with modseq > since. */
  expunged: number[];
}

/**
 * What a session needs to select a mailbox (RFC 9051 §6.3.2), read in one snapshot without loading
 * a record per message: the view starts from the UIDs alone.
 */
export interface MailboxSnapshot {
  /** The mailbox as of the snapshot (counters, UIDNEXT, HIGHESTMODSEQ). */
  mailbox: Mailbox;
  /** UIDs present, ascending, as runs of consecutive UIDs: [first, last] pairs. */
  uidRuns: Array<[number, number]>;
  /** Lowest UID without \Seen; 0 when every message is seen. */
  firstUnseenUid: number;
  /** Keywords defined in the mailbox (each in its first spelling, mailbox_keywords), sorted. */
  keywords: string[];
  /** Messages wait to be claimed as \Recent (claimRecent would return some). */
  recentPending: boolean;
}

/** DSN parameters of one recipient (RFC 3461), kept for the outbound queue. */
export interface QueueRecipient {
  address: string;
  /** NOTIFY=… values, upper-case; empty = default. */
  notify: string[];
  /** ORCPT=… as given, or null. */
  orcpt: string | null;
}

export interface NewQueuedMessage {
  /** Envelope sender; "" for the null sender. */
  sender: string;
  recipients: QueueRecipient[];
  raw: Buffer;
  /** DSN RET=FULL|HDRS, ENVID=…, or null. */
  dsnRet: 'FULL' | 'HDRS' | null;
  dsnEnvid: string | null;
  /** Account that submitted it (null for relayed mail from My Networks). */
  accountId: number | null;
  /**
   * DKIM-sign it with the From domain's key when sent (queue/dkim.ts): true for mail we originate
   * (authenticated submission, My Networks relaying, our DSNs), false for mail only passing
   * through (alias forwarding of mail from outside). Omitted: the rule of queues made before this
   * flag existed, sign when accountId is set or the sender is null.
   */
  dkimSign?: boolean;
}

export type QueueRecipientState = 'queued' | 'delivered' | 'deferred' | 'failed';

export interface QueuedMessage {
  id: number;
  sender: string;
  blobHash: string;
  size: number;
  createdAt: number;
  dsnRet: 'FULL' | 'HDRS' | null;
  dsnEnvid: string | null;
  accountId: number | null;
  /** DKIM-sign when sent (NewQueuedMessage.dkimSign). */
  dkimSign: boolean;
  recipients: Array<QueueRecipient & { state: QueueRecipientState; attempts: number; nextAttemptAt: number; lastError: string | null }>;
}

/** Where METADATA entries live (RFC 5464 §3): the server (mailboxId null) or a mailbox. */
export interface MetadataTarget {
  accountId: number;
  mailboxId: number | null;
}

export interface MetadataEntry {
  /** Lower-case entry name, "/private/…" or "/shared/…". */
  name: string;
  value: Buffer;
}

export interface Store {
  readonly feed: ChangeFeed;
  readonly driver: 'sqlite' | 'postgres';
  /** Push subscriptions, their outbox and settings (push-store.ts). */
  readonly push: PushStore;
  /** Outbound-queue leases, outcomes, DSNs, DKIM keys, Sent copy (queue-store.ts). */
  readonly queue: QueueStore;
  /** Signed-in admin console/API sessions (admin-sessions.ts). */
  readonly adminSessions: AdminSessionStore;
  close(): Promise<void>;

  // Domains
  addDomain(name: string): Promise<Domain>;
  getDomain(name: string): Promise<Domain | undefined>;
  listDomains(): Promise<Domain[]>;
  /** Refused when the domain still has accounts, unless force. */
  removeDomain(name: string, options?: { force?: boolean }): Promise<void>;
  updateDomainSettings(name: string, settings: Partial<DomainSettings>): Promise<Domain>;

  // Accounts
  /** Creates the account and its INBOX, Sent, Drafts, Trash, Junk and Archive. */
  createAccount(input: { email: string; passwordHash: string; quota?: number; isAdmin?: boolean; adminScope?: AdminScope }): Promise<Account>;
  getAccount(id: number): Promise<Account | undefined>;
  getAccountByEmail(email: string): Promise<Account | undefined>;
  listAccounts(domain?: string): Promise<Account[]>;
  updateAccount(id: number, changes: { passwordHash?: string; quota?: number; isAdmin?: boolean; adminScope?: AdminScope }): Promise<Account>;
  removeAccount(id: number): Promise<void>;

  // App passwords (deleted with their account)
  /** Refused NONEXISTENT when the account does not exist, LIMIT when it already has
   *  limits.maxPerAccount, ALREADYEXISTS when it has one with the same lookup key. */
  createAppPassword(input: { accountId: number; name: string; lookup: string; passwordHash: string }, limits: { maxPerAccount: number }): Promise<AppPassword>;
  /** The account's app passwords, oldest first, without hashes. */
  listAppPasswords(accountId: number): Promise<AppPassword[]>;
  /** Revokes (deletes) one; false when the account has no app password with that id. */
  removeAppPassword(accountId: number, id: number): Promise<boolean>;
  /** With hashes: those with this lookup key (login), or all of the account's (push credential checks). */
  appPasswordCredentials(accountId: number, lookup?: string): Promise<AppPasswordCredential[]>;
  /** Records a login with it at `at` (last_used_at). */
  touchAppPassword(id: number, at: number): Promise<void>;

  // Aliases
  addAlias(address: string, targets: string[]): Promise<Alias>;
  getAlias(address: string): Promise<Alias | undefined>;
  listAliases(domain?: string): Promise<Alias[]>;
  removeAlias(address: string): Promise<void>;

  // My Networks
  addNetwork(cidr: string, note?: string): Promise<Network>;
  listNetworks(): Promise<Network[]>;
  removeNetwork(cidr: string): Promise<void>;

  // Mailboxes
  listMailboxes(accountId: number): Promise<Mailbox[]>;
  getMailbox(accountId: number, name: string): Promise<Mailbox | undefined>;
  getMailboxById(id: number): Promise<Mailbox | undefined>;
  createMailbox(accountId: number, name: string, options?: { specialUse?: SpecialUse | null; subscribed?: boolean }): Promise<Mailbox>;
  /** Deletes the mailbox and its messages (not its children). INBOX cannot be deleted. */
  deleteMailbox(id: number): Promise<void>;
  /** Renames a mailbox and its children (same UIDVALIDITY). Renaming INBOX moves its messages
   *  to the new mailbox and leaves INBOX empty (RFC 9051 §6.3.6). */
  renameMailbox(id: number, newName: string): Promise<void>;
  setSubscribed(accountId: number, name: string, subscribed: boolean): Promise<void>;
  /** Names subscribed, including names with no mailbox (RFC 9051 §6.3.7). */
  listSubscriptions(accountId: number): Promise<string[]>;

  // Messages
  /** Append one message (durable on return). Refused OVERQUOTA when the account is full. */
  appendMessage(mailboxId: number, message: NewMessage): Promise<AppendResult>;
  /** Present messages' states in UID order (a session's view on SELECT). */
  listMessageStates(mailboxId: number): Promise<MessageState[]>;
  getMessages(mailboxId: number, uids: number[], options?: { index?: boolean }): Promise<MessageRecord[]>;
  getMessageMeta(mailboxId: number, uids: number[]): Promise<MessageMeta[]>;
  /** The raw message bytes (or a byte range [start, end)). */
  readBlob(hash: string, range?: { start: number; end: number }): Promise<Buffer>;
  storeFlags(mailboxId: number, uids: number[], options: StoreFlagsOptions): Promise<StoreFlagsResult>;
  /** Expunge these UIDs (those present); returns the UIDs expunged. */
  expunge(mailboxId: number, uids: number[]): Promise<number[]>;
  copyMessages(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult>;
  /** Copy then expunge in one transaction (RFC 6851). */
  moveMessages(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult>;
  changesSince(mailboxId: number, modseq: number): Promise<JournalEntry>;
  /** RFC 3501 \Recent: the first session to call this after messages arrive gets their UIDs. */
  claimRecent(mailboxId: number): Promise<number[]>;
  /** The mailbox and its UIDs in one snapshot, for SELECT/EXAMINE; undefined when it does not exist. */
  mailboxSnapshot(mailboxId: number): Promise<MailboxSnapshot | undefined>;

  // URLAUTH (RFC 4467 §3) mailbox access keys
  /** The mailbox's access key (32 random bytes), made on first use and kept until RESETKEY or a
   *  new UIDVALIDITY. Refused NONEXISTENT when the mailbox does not exist. */
  mailboxAccessKey(mailboxId: number): Promise<Buffer>;
  /** RESETKEY: forget the key of one mailbox of the account, or of all its mailboxes. */
  resetMailboxAccessKeys(accountId: number, mailboxId?: number): Promise<void>;

  // METADATA (RFC 5464): entries of the account's server scope (mailboxId null) or of one mailbox
  /** Entries, names lower-case, sorted by name. */
  getMetadata(target: MetadataTarget): Promise<MetadataEntry[]>;
  /** Set (value) or remove (null) entries in one transaction. Refused NONEXISTENT for a missing
   *  mailbox, LIMIT when the target would then hold more than maxEntries entries or maxBytes. */
  setMetadata(target: MetadataTarget, entries: Array<{ name: string; value: Buffer | null }>, limits: { maxEntries: number; maxBytes: number }): Promise<void>;

  // Outbound queue (the delivery worker is queue/; this is its persistence)
  /** Durable on return, like appendMessage. */
  enqueueMessage(message: NewQueuedMessage): Promise<QueuedMessage>;
  listQueue(): Promise<QueuedMessage[]>;
  getQueuedMessage(id: number): Promise<QueuedMessage | undefined>;
  removeQueuedMessage(id: number): Promise<void>;
  /** Record an outcome for one recipient of a queued message (operator tools; the worker uses `queue.record`). */
  updateQueueRecipient(messageId: number, address: string, changes: { state?: QueueRecipientState; attempts?: number; nextAttemptAt?: number; lastError?: string | null }): Promise<void>;

  /** Integrity check (`pigeon check`): problems found, empty when sound. */
  check(): Promise<string[]>;
}
