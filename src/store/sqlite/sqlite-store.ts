// The SQLite engine of the mail store (better-sqlite3, one database file, WAL).
//
// Invariants kept here (see store.ts):
// - Every write runs synchronously inside one `BEGIN IMMEDIATE` transaction (never an await
//   inside), so UID/modseq allocation is serialised across connections and processes.
// - A resolved write promise means committed AND on disk. Group commits (#flush) run with
//   synchronous=NORMAL (in WAL mode: no fsync at COMMIT) and are then made durable by an fsync of
//   the -wal file on libuv's thread pool, so the event loop keeps serving sessions during the
//   fsync; the batch's promises resolve and its changes are published only after that fsync.
//   Checkpoints (automatic every `walAutocheckpointPages`) sync the WAL and the database file
//   before the WAL is reused (that is what NORMAL guarantees in WAL mode). Sub-stores that commit
//   on their own (queue, push, admin sessions) keep the connection's default synchronous=FULL.
// - Nobody sees a commit before it is durable: the reads that expose mailbox contents to clients
//   (mailbox rows, message states and records, the journal) wait until every commit made before
//   the read began is synced (#visible), so a UID or MODSEQ a client saw cannot vanish in a power
//   loss and be handed out again.
// - Each message append, flag change and expunge takes the mailbox's next modseq (one per message);
//   expunges leave tombstones (uid, modseq); uid_next only grows.
// - UIDVALIDITY = max(creation time in seconds, the account's last UIDVALIDITY + 1), so a deleted
//   and re-created mailbox never gets an old one.
// - accounts.used_bytes and the mailbox counters change in the transaction that changes messages.
// - Change[] collected during a transaction are published on `feed` only after COMMIT, and a
//   rolled-back transaction publishes nothing. Other processes are told through feed.ts.
// - Addresses: domains are lower-case; account and alias lookups are case-insensitive on the
//   whole address (local part included), the account keeps the local part's spelling.
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import BetterSqlite3, { type Database, type Statement } from 'better-sqlite3';
import { BadCommand, Refused, errorMessage } from '../../shared/errors.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { randomText } from '../../shared/random.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { ChangeFeed, type Change } from '../changes.js';
import { sqliteMigrations } from '../migrations/sqlite.js';
import type { MessageIndex } from '../../mail/types.js';
import type {
  Account, AdminScope, Alias, AppendResult, CopyResult, Domain, DomainSettings, JournalEntry, Mailbox, MessageMeta, MessageRecord,
  MessageState, Network, NewMessage, NewQueuedMessage, QueuedMessage, QueueRecipientState, SpecialUse, Store,
  StoreFlagsOptions, StoreFlagsResult, MetadataEntry, MetadataTarget, MailboxSnapshot,
} from '../store.js';
import type { AppPassword, AppPasswordCredential } from '../store.js';
import { defaultDomainSettings } from '../store.js';
import { runsBetween, runsOf } from '../uid-runs.js';
import { SqliteBlobs, blobHash } from './blobs.js';
import { SqlitePushStore } from './push-store.js';
import { SqliteQueueStore } from './queue-store.js';
import { SqliteAdminSessionStore } from './admin-sessions.js';
import { FeedListener, feedSocketPath, notifyFeed, type MailboxRef } from './feed.js';
import {
  flagText, hasSeen, isKeyword, limits, normalizeAddress, normalizeAliasAddress, normalizeCidr, normalizeDomain,
  normalizeFlags, normalizeMailboxName, normalizeSpecialUse, parentNames, parseFlagText, checkAppPasswordInput, queuedDkimSign,
} from '../normalize.js';

export interface SqliteStoreOptions {
  /** Database file. */
  file: string;
  /** Folder for the feed socket (default: the database's folder). */
  dataDir?: string;
  /** Listen for other processes' change notifications (the serving process). */
  listen?: boolean;
  /** Socket path override (default dataDir/feed.sock, see feedSocketPath). */
  feedSocket?: string;
  logger?: Logger;
  clock?: Clock;
  /** busy_timeout in ms (default 10000). */
  busyTimeoutMs?: number;
}

/** Folders every new account gets (name, special use), all subscribed. */
const defaultMailboxes: Array<[string, SpecialUse | null]> = [
  ['INBOX', null], ['Sent', '\\Sent'], ['Drafts', '\\Drafts'], ['Trash', '\\Trash'], ['Junk', '\\Junk'], ['Archive', '\\Archive'],
];

interface DomainRow { id: number; name: string; created_at: number; push_enabled: number; push_details: number; push_allowed_hosts: string; enforce_sender: number }
interface AccountRow { id: number; email: string; domain_id: number; password_hash: string; quota: number; used_bytes: number; is_admin: number; admin_scope: AdminScope; created_at: number }
interface MailboxRow { id: number; account_id: number; name: string; uid_validity: number; uid_next: number; highest_modseq: number; special_use: string | null; created_at: number; message_count: number; total_size: number; unseen_count: number; subscribed: number }
interface MessageRow { id: number; mailbox_id: number; uid: number; modseq: number; flags: string; internal_date: number; save_date: number; size: number; blob_hash: string; email_id: string; thread_id: string; index_json?: string }
interface QueueMessageRow { id: number; sender: string; blob_hash: string; size: number; created_at: number; dsn_ret: 'FULL' | 'HDRS' | null; dsn_envid: string | null; account_id: number | null; dkim_sign: number }
interface QueueRecipientRow { message_id: number; address: string; notify: string; orcpt: string | null; state: QueueRecipientState; attempts: number; next_attempt_at: number; last_error: string | null }

const mailboxSelect = `SELECT m.id, m.account_id, m.name, m.uid_validity, m.uid_next, m.highest_modseq, m.special_use, m.created_at,
  m.message_count, m.total_size, m.unseen_count,
  EXISTS (SELECT 1 FROM subscriptions s WHERE s.account_id = m.account_id AND s.name = m.name) AS subscribed
  FROM mailboxes m`;
/** Writes per group-commit transaction (bounds the time the event loop is held). */
const maxBatch = 256;
/** WAL pages (4 KiB) after which a commit checkpoints; checkpoints sync, so fewer is cheaper. */
const walAutocheckpointPages = 4000;
interface LookupCache { version: number; domains: Map<string, Domain | null>; networks: Network[] | null }
/** How stale the domain/network cache may be with respect to other processes' commits. */
const crossProcessCheckMs = 100;
/** Bound on the domain cache (names looked up, found or not). */
const maxCachedDomains = 10_000;
const metaColumns = 'id, mailbox_id, uid, modseq, flags, internal_date, save_date, size, blob_hash, email_id, thread_id';

function toDomain(r: DomainRow): Domain {
  return {
    id: r.id, name: r.name, createdAt: r.created_at,
    settings: { pushEnabled: r.push_enabled === 1, pushDetails: r.push_details === 1, pushAllowedHosts: JSON.parse(r.push_allowed_hosts) as string[], enforceSender: r.enforce_sender === 1 },
  };
}
function toAccount(r: AccountRow): Account {
  return { id: r.id, email: r.email, domainId: r.domain_id, passwordHash: r.password_hash, quota: r.quota, usedBytes: r.used_bytes, isAdmin: r.is_admin === 1, adminScope: r.admin_scope, createdAt: r.created_at };
}
function toMailbox(r: MailboxRow): Mailbox {
  return {
    id: r.id, accountId: r.account_id, name: r.name, uidValidity: r.uid_validity, uidNext: r.uid_next, highestModseq: r.highest_modseq,
    specialUse: r.special_use as SpecialUse | null, subscribed: r.subscribed === 1, createdAt: r.created_at,
    messageCount: r.message_count, totalSize: r.total_size, unseenCount: r.unseen_count,
  };
}
function toMeta(r: MessageRow): MessageMeta {
  return {
    uid: r.uid, modseq: r.modseq, flags: parseFlagText(r.flags), mailboxId: r.mailbox_id, size: r.size, internalDate: r.internal_date,
    saveDate: r.save_date, blobHash: r.blob_hash, emailId: r.email_id, threadId: r.thread_id,
  };
}

function withLazyIndex(meta: MessageMeta, json: string): MessageRecord {
  let parsed: MessageIndex | undefined;
  return Object.defineProperty(meta, 'index', { enumerable: true, configurable: true, get: () => (parsed ??= JSON.parse(json) as MessageIndex) }) as MessageRecord;
}

function newObjectId(prefix: string): string {
  return prefix + randomText(12, 'base64url');
}

/** Messages of one thread share the id of their root Message-ID (References[0] ?? In-Reply-To ?? own). */
function threadIdFor(index: MessageIndex, emailId: string): string {
  const s = index.search;
  const pick = (text: string | undefined) => /<[^<>\s]+>/.exec(text ?? '')?.[0];
  const root = pick(s?.references) ?? pick(s?.inReplyTo) ?? pick(s?.messageId);
  return root ? 'T' + createHash('sha256').update(root.toLowerCase()).digest('base64url').slice(0, 16) : 'T' + emailId.slice(1);
}

function checkUids(uids: readonly number[]): number[] {
  if (!Array.isArray(uids)) throw new BadCommand('uids must be a list');
  const out = new Set<number>();
  for (const u of uids) {
    if (!Number.isSafeInteger(u) || u < 1 || u > 0xffffffff) throw new BadCommand(`invalid UID ${String(u)}`);
    out.add(u);
  }
  return [...out].sort((a, b) => a - b);
}

function checkScope(scope: AdminScope): AdminScope {
  if (scope !== 'domain' && scope !== 'server') throw new BadCommand('adminScope must be "domain" or "server"');
  return scope;
}

function checkId(id: number, what: string): void {
  if (!Number.isSafeInteger(id) || id < 1) throw new BadCommand(`invalid ${what} id`);
}

interface AppPasswordRow {
  id: number;
  account_id: number;
  name: string;
  lookup: string;
  password_hash: string;
  created_at: number;
  last_used_at: number | null;
}

function toAppPassword(r: AppPasswordRow): AppPassword {
  return { id: r.id, accountId: r.account_id, name: r.name, createdAt: r.created_at, lastUsedAt: r.last_used_at };
}

export class SqliteStore implements Store {
  readonly feed = new ChangeFeed();
  readonly driver = 'sqlite' as const;
  readonly push: SqlitePushStore;
  readonly queue: SqliteQueueStore;
  readonly adminSessions: SqliteAdminSessionStore;
  #db: Database;
  #blobs: SqliteBlobs;
  #stmts = new Map<string, Statement>();
  #tx: { immediate<T>(fn: () => T): T };
  #savepoint: <T>(fn: () => T) => T;
  #pending: Array<{ fn: (changes: Change[]) => unknown; resolve: (v: unknown) => void; reject: (e: unknown) => void }> = [];
  #flushScheduled = false;
  #closing = false;
  #logger: Logger;
  #clock: Clock;
  #socketPath: string;
  #listener: FeedListener | undefined;
  #pendingNotifies = new Set<Promise<void>>();
  #closed = false;
  /** The file whose fsync makes group commits durable (the WAL), and its descriptor once opened. */
  #walPath: string;
  #walFd: number | null = null;
  /** Group commits made (#committed) and made durable (#synced), counted; see #visible. */
  #committed = 0;
  #synced = 0;
  #syncing = false;
  /** Settles committed batches (resolve + publish) once an fsync covers them. */
  #awaitingSync: Array<{ upTo: number; settle: (error?: unknown) => void }> = [];
  #visibleWaiters: Array<{ upTo: number; resolve: () => void; reject: (e: unknown) => void }> = [];
  /** Set when an fsync failed: the store refuses further work (what reached the disk is unknown). */
  #failed: unknown = undefined;
  /**
   * Domains and My Networks, read on every SMTP command that names an address or opens a
   * connection, are kept in memory. The cache is dropped by every write batch of this connection
   * and whenever `PRAGMA data_version` shows another connection (the CLI, another process) committed.
   */
  #cache: LookupCache = { version: -1, domains: new Map(), networks: null };
  #cacheCheckedAt = -Infinity;

  private constructor(db: Database, options: SqliteStoreOptions) {
    this.#db = db;
    this.#logger = options.logger ?? silentLogger();
    this.#clock = options.clock ?? systemClock;
    this.#blobs = new SqliteBlobs(db);
    this.push = new SqlitePushStore(db);
    this.queue = new SqliteQueueStore(db);
    this.adminSessions = new SqliteAdminSessionStore(db);
    const run = db.transaction((fn: () => unknown) => fn());
    this.#tx = { immediate: <T>(fn: () => T) => run.immediate(fn) as T };
    // Called inside #tx, better-sqlite3 turns a transaction function into a SAVEPOINT.
    this.#savepoint = <T>(fn: () => T) => run(fn) as T;
    this.#socketPath = options.feedSocket ?? feedSocketPath(options.dataDir ?? path.dirname(options.file), options.file);
    this.#walPath = `${options.file}-wal`;
  }

  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    fs.mkdirSync(path.dirname(path.resolve(options.file)), { recursive: true });
    const db = new BetterSqlite3(options.file, { timeout: options.busyTimeoutMs ?? 10_000 });
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma(`wal_autocheckpoint = ${walAutocheckpointPages}`);
      db.pragma('foreign_keys = ON');
      // Truncate the WAL back to 64 MiB after checkpoints (a 50 MB message passes through it).
      db.pragma('journal_size_limit = 67108864');
      migrate(db, options.clock ?? systemClock);
    } catch (err) {
      db.close();
      throw err;
    }
    const store = new SqliteStore(db, options);
    if (options.listen) {
      store.#listener = await FeedListener.start(store.#socketPath, (refs) => store.#onRemote(refs), store.#logger);
    }
    return store;
  }

  /** The feed socket this store listens on or notifies. */
  get feedSocket(): string {
    return this.#socketPath;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Writes already issued still commit; then no more.
    while (this.#pending.length > 0 || this.#flushScheduled) await new Promise((r) => setImmediate(r));
    while (this.#syncing || this.#awaitingSync.length > 0) await new Promise((r) => setImmediate(r));
    this.#closed = true;
    this.#closing = true;
    await Promise.all([...this.#pendingNotifies]);
    await this.#listener?.close();
    // Closing checkpoints with the connection's synchronous=FULL.
    this.#db.close();
    if (this.#walFd !== null) fs.closeSync(this.#walFd);
    this.#walFd = null;
  }

  // ---- plumbing ----

  #stmt<R = unknown>(sql: string): Statement<unknown[], R> {
    let s = this.#stmts.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#stmts.set(sql, s);
    }
    return s as Statement<unknown[], R>;
  }

  #get<R>(sql: string, ...params: unknown[]): R | undefined {
    return this.#stmt<R>(sql).get(...params);
  }

  #all<R>(sql: string, ...params: unknown[]): R[] {
    return this.#stmt<R>(sql).all(...params);
  }

  #run(sql: string, ...params: unknown[]): BetterSqlite3.RunResult {
    return this.#stmt(sql).run(...params);
  }

  #open(): void {
    if (this.#closed) throw new Error('store is closed');
    if (this.#failed !== undefined) throw new Error(`store stopped after a failed fsync: ${errorMessage(this.#failed)}`);
  }

  /**
   * Resolves once every group commit made before this call is durable (at once when nothing is
   * waiting for an fsync). Reads that expose mailbox state to clients await it first.
   */
  #visible(): Promise<void> | undefined {
    if (this.#synced >= this.#committed) return undefined;
    const upTo = this.#committed;
    return new Promise<void>((resolve, reject) => this.#visibleWaiters.push({ upTo, resolve, reject }));
  }

  /** Starts an fsync of the WAL covering every commit so far, unless one is running (then the next one will). */
  #sync(): void {
    if (this.#syncing || this.#synced >= this.#committed) return;
    this.#syncing = true;
    const upTo = this.#committed;
    let fd: number;
    try {
      fd = this.#walDescriptor();
    } catch (err) {
      this.#syncDone(upTo, err);
      return;
    }
    fs.fsync(fd, (err) => this.#syncDone(upTo, err ?? undefined));
  }

  #syncDone(upTo: number, error: unknown): void {
    this.#syncing = false;
    if (error !== undefined) {
      // After a failed fsync the kernel may have dropped the dirty pages: what is on disk is
      // unknown, so nothing waiting is acknowledged and the store stops (restart to recover).
      this.#failed ??= error;
      this.#logger.error({ err: errorMessage(error) }, 'store: fsync of the WAL failed; refusing further work');
    } else this.#synced = Math.max(this.#synced, upTo);
    // Both lists are in commit order: the covered ones (all of them after a failure) lead.
    const covered = <T extends { upTo: number }>(list: T[]): T[] => {
      let n = 0;
      while (n < list.length && (error !== undefined || list[n]!.upTo <= upTo)) n++;
      return list.splice(0, n);
    };
    for (const w of covered(this.#awaitingSync)) w.settle(error);
    for (const w of covered(this.#visibleWaiters)) {
      if (error !== undefined) w.reject(error);
      else w.resolve();
    }
    if (this.#failed === undefined) this.#sync();
  }

  /** The WAL's descriptor, reopened if SQLite replaced the file. */
  #walDescriptor(): number {
    if (this.#walFd !== null && fs.fstatSync(this.#walFd).nlink === 0) {
      fs.closeSync(this.#walFd);
      this.#walFd = null;
    }
    this.#walFd ??= fs.openSync(this.#walPath, 'r');
    return this.#walFd;
  }

  /**
   * Runs fn inside a BEGIN IMMEDIATE transaction and resolves after COMMIT, then publishes its
   * changes. Group commit: writes issued in the same event-loop turn (concurrent SMTP sessions,
   * Promise.all) share one transaction and one fsync, each in its own SAVEPOINT so a refused write
   * (over quota…) rolls back alone and the others still commit.
   */
  #write<T>(fn: (changes: Change[]) => T): Promise<T> {
    this.#open();
    return new Promise<T>((resolve, reject) => {
      this.#pending.push({ fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        setImmediate(() => this.#flush());
      }
    });
  }

  #flush(): void {
    this.#flushScheduled = false;
    const batch = this.#pending.splice(0, maxBatch);
    if (this.#pending.length > 0) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
    if (batch.length === 0) return;
    if (this.#closing) {
      for (const op of batch) op.reject(new Error('store is closed'));
      return;
    }
    const outcomes: Array<{ ok: true; value: unknown; changes: Change[] } | { ok: false; error: unknown }> = [];
    try {
      // NORMAL: no fsync inside COMMIT; #sync makes the batch durable off the event loop.
      this.#stmt('PRAGMA synchronous = NORMAL').run();
      this.#tx.immediate(() => {
        for (const op of batch) {
          const changes: Change[] = [];
          try {
            const value = this.#savepoint(() => op.fn(changes));
            outcomes.push({ ok: true, value, changes });
          } catch (error) {
            // Some errors (disk full, I/O) make SQLite roll back the whole transaction: then
            // nothing of the batch holds, so fail it all rather than go on in autocommit mode.
            if (!this.#db.inTransaction) throw error;
            outcomes.push({ ok: false, error });
          }
        }
      });
    } catch (error) {
      // BEGIN or COMMIT failed (busy, disk full…): nothing of the batch is committed.
      for (const op of batch) op.reject(error);
      return;
    } finally {
      this.#stmt('PRAGMA synchronous = FULL').run();
    }
    this.#cache = { version: -1, domains: new Map(), networks: null };
    this.#cacheCheckedAt = -Infinity;
    const upTo = ++this.#committed;
    this.#awaitingSync.push({
      upTo,
      settle: (syncError) => {
        batch.forEach((op, i) => {
          const o = outcomes[i]!;
          if (syncError !== undefined) op.reject(syncError);
          else if (o.ok) {
            this.#publish(o.changes);
            op.resolve(o.value);
          } else op.reject(o.error);
        });
      },
    });
    this.#sync();
  }

  #publish(changes: Change[]): void {
    if (changes.length === 0) return;
    try {
      this.feed.publish(changes);
    } catch (err) {
      this.#logger.error({ err }, 'change feed listener threw');
    }
    if (this.#listener) return;
    const seen = new Set<string>();
    const refs: MailboxRef[] = [];
    for (const c of changes) {
      const key = `${c.accountId}:${c.mailboxId}`;
      if (seen.has(key)) continue;
      seen.add(key);
      refs.push({ accountId: c.accountId, mailboxId: c.mailboxId });
    }
    const p = notifyFeed(this.#socketPath, refs).finally(() => this.#pendingNotifies.delete(p));
    this.#pendingNotifies.add(p);
  }

  #onRemote(refs: MailboxRef[]): void {
    if (this.#closed) return;
    const changes: Change[] = refs.map((r) => ({ kind: 'mailbox-changed', accountId: r.accountId, mailboxId: r.mailboxId }));
    try {
      this.feed.publish(changes);
    } catch (err) {
      this.#logger.error({ err }, 'change feed listener threw');
    }
  }

  #now(): number {
    return this.#clock.now();
  }

  // ---- domains ----

  async addDomain(name: string): Promise<Domain> {
    const n = normalizeDomain(name);
    return this.#write(() => {
      if (this.#get('SELECT 1 FROM domains WHERE name = ?', n)) throw new Refused(`domain ${n} already exists`, 'ALREADYEXISTS');
      const id = Number(this.#run('INSERT INTO domains (name, created_at) VALUES (?, ?)', n, this.#now()).lastInsertRowid);
      return toDomain(this.#get<DomainRow>('SELECT * FROM domains WHERE id = ?', id)!);
    });
  }

  async getDomain(name: string): Promise<Domain | undefined> {
    this.#open();
    let n: string;
    try {
      n = normalizeDomain(name);
    } catch {
      return undefined;
    }
    const cache = this.#fresh();
    let d = cache.domains.get(n);
    if (d === undefined) {
      const r = this.#get<DomainRow>('SELECT * FROM domains WHERE name = ?', n);
      d = r ? toDomain(r) : null;
      if (cache.domains.size >= maxCachedDomains) cache.domains.clear();
      cache.domains.set(n, d);
    }
    return d === null ? undefined : { ...d, settings: { ...d.settings, pushAllowedHosts: [...d.settings.pushAllowedHosts] } };
  }

  /**
   * The domain/network cache, emptied first if another connection has committed since it was
   * filled. Asking SQLite costs a read transaction, so it is asked at most every
   * `crossProcessCheckMs`: a change made by another process (the CLI) is seen within that time.
   */
  #fresh(): LookupCache {
    const now = performance.now();
    if (now - this.#cacheCheckedAt >= crossProcessCheckMs) {
      this.#cacheCheckedAt = now;
      const version = this.#stmt<number>('PRAGMA data_version').pluck().get() as number;
      if (version !== this.#cache.version) this.#cache = { version, domains: new Map(), networks: null };
    }
    return this.#cache;
  }

  async listDomains(): Promise<Domain[]> {
    this.#open();
    return this.#all<DomainRow>('SELECT * FROM domains ORDER BY name').map(toDomain);
  }

  async removeDomain(name: string, options: { force?: boolean } = {}): Promise<void> {
    const n = normalizeDomain(name);
    await this.#write((changes) => {
      const d = this.#get<DomainRow>('SELECT * FROM domains WHERE name = ?', n);
      if (!d) throw new Refused(`domain ${n} does not exist`, 'NONEXISTENT');
      const accounts = this.#all<{ id: number }>('SELECT id FROM accounts WHERE domain_id = ?', d.id);
      if (accounts.length > 0 && !options.force) throw new Refused(`domain ${n} still has ${accounts.length} account(s)`, 'INUSE');
      for (const a of accounts) this.#removeAccountTx(a.id, changes);
      this.#run('DELETE FROM aliases WHERE domain = ?', n);
      this.#run('DELETE FROM domains WHERE id = ?', d.id);
    });
  }

  async updateDomainSettings(name: string, settings: Partial<DomainSettings>): Promise<Domain> {
    const n = normalizeDomain(name);
    const s = settings ?? {};
    if (s.pushAllowedHosts !== undefined && (!Array.isArray(s.pushAllowedHosts) || s.pushAllowedHosts.length > 100 || !s.pushAllowedHosts.every((h) => typeof h === 'string' && h.length > 0 && h.length <= 255))) {
      throw new BadCommand('pushAllowedHosts must be a list of at most 100 host names');
    }
    return this.#write(() => {
      const d = this.#get<DomainRow>('SELECT * FROM domains WHERE name = ?', n);
      if (!d) throw new Refused(`domain ${n} does not exist`, 'NONEXISTENT');
      const cur = toDomain(d).settings;
      const next = { ...defaultDomainSettings, ...cur };
      if (s.pushEnabled !== undefined) next.pushEnabled = Boolean(s.pushEnabled);
      if (s.pushDetails !== undefined) next.pushDetails = Boolean(s.pushDetails);
      if (s.enforceSender !== undefined) next.enforceSender = Boolean(s.enforceSender);
      if (s.pushAllowedHosts !== undefined) next.pushAllowedHosts = s.pushAllowedHosts.map((h) => h.toLowerCase());
      this.#run('UPDATE domains SET push_enabled = ?, push_details = ?, push_allowed_hosts = ?, enforce_sender = ? WHERE id = ?',
        next.pushEnabled ? 1 : 0, next.pushDetails ? 1 : 0, JSON.stringify(next.pushAllowedHosts), next.enforceSender ? 1 : 0, d.id);
      return toDomain(this.#get<DomainRow>('SELECT * FROM domains WHERE id = ?', d.id)!);
    });
  }

  // ---- accounts ----

  async createAccount(input: { email: string; passwordHash: string; quota?: number; isAdmin?: boolean; adminScope?: AdminScope }): Promise<Account> {
    const addr = normalizeAddress(input.email);
    if (typeof input.passwordHash !== 'string' || input.passwordHash.length > 1024) throw new BadCommand('invalid password hash');
    const quota = input.quota ?? 0;
    if (!Number.isSafeInteger(quota) || quota < 0) throw new BadCommand('quota must be a non-negative integer');
    const scope = checkScope(input.adminScope ?? 'server');
    return this.#write((changes) => {
      const d = this.#get<{ id: number }>('SELECT id FROM domains WHERE name = ?', addr.domain);
      if (!d) throw new Refused(`domain ${addr.domain} is not a local domain`, 'NONEXISTENT');
      if (this.#get('SELECT 1 FROM accounts WHERE email_key = ?', addr.key)) throw new Refused(`account ${addr.address} already exists`, 'ALREADYEXISTS');
      if (this.#get('SELECT 1 FROM aliases WHERE address = ?', addr.key)) throw new Refused(`${addr.address} is an alias`, 'ALREADYEXISTS');
      const now = this.#now();
      const id = Number(this.#run('INSERT INTO accounts (email, email_key, domain_id, password_hash, quota, is_admin, admin_scope, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        addr.address, addr.key, d.id, input.passwordHash, quota, input.isAdmin ? 1 : 0, scope, now).lastInsertRowid);
      for (const [name, specialUse] of defaultMailboxes) this.#createMailboxTx(id, name, specialUse, true, changes);
      return toAccount(this.#get<AccountRow>('SELECT * FROM accounts WHERE id = ?', id)!);
    });
  }

  async getAccount(id: number): Promise<Account | undefined> {
    this.#open();
    const r = this.#get<AccountRow>('SELECT * FROM accounts WHERE id = ?', id);
    return r && toAccount(r);
  }

  async getAccountByEmail(email: string): Promise<Account | undefined> {
    this.#open();
    let key: string;
    try {
      key = normalizeAddress(email).key;
    } catch {
      return undefined;
    }
    const r = this.#get<AccountRow>('SELECT * FROM accounts WHERE email_key = ?', key);
    return r && toAccount(r);
  }

  async listAccounts(domain?: string): Promise<Account[]> {
    this.#open();
    if (domain === undefined) return this.#all<AccountRow>('SELECT * FROM accounts ORDER BY email_key').map(toAccount);
    const n = normalizeDomain(domain);
    return this.#all<AccountRow>('SELECT a.* FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE d.name = ? ORDER BY a.email_key', n).map(toAccount);
  }

  async updateAccount(id: number, changes: { passwordHash?: string; quota?: number; isAdmin?: boolean; adminScope?: AdminScope }): Promise<Account> {
    checkId(id, 'account');
    if (changes.quota !== undefined && (!Number.isSafeInteger(changes.quota) || changes.quota < 0)) throw new BadCommand('quota must be a non-negative integer');
    if (changes.passwordHash !== undefined && (typeof changes.passwordHash !== 'string' || changes.passwordHash.length > 1024)) throw new BadCommand('invalid password hash');
    return this.#write(() => {
      const a = this.#get<AccountRow>('SELECT * FROM accounts WHERE id = ?', id);
      if (!a) throw new Refused(`account ${id} does not exist`, 'NONEXISTENT');
      this.#run('UPDATE accounts SET password_hash = ?, quota = ?, is_admin = ?, admin_scope = ? WHERE id = ?',
        changes.passwordHash ?? a.password_hash, changes.quota ?? a.quota, changes.isAdmin === undefined ? a.is_admin : changes.isAdmin ? 1 : 0,
        changes.adminScope === undefined ? a.admin_scope : checkScope(changes.adminScope), id);
      return toAccount(this.#get<AccountRow>('SELECT * FROM accounts WHERE id = ?', id)!);
    });
  }

  async removeAccount(id: number): Promise<void> {
    checkId(id, 'account');
    await this.#write((changes) => {
      if (!this.#get('SELECT 1 FROM accounts WHERE id = ?', id)) throw new Refused(`account ${id} does not exist`, 'NONEXISTENT');
      this.#removeAccountTx(id, changes);
    });
  }

  #removeAccountTx(id: number, changes: Change[]): void {
    for (const m of this.#all<{ id: number; name: string }>('SELECT id, name FROM mailboxes WHERE account_id = ?', id)) {
      this.#dropMailboxTx(m.id);
      changes.push({ kind: 'mailbox-deleted', accountId: id, mailboxId: m.id, name: m.name });
    }
    this.#run('DELETE FROM subscriptions WHERE account_id = ?', id);
    this.#run('DELETE FROM accounts WHERE id = ?', id);
  }

  // ---- app passwords ----

  async createAppPassword(input: { accountId: number; name: string; lookup: string; passwordHash: string }, limits: { maxPerAccount: number }): Promise<AppPassword> {
    checkId(input.accountId, 'account');
    checkAppPasswordInput(input);
    return this.#write(() => {
      if (!this.#get('SELECT 1 FROM accounts WHERE id = ?', input.accountId)) throw new Refused(`account ${input.accountId} does not exist`, 'NONEXISTENT');
      const count = this.#stmt<number>('SELECT count(*) FROM app_passwords WHERE account_id = ?').pluck().get(input.accountId) as number;
      if (count >= limits.maxPerAccount) throw new Refused(`the account already has ${count} app passwords (at most ${limits.maxPerAccount})`, 'LIMIT');
      if (this.#get('SELECT 1 FROM app_passwords WHERE account_id = ? AND lookup = ?', input.accountId, input.lookup)) throw new Refused('an app password with this lookup key exists', 'ALREADYEXISTS');
      const id = Number(this.#run('INSERT INTO app_passwords (account_id, name, lookup, password_hash, created_at) VALUES (?, ?, ?, ?, ?)',
        input.accountId, input.name, input.lookup, input.passwordHash, this.#now()).lastInsertRowid);
      return toAppPassword(this.#get<AppPasswordRow>('SELECT * FROM app_passwords WHERE id = ?', id)!);
    });
  }

  async listAppPasswords(accountId: number): Promise<AppPassword[]> {
    this.#open();
    return this.#all<AppPasswordRow>('SELECT * FROM app_passwords WHERE account_id = ? ORDER BY id', accountId).map(toAppPassword);
  }

  async removeAppPassword(accountId: number, id: number): Promise<boolean> {
    if (!Number.isSafeInteger(id) || id < 1) return false;
    return this.#write(() => this.#run('DELETE FROM app_passwords WHERE id = ? AND account_id = ?', id, accountId).changes > 0);
  }

  async appPasswordCredentials(accountId: number, lookup?: string): Promise<AppPasswordCredential[]> {
    this.#open();
    const list = lookup === undefined
      ? this.#all<AppPasswordRow>('SELECT * FROM app_passwords WHERE account_id = ? ORDER BY id', accountId)
      : this.#all<AppPasswordRow>('SELECT * FROM app_passwords WHERE account_id = ? AND lookup = ?', accountId, lookup);
    return list.map((r) => ({ ...toAppPassword(r), lookup: r.lookup, passwordHash: r.password_hash }));
  }

  async touchAppPassword(id: number, at: number): Promise<void> {
    await this.#write(() => void this.#run('UPDATE app_passwords SET last_used_at = ? WHERE id = ?', at, id));
  }

  // ---- aliases ----

  async addAlias(address: string, targets: string[]): Promise<Alias> {
    const a = normalizeAliasAddress(address);
    if (!Array.isArray(targets) || targets.length === 0) throw new BadCommand('an alias needs at least one target');
    if (targets.length > limits.aliasTargets) throw new BadCommand('too many alias targets');
    const list = [...new Set(targets.map((t) => normalizeAddress(t).address))];
    return this.#write(() => {
      if (!this.#get('SELECT 1 FROM domains WHERE name = ?', a.domain)) throw new Refused(`domain ${a.domain} is not a local domain`, 'NONEXISTENT');
      if (this.#get('SELECT 1 FROM aliases WHERE address = ?', a.address)) throw new Refused(`alias ${a.address} already exists`, 'ALREADYEXISTS');
      if (this.#get('SELECT 1 FROM accounts WHERE email_key = ?', a.address)) throw new Refused(`${a.address} is an account`, 'ALREADYEXISTS');
      const id = Number(this.#run('INSERT INTO aliases (address, domain, created_at) VALUES (?, ?, ?)', a.address, a.domain, this.#now()).lastInsertRowid);
      list.forEach((t, i) => this.#run('INSERT INTO alias_targets (alias_id, position, target) VALUES (?, ?, ?)', id, i, t));
      return { id, address: a.address, targets: list };
    });
  }

  async getAlias(address: string): Promise<Alias | undefined> {
    this.#open();
    let a: string;
    try {
      a = normalizeAliasAddress(address).address;
    } catch {
      return undefined;
    }
    const r = this.#get<{ id: number; address: string }>('SELECT id, address FROM aliases WHERE address = ?', a);
    return r && this.#aliasOf(r);
  }

  #aliasOf(r: { id: number; address: string }): Alias {
    const targets = this.#all<{ target: string }>('SELECT target FROM alias_targets WHERE alias_id = ? ORDER BY position', r.id).map((t) => t.target);
    return { id: r.id, address: r.address, targets };
  }

  async listAliases(domain?: string): Promise<Alias[]> {
    this.#open();
    const rows = domain === undefined
      ? this.#all<{ id: number; address: string }>('SELECT id, address FROM aliases ORDER BY address')
      : this.#all<{ id: number; address: string }>('SELECT id, address FROM aliases WHERE domain = ? ORDER BY address', normalizeDomain(domain));
    return rows.map((r) => this.#aliasOf(r));
  }

  async removeAlias(address: string): Promise<void> {
    const a = normalizeAliasAddress(address).address;
    await this.#write(() => {
      if (this.#run('DELETE FROM aliases WHERE address = ?', a).changes === 0) throw new Refused(`alias ${a} does not exist`, 'NONEXISTENT');
    });
  }

  // ---- networks ----

  async addNetwork(cidr: string, note = ''): Promise<Network> {
    const c = normalizeCidr(cidr);
    if (typeof note !== 'string' || note.length > 1000) throw new BadCommand('note too long');
    return this.#write(() => {
      if (this.#get('SELECT 1 FROM networks WHERE cidr = ?', c)) throw new Refused(`network ${c} already exists`, 'ALREADYEXISTS');
      const id = Number(this.#run('INSERT INTO networks (cidr, note, created_at) VALUES (?, ?, ?)', c, note, this.#now()).lastInsertRowid);
      return { id, cidr: c, note };
    });
  }

  async listNetworks(): Promise<Network[]> {
    this.#open();
    const cache = this.#fresh();
    cache.networks ??= this.#all<Network>('SELECT id, cidr, note FROM networks ORDER BY id');
    return cache.networks.map((n) => ({ ...n }));
  }

  async removeNetwork(cidr: string): Promise<void> {
    const c = normalizeCidr(cidr);
    await this.#write(() => {
      if (this.#run('DELETE FROM networks WHERE cidr = ?', c).changes === 0) throw new Refused(`network ${c} does not exist`, 'NONEXISTENT');
    });
  }

  // ---- mailboxes ----

  async listMailboxes(accountId: number): Promise<Mailbox[]> {
    this.#open();
    await this.#visible();
    return this.#all<MailboxRow>(`${mailboxSelect} WHERE m.account_id = ? ORDER BY m.name`, accountId).map(toMailbox);
  }

  async getMailbox(accountId: number, name: string): Promise<Mailbox | undefined> {
    this.#open();
    await this.#visible();
    let n: string;
    try {
      n = normalizeMailboxName(name);
    } catch {
      return undefined;
    }
    const r = this.#get<MailboxRow>(`${mailboxSelect} WHERE m.account_id = ? AND m.name = ?`, accountId, n);
    return r && toMailbox(r);
  }

  async getMailboxById(id: number): Promise<Mailbox | undefined> {
    this.#open();
    await this.#visible();
    const r = this.#get<MailboxRow>(`${mailboxSelect} WHERE m.id = ?`, id);
    return r && toMailbox(r);
  }

  /** Creates the mailbox and any missing superior names (RFC 9051 §6.3.4), those unsubscribed. */
  async createMailbox(accountId: number, name: string, options: { specialUse?: SpecialUse | null; subscribed?: boolean } = {}): Promise<Mailbox> {
    checkId(accountId, 'account');
    const n = normalizeMailboxName(name);
    const specialUse = normalizeSpecialUse(options.specialUse);
    return this.#write((changes) => {
      if (!this.#get('SELECT 1 FROM accounts WHERE id = ?', accountId)) throw new Refused(`account ${accountId} does not exist`, 'NONEXISTENT');
      if (this.#mailboxId(accountId, n) !== undefined) throw new Refused(`mailbox ${n} already exists`, 'ALREADYEXISTS');
      for (const parent of parentNames(n)) {
        if (this.#mailboxId(accountId, parent) === undefined) this.#createMailboxTx(accountId, parent, null, false, changes);
      }
      const id = this.#createMailboxTx(accountId, n, specialUse, options.subscribed ?? false, changes);
      return toMailbox(this.#get<MailboxRow>(`${mailboxSelect} WHERE m.id = ?`, id)!);
    });
  }

  #mailboxId(accountId: number, name: string): number | undefined {
    return this.#get<{ id: number }>('SELECT id FROM mailboxes WHERE account_id = ? AND name = ?', accountId, name)?.id;
  }

  #createMailboxTx(accountId: number, name: string, specialUse: SpecialUse | null, subscribed: boolean, changes: Change[]): number {
    const now = this.#now();
    const last = this.#get<{ v: number }>('SELECT last_uid_validity AS v FROM accounts WHERE id = ?', accountId)!.v;
    const uidValidity = Math.max(Math.floor(now / 1000), last + 1);
    if (uidValidity > 0xffffffff) throw new Refused('UIDVALIDITY space exhausted', 'LIMIT');
    this.#run('UPDATE accounts SET last_uid_validity = ? WHERE id = ?', uidValidity, accountId);
    const id = Number(this.#run('INSERT INTO mailboxes (account_id, name, uid_validity, special_use, created_at) VALUES (?, ?, ?, ?, ?)',
      accountId, name, uidValidity, specialUse, now).lastInsertRowid);
    if (subscribed) this.#run('INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)', accountId, name);
    changes.push({ kind: 'mailbox-created', accountId, mailboxId: id, name });
    return id;
  }

  #mailboxRow(id: number): MailboxRow {
    const r = this.#get<MailboxRow>(`${mailboxSelect} WHERE m.id = ?`, id);
    if (!r) throw new Refused(`mailbox ${id} does not exist`, 'NONEXISTENT');
    return r;
  }

  async deleteMailbox(id: number): Promise<void> {
    checkId(id, 'mailbox');
    await this.#write((changes) => {
      const m = this.#mailboxRow(id);
      if (m.name === 'INBOX') throw new Refused('INBOX cannot be deleted', 'CANNOT');
      this.#dropMailboxTx(id);
      changes.push({ kind: 'mailbox-deleted', accountId: m.account_id, mailboxId: id, name: m.name });
    });
  }

  /** Removes a mailbox with its messages, releasing blobs and quota. Subscriptions stay (RFC 9051 §6.3.9). */
  #dropMailboxTx(id: number): void {
    const m = this.#get<{ account_id: number; total_size: number }>('SELECT account_id, total_size FROM mailboxes WHERE id = ?', id)!;
    for (const b of this.#all<{ blob_hash: string; n: number }>('SELECT blob_hash, COUNT(*) AS n FROM messages WHERE mailbox_id = ? GROUP BY blob_hash', id)) {
      // Delete the rows first so the blob can go when its count reaches 0.
      this.#run('DELETE FROM messages WHERE mailbox_id = ? AND blob_hash = ?', id, b.blob_hash);
      this.#blobs.release(b.blob_hash, b.n);
    }
    this.#run('UPDATE accounts SET used_bytes = used_bytes - ? WHERE id = ?', m.total_size, m.account_id);
    this.#run('DELETE FROM tombstones WHERE mailbox_id = ?', id);
    this.#run('DELETE FROM mailbox_keywords WHERE mailbox_id = ?', id);
    this.#run('DELETE FROM mailboxes WHERE id = ?', id);
  }

  async renameMailbox(id: number, newName: string): Promise<void> {
    checkId(id, 'mailbox');
    const to = normalizeMailboxName(newName);
    await this.#write((changes) => {
      const m = this.#mailboxRow(id);
      const acct = m.account_id;
      if (to === m.name) throw new Refused(`mailbox ${to} already exists`, 'ALREADYEXISTS');
      if (this.#mailboxId(acct, to) !== undefined) throw new Refused(`mailbox ${to} already exists`, 'ALREADYEXISTS');
      if (m.name === 'INBOX') {
        // RFC 9051 §6.3.6: messages move to a new mailbox; INBOX stays, empty; its children stay.
        for (const parent of parentNames(to)) {
          if (this.#mailboxId(acct, parent) === undefined) this.#createMailboxTx(acct, parent, null, false, changes);
        }
        const target = this.#createMailboxTx(acct, to, null, false, changes);
        const uids = this.#all<{ uid: number }>('SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid', id).map((r) => r.uid);
        this.#copyTx(id, uids, target, true, changes);
        return;
      }
      if (to.startsWith(`${m.name}/`)) throw new Refused('cannot rename a mailbox into itself', 'CANNOT');
      const children = this.#all<{ id: number; name: string }>(
        "SELECT id, name FROM mailboxes WHERE account_id = ? AND substr(name, 1, ?) = ? ORDER BY name", acct, m.name.length + 1, `${m.name}/`);
      const moves = [{ id, name: m.name }, ...children].map((c) => ({ id: c.id, from: c.name, to: to + c.name.slice(m.name.length) }));
      for (const mv of moves.slice(1)) {
        if (this.#mailboxId(acct, mv.to) !== undefined) throw new Refused(`mailbox ${mv.to} already exists`, 'ALREADYEXISTS');
      }
      for (const parent of parentNames(to)) {
        if (this.#mailboxId(acct, parent) === undefined) this.#createMailboxTx(acct, parent, null, false, changes);
      }
      for (const mv of moves) {
        this.#run('UPDATE mailboxes SET name = ? WHERE id = ?', mv.to, mv.id);
        // Subscriptions follow the mailbox (what clients expect; RFC 9051 leaves it to the server).
        if (this.#run('DELETE FROM subscriptions WHERE account_id = ? AND name = ?', acct, mv.from).changes > 0) {
          this.#run('INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)', acct, mv.to);
        }
        changes.push({ kind: 'mailbox-renamed', accountId: acct, mailboxId: mv.id, name: mv.to, oldName: mv.from });
      }
    });
  }

  async setSubscribed(accountId: number, name: string, subscribed: boolean): Promise<void> {
    checkId(accountId, 'account');
    const n = normalizeMailboxName(name);
    await this.#write((changes) => {
      if (!this.#get('SELECT 1 FROM accounts WHERE id = ?', accountId)) throw new Refused(`account ${accountId} does not exist`, 'NONEXISTENT');
      const r = subscribed
        ? this.#run('INSERT OR IGNORE INTO subscriptions (account_id, name) VALUES (?, ?)', accountId, n)
        : this.#run('DELETE FROM subscriptions WHERE account_id = ? AND name = ?', accountId, n);
      if (r.changes > 0) changes.push({ kind: 'subscription-changed', accountId, mailboxId: this.#mailboxId(accountId, n) ?? 0, name: n, subscribed });
    });
  }

  async mailboxAccessKey(mailboxId: number): Promise<Buffer> {
    checkId(mailboxId, 'mailbox');
    return this.#write(() => {
      const mb = this.#get<{ account_id: number; uid_validity: number }>('SELECT account_id, uid_validity FROM mailboxes WHERE id = ?', mailboxId);
      if (!mb) throw new Refused(`mailbox ${mailboxId} does not exist`, 'NONEXISTENT');
      const r = this.#get<{ key: Buffer; uid_validity: number; account_id: number }>('SELECT key, uid_validity, account_id FROM urlauth_keys WHERE mailbox_id = ?', mailboxId);
      if (r && r.uid_validity === mb.uid_validity && r.account_id === mb.account_id) return Buffer.from(r.key);
      const key = randomBytes(32);
      this.#run('INSERT OR REPLACE INTO urlauth_keys (mailbox_id, account_id, uid_validity, key) VALUES (?, ?, ?, ?)', mailboxId, mb.account_id, mb.uid_validity, key);
      return key;
    });
  }

  async resetMailboxAccessKeys(accountId: number, mailboxId?: number): Promise<void> {
    checkId(accountId, 'account');
    await this.#write(() => {
      if (mailboxId === undefined) this.#run('DELETE FROM urlauth_keys WHERE account_id = ?', accountId);
      else this.#run('DELETE FROM urlauth_keys WHERE account_id = ? AND mailbox_id = ?', accountId, mailboxId);
    });
  }

  /** The (mailbox_id, uid_validity) a METADATA target is stored under; 0, 0 for the server. */
  #metadataKey(target: MetadataTarget): { mailboxId: number; uidValidity: number } | undefined {
    if (target.mailboxId === null) return { mailboxId: 0, uidValidity: 0 };
    const mb = this.#get<{ uid_validity: number }>('SELECT uid_validity FROM mailboxes WHERE id = ? AND account_id = ?', target.mailboxId, target.accountId);
    return mb && { mailboxId: target.mailboxId, uidValidity: mb.uid_validity };
  }

  async getMetadata(target: MetadataTarget): Promise<MetadataEntry[]> {
    this.#open();
    const key = this.#metadataKey(target);
    if (!key) return [];
    return this.#all<{ name: string; value: Buffer }>(
      'SELECT name, value FROM metadata WHERE account_id = ? AND mailbox_id = ? AND uid_validity = ? ORDER BY name',
      target.accountId,
      key.mailboxId,
      key.uidValidity,
    ).map((r) => ({ name: r.name, value: Buffer.from(r.value) }));
  }

  async setMetadata(target: MetadataTarget, entries: Array<{ name: string; value: Buffer | null }>, limits: { maxEntries: number; maxBytes: number }): Promise<void> {
    checkId(target.accountId, 'account');
    await this.#write(() => {
      const key = this.#metadataKey(target);
      if (!key) throw new Refused('mailbox does not exist', 'NONEXISTENT');
      // Rows left by an older mailbox with this id (another UIDVALIDITY) go first.
      this.#run('DELETE FROM metadata WHERE account_id = ? AND mailbox_id = ? AND uid_validity <> ?', target.accountId, key.mailboxId, key.uidValidity);
      for (const e of entries) {
        const name = e.name.toLowerCase();
        if (e.value === null) this.#run('DELETE FROM metadata WHERE account_id = ? AND mailbox_id = ? AND name = ?', target.accountId, key.mailboxId, name);
        else this.#run('INSERT OR REPLACE INTO metadata (account_id, mailbox_id, uid_validity, name, value) VALUES (?, ?, ?, ?, ?)', target.accountId, key.mailboxId, key.uidValidity, name, e.value);
      }
      const t = this.#get<{ n: number; bytes: number | null }>('SELECT COUNT(*) AS n, SUM(LENGTH(value)) AS bytes FROM metadata WHERE account_id = ? AND mailbox_id = ?', target.accountId, key.mailboxId)!;
      if (t.n > limits.maxEntries || (t.bytes ?? 0) > limits.maxBytes) throw new Refused('too many metadata entries', 'LIMIT');
    });
  }

  async listSubscriptions(accountId: number): Promise<string[]> {
    this.#open();
    return this.#all<{ name: string }>('SELECT name FROM subscriptions WHERE account_id = ? ORDER BY name', accountId).map((r) => r.name);
  }

  // ---- messages ----

  /** Keywords take the spelling first seen in the mailbox (case-insensitive equality). */
  #canonicalFlags(mailboxId: number, flags: string[]): string[] {
    if (!flags.some(isKeyword)) return flags;
    return flags.map((f) => {
      if (!isKeyword(f)) return f;
      this.#run('INSERT OR IGNORE INTO mailbox_keywords (mailbox_id, keyword) VALUES (?, ?)', mailboxId, f);
      return this.#get<{ keyword: string }>('SELECT keyword FROM mailbox_keywords WHERE mailbox_id = ? AND keyword = ?', mailboxId, f)!.keyword;
    });
  }

  #checkQuota(accountId: number, adding: number): void {
    if (adding <= 0) return;
    const a = this.#get<{ quota: number; used_bytes: number }>('SELECT quota, used_bytes FROM accounts WHERE id = ?', accountId)!;
    if (a.quota > 0 && a.used_bytes + adding > a.quota) {
      throw new Refused(`quota exceeded (${a.used_bytes} + ${adding} > ${a.quota} bytes)`, 'OVERQUOTA');
    }
  }

  async appendMessage(mailboxId: number, message: NewMessage): Promise<AppendResult> {
    checkId(mailboxId, 'mailbox');
    if (!Buffer.isBuffer(message?.raw)) throw new BadCommand('message bytes missing');
    if (!message.index || typeof message.index !== 'object') throw new BadCommand('message index missing');
    const flags = normalizeFlags(message.flags);
    const internalDate = message.internalDate ?? this.#now();
    if (!Number.isSafeInteger(internalDate)) throw new BadCommand('invalid internal date');
    const raw = message.raw;
    const hash = blobHash(raw);
    const indexJson = JSON.stringify(message.index);
    const emailId = newObjectId('M');
    const threadId = threadIdFor(message.index, emailId);
    return this.#write((changes) => {
      const m = this.#get<{ account_id: number; uid_next: number; highest_modseq: number; uid_validity: number }>(
        'SELECT account_id, uid_next, highest_modseq, uid_validity FROM mailboxes WHERE id = ?', mailboxId);
      if (!m) throw new Refused(`mailbox ${mailboxId} does not exist`, 'NONEXISTENT');
      this.#checkQuota(m.account_id, raw.length);
      const now = this.#now();
      this.#blobs.add(hash, raw, now);
      const stored = this.#canonicalFlags(mailboxId, flags);
      const uid = m.uid_next;
      const modseq = m.highest_modseq + 1;
      this.#run(`INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, save_date, size, blob_hash, email_id, thread_id, index_json)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, mailboxId, uid, modseq, flagText(stored), internalDate, now, raw.length, hash, emailId, threadId, indexJson);
      this.#run(`UPDATE mailboxes SET uid_next = ?, highest_modseq = ?, message_count = message_count + 1, total_size = total_size + ?,
        unseen_count = unseen_count + ? WHERE id = ?`, uid + 1, modseq, raw.length, hasSeen(stored) ? 0 : 1, mailboxId);
      this.#run('UPDATE accounts SET used_bytes = used_bytes + ? WHERE id = ?', raw.length, m.account_id);
      changes.push({ kind: 'message-added', accountId: m.account_id, mailboxId, uid, modseq });
      return { mailboxId, uidValidity: m.uid_validity, uid, modseq };
    });
  }

  async listMessageStates(mailboxId: number): Promise<MessageState[]> {
    this.#open();
    await this.#visible();
    return this.#all<{ uid: number; modseq: number; flags: string }>('SELECT uid, modseq, flags FROM messages WHERE mailbox_id = ? ORDER BY uid', mailboxId)
      .map((r) => ({ uid: r.uid, modseq: r.modseq, flags: parseFlagText(r.flags) }));
  }

  #rows(mailboxId: number, uids: number[], withIndex: boolean): MessageRow[] {
    if (uids.length === 0) return [];
    const cols = withIndex ? `${metaColumns}, index_json` : metaColumns;
    if (uids.length === 1) return this.#all<MessageRow>(`SELECT ${cols} FROM messages WHERE mailbox_id = ? AND uid = ?`, mailboxId, uids[0]);
    return this.#all<MessageRow>(`SELECT ${cols} FROM messages WHERE mailbox_id = ? AND uid IN (SELECT value FROM json_each(?)) ORDER BY uid`,
      mailboxId, JSON.stringify(uids));
  }

  /** Records in UID order. `index` is parsed from its JSON on first access only, so callers that
   *  pass `index: false` (FLAGS-only FETCH) pay nothing for it; the option itself is not needed. */
  async getMessages(mailboxId: number, uids: number[], options: { index?: boolean } = {}): Promise<MessageRecord[]> {
    this.#open();
    return this.#rows(mailboxId, checkUids(uids), true).map((r) => withLazyIndex(toMeta(r), r.index_json!));
  }

  async getMessageMeta(mailboxId: number, uids: number[]): Promise<MessageMeta[]> {
    this.#open();
    return this.#rows(mailboxId, checkUids(uids), false).map(toMeta);
  }

  async readBlob(hash: string, range?: { start: number; end: number }): Promise<Buffer> {
    this.#open();
    return this.#blobs.read(hash, range);
  }

  async storeFlags(mailboxId: number, uids: number[], options: StoreFlagsOptions): Promise<StoreFlagsResult> {
    checkId(mailboxId, 'mailbox');
    const list = checkUids(uids);
    const flags = normalizeFlags(options.flags);
    if (!['add', 'remove', 'replace'].includes(options.mode)) throw new BadCommand('invalid flag mode');
    const since = options.unchangedSince;
    if (since !== undefined && (!Number.isSafeInteger(since) || since < 0)) throw new BadCommand('invalid UNCHANGEDSINCE');
    return this.#write((changes) => {
      const m = this.#get<{ account_id: number; highest_modseq: number }>('SELECT account_id, highest_modseq FROM mailboxes WHERE id = ?', mailboxId);
      if (!m) throw new Refused(`mailbox ${mailboxId} does not exist`, 'NONEXISTENT');
      const given = this.#canonicalFlags(mailboxId, flags);
      const givenKeys = new Set(given.map((f) => f.toLowerCase()));
      const updated: MessageState[] = [];
      const modified: number[] = [];
      let modseq = m.highest_modseq;
      let unseenDelta = 0;
      for (const r of this.#rows(mailboxId, list, false)) {
        if (since !== undefined && r.modseq > since) {
          modified.push(r.uid);
          continue;
        }
        const before = parseFlagText(r.flags);
        let after: string[];
        if (options.mode === 'replace') after = given;
        else if (options.mode === 'remove') after = before.filter((f) => !givenKeys.has(f.toLowerCase()));
        else {
          const have = new Set(before.map((f) => f.toLowerCase()));
          after = [...before, ...given.filter((f) => !have.has(f.toLowerCase()))];
        }
        const same = after.length === before.length && after.every((f) => before.includes(f));
        if (same) continue;
        modseq += 1;
        this.#run('UPDATE messages SET flags = ?, modseq = ? WHERE id = ?', flagText(after), modseq, r.id);
        unseenDelta += (hasSeen(after) ? 0 : 1) - (hasSeen(before) ? 0 : 1);
        updated.push({ uid: r.uid, modseq, flags: after });
        changes.push({ kind: 'flags-changed', accountId: m.account_id, mailboxId, uid: r.uid, modseq });
      }
      if (modseq !== m.highest_modseq) {
        this.#run('UPDATE mailboxes SET highest_modseq = ?, unseen_count = unseen_count + ? WHERE id = ?', modseq, unseenDelta, mailboxId);
      }
      return { updated, modified };
    });
  }

  async expunge(mailboxId: number, uids: number[]): Promise<number[]> {
    checkId(mailboxId, 'mailbox');
    const list = checkUids(uids);
    return this.#write((changes) => {
      const m = this.#get<{ account_id: number; highest_modseq: number }>('SELECT account_id, highest_modseq FROM mailboxes WHERE id = ?', mailboxId);
      if (!m) throw new Refused(`mailbox ${mailboxId} does not exist`, 'NONEXISTENT');
      return this.#expungeTx(mailboxId, m.account_id, this.#rows(mailboxId, list, false), changes);
    });
  }

  #expungeTx(mailboxId: number, accountId: number, rows: MessageRow[], changes: Change[]): number[] {
    if (rows.length === 0) return [];
    let modseq = this.#get<{ h: number }>('SELECT highest_modseq AS h FROM mailboxes WHERE id = ?', mailboxId)!.h;
    let size = 0;
    let unseen = 0;
    const out: number[] = [];
    for (const r of rows) {
      modseq += 1;
      this.#run('DELETE FROM messages WHERE id = ?', r.id);
      this.#run('INSERT OR REPLACE INTO tombstones (mailbox_id, uid, modseq) VALUES (?, ?, ?)', mailboxId, r.uid, modseq);
      this.#blobs.release(r.blob_hash);
      size += r.size;
      if (!hasSeen(parseFlagText(r.flags))) unseen += 1;
      out.push(r.uid);
      changes.push({ kind: 'message-expunged', accountId, mailboxId, uid: r.uid, modseq });
    }
    this.#run('UPDATE mailboxes SET highest_modseq = ?, message_count = message_count - ?, total_size = total_size - ?, unseen_count = unseen_count - ? WHERE id = ?',
      modseq, rows.length, size, unseen, mailboxId);
    this.#run('UPDATE accounts SET used_bytes = used_bytes - ? WHERE id = ?', size, accountId);
    return out;
  }

  async copyMessages(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    checkId(fromMailboxId, 'mailbox');
    checkId(toMailboxId, 'mailbox');
    const list = checkUids(uids);
    return this.#write((changes) => this.#copyTx(fromMailboxId, list, toMailboxId, false, changes));
  }

  async moveMessages(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    checkId(fromMailboxId, 'mailbox');
    checkId(toMailboxId, 'mailbox');
    const list = checkUids(uids);
    return this.#write((changes) => this.#copyTx(fromMailboxId, list, toMailboxId, true, changes));
  }

  /** COPY, or MOVE (RFC 6851: copy then expunge, one transaction; the EMAILID is kept). */
  #copyTx(fromId: number, uids: number[], toId: number, move: boolean, changes: Change[]): CopyResult {
    const src = this.#get<{ account_id: number }>('SELECT account_id FROM mailboxes WHERE id = ?', fromId);
    if (!src) throw new Refused(`mailbox ${fromId} does not exist`, 'NONEXISTENT');
    const dst = this.#get<{ account_id: number; uid_next: number; highest_modseq: number; uid_validity: number }>(
      'SELECT account_id, uid_next, highest_modseq, uid_validity FROM mailboxes WHERE id = ?', toId);
    if (!dst) throw new Refused(`mailbox ${toId} does not exist`, 'NONEXISTENT');
    const rows = this.#rows(fromId, uids, false);
    const total = rows.reduce((s, r) => s + r.size, 0);
    if (!(move && src.account_id === dst.account_id)) this.#checkQuota(dst.account_id, total);
    const now = this.#now();
    let uid = dst.uid_next;
    let modseq = dst.highest_modseq;
    let unseen = 0;
    const mapping: CopyResult['mapping'] = [];
    for (const r of rows) {
      const flags = this.#canonicalFlags(toId, parseFlagText(r.flags));
      modseq += 1;
      this.#run(`INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, save_date, size, blob_hash, email_id, thread_id, index_json)
        SELECT ?, ?, ?, ?, internal_date, ?, size, blob_hash, ?, thread_id, index_json FROM messages WHERE id = ?`,
        toId, uid, modseq, flagText(flags), now, r.email_id /* RFC 8474 §5.1: a copy or move keeps the EMAILID */, r.id);
      this.#blobs.addRef(r.blob_hash);
      if (!hasSeen(flags)) unseen += 1;
      mapping.push({ from: r.uid, to: uid });
      changes.push({ kind: 'message-added', accountId: dst.account_id, mailboxId: toId, uid, modseq });
      uid += 1;
    }
    if (rows.length > 0) {
      this.#run(`UPDATE mailboxes SET uid_next = ?, highest_modseq = ?, message_count = message_count + ?, total_size = total_size + ?,
        unseen_count = unseen_count + ? WHERE id = ?`, uid, modseq, rows.length, total, unseen, toId);
      this.#run('UPDATE accounts SET used_bytes = used_bytes + ? WHERE id = ?', total, dst.account_id);
      if (move) this.#expungeTx(fromId, src.account_id, rows, changes);
    }
    return { uidValidity: dst.uid_validity, mapping };
  }

  async changesSince(mailboxId: number, modseq: number): Promise<JournalEntry> {
    this.#open();
    await this.#visible();
    if (!Number.isSafeInteger(modseq) || modseq < 0) throw new BadCommand('invalid modseq');
    const m = this.#get<{ highest_modseq: number }>('SELECT highest_modseq FROM mailboxes WHERE id = ?', mailboxId);
    if (!m) throw new Refused(`mailbox ${mailboxId} does not exist`, 'NONEXISTENT');
    // One read transaction so the three reads agree.
    return this.#db.transaction(() => {
      const h = this.#get<{ highest_modseq: number }>('SELECT highest_modseq FROM mailboxes WHERE id = ?', mailboxId)!.highest_modseq;
      // Sorted here: with ORDER BY uid the planner scans the whole mailbox in UID order instead of
      // reading the few changed rows through messages_modseq.
      const changed = this.#all<{ uid: number; modseq: number; flags: string }>(
        'SELECT uid, modseq, flags FROM messages WHERE mailbox_id = ? AND modseq > ?', mailboxId, modseq)
        .map((r) => ({ uid: r.uid, modseq: r.modseq, flags: parseFlagText(r.flags) }))
        .sort((a, b) => a.uid - b.uid);
      const expunged = this.#all<{ uid: number }>('SELECT uid FROM tombstones WHERE mailbox_id = ? AND modseq > ? ORDER BY uid', mailboxId, modseq).map((r) => r.uid);
      return { highestModseq: h, changed, expunged };
    }).deferred();
  }

  async claimRecent(mailboxId: number): Promise<number[]> {
    checkId(mailboxId, 'mailbox');
    return this.#write(() => {
      const m = this.#get<{ recent_uid: number; uid_next: number }>('SELECT recent_uid, uid_next FROM mailboxes WHERE id = ?', mailboxId);
      if (!m) throw new Refused(`mailbox ${mailboxId} does not exist`, 'NONEXISTENT');
      if (m.recent_uid >= m.uid_next - 1) return [];
      const uids = this.#all<{ uid: number }>('SELECT uid FROM messages WHERE mailbox_id = ? AND uid > ? ORDER BY uid', mailboxId, m.recent_uid).map((r) => r.uid);
      this.#run('UPDATE mailboxes SET recent_uid = ? WHERE id = ?', m.uid_next - 1, mailboxId);
      return uids;
    });
  }

  async mailboxSnapshot(mailboxId: number): Promise<MailboxSnapshot | undefined> {
    this.#open();
    await this.#visible();
    // One read transaction, so the counters, the UIDs and the first unseen message agree.
    return this.#db.transaction(() => {
      const r = this.#get<MailboxRow>(`${mailboxSelect} WHERE m.id = ?`, mailboxId);
      if (!r) return undefined;
      const recentUid = this.#get<{ recent_uid: number }>('SELECT recent_uid FROM mailboxes WHERE id = ?', mailboxId)!.recent_uid;
      const firstUnseen = r.unseen_count === 0 ? undefined : this.#get<{ uid: number }>(
        // Named: without statistics the planner would rather walk messages_state until a match.
        `SELECT uid FROM messages INDEXED BY messages_unseen WHERE mailbox_id = ? AND instr(' ' || flags || ' ', ' \\Seen ') = 0 ORDER BY uid LIMIT 1`, mailboxId);
      const keywords = this.#all<{ keyword: string }>('SELECT keyword FROM mailbox_keywords WHERE mailbox_id = ?', mailboxId).map((k) => k.keyword).sort();
      return {
        mailbox: toMailbox(r),
        uidRuns: this.#uidRuns(mailboxId, r.uid_next, r.message_count),
        firstUnseenUid: firstUnseen?.uid ?? 0,
        keywords,
        recentPending: recentUid < r.uid_next - 1,
      };
    }).deferred();
  }

  /**
   * The present UIDs as runs. Every UID below uid_next was given to one message, which is present
   * or left a tombstone; so when uid_next - 1 - tombstones = message_count, the runs are the gaps
   * between tombstones, read without touching the messages. Otherwise (more tombstones than
   * messages, or data that breaks the rule) the messages' UIDs are read.
   */
  #uidRuns(mailboxId: number, uidNext: number, count: number): Array<[number, number]> {
    if (count === 0) return [];
    const gaps = this.#all<{ uid: number }>('SELECT uid FROM tombstones WHERE mailbox_id = ? ORDER BY uid LIMIT ?', mailboxId, count + 1).map((r) => r.uid);
    if (gaps.length <= count && uidNext - 1 - gaps.length === count) return runsBetween(gaps, uidNext - 1);
    return runsOf(this.#all<{ uid: number }>('SELECT uid FROM messages WHERE mailbox_id = ? ORDER BY uid', mailboxId).map((r) => r.uid));
  }

  // ---- outbound queue ----

  async enqueueMessage(message: NewQueuedMessage): Promise<QueuedMessage> {
    if (!Buffer.isBuffer(message?.raw)) throw new BadCommand('message bytes missing');
    if (typeof message.sender !== 'string' || message.sender.length > limits.addressLength * 4) throw new BadCommand('invalid sender');
    if (message.sender !== '') normalizeAddress(message.sender);
    if (!Array.isArray(message.recipients) || message.recipients.length === 0) throw new BadCommand('no recipients');
    if (message.recipients.length > limits.queueRecipients) throw new BadCommand('too many recipients');
    for (const r of message.recipients) {
      normalizeAddress(r.address);
      if (!Array.isArray(r.notify) || r.notify.length > 4 || r.notify.some((n) => !/^[A-Z]{1,10}$/i.test(n))) throw new BadCommand('invalid NOTIFY');
      if (r.orcpt !== null && (typeof r.orcpt !== 'string' || r.orcpt.length > 1000)) throw new BadCommand('invalid ORCPT');
    }
    if (message.dsnRet !== null && message.dsnRet !== 'FULL' && message.dsnRet !== 'HDRS') throw new BadCommand('invalid RET');
    if (message.dsnEnvid !== null && (typeof message.dsnEnvid !== 'string' || message.dsnEnvid.length > 100)) throw new BadCommand('invalid ENVID');
    const dkimSign = queuedDkimSign(message);
    const hash = blobHash(message.raw);
    const id = await this.#write(() => {
      const now = this.#now();
      this.#blobs.add(hash, message.raw, now);
      const qid = Number(this.#run('INSERT INTO queue_messages (sender, blob_hash, size, created_at, dsn_ret, dsn_envid, account_id, dkim_sign) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
        message.sender, hash, message.raw.length, now, message.dsnRet, message.dsnEnvid, message.accountId, dkimSign ? 1 : 0).lastInsertRowid);
      for (const r of message.recipients) {
        this.#run('INSERT INTO queue_recipients (message_id, address, notify, orcpt, next_attempt_at) VALUES (?, ?, ?, ?, ?)',
          qid, r.address, r.notify.map((n) => n.toUpperCase()).join(','), r.orcpt, now);
      }
      return qid;
    });
    return (await this.getQueuedMessage(id))!;
  }

  #queued(rows: QueueMessageRow[]): QueuedMessage[] {
    if (rows.length === 0) return [];
    const recips = this.#all<QueueRecipientRow>(
      'SELECT message_id, address, notify, orcpt, state, attempts, next_attempt_at, last_error FROM queue_recipients WHERE message_id IN (SELECT value FROM json_each(?)) ORDER BY id',
      JSON.stringify(rows.map((r) => r.id)));
    const byMessage = new Map<number, QueuedMessage['recipients']>();
    for (const r of recips) {
      let list = byMessage.get(r.message_id);
      if (!list) byMessage.set(r.message_id, (list = []));
      list.push({ address: r.address, notify: r.notify === '' ? [] : r.notify.split(','), orcpt: r.orcpt, state: r.state, attempts: r.attempts, nextAttemptAt: r.next_attempt_at, lastError: r.last_error });
    }
    return rows.map((r) => ({
      id: r.id, sender: r.sender, blobHash: r.blob_hash, size: r.size, createdAt: r.created_at, dsnRet: r.dsn_ret, dsnEnvid: r.dsn_envid,
      accountId: r.account_id, dkimSign: r.dkim_sign === 1, recipients: byMessage.get(r.id) ?? [],
    }));
  }

  async listQueue(): Promise<QueuedMessage[]> {
    this.#open();
    return this.#queued(this.#all<QueueMessageRow>('SELECT * FROM queue_messages ORDER BY id'));
  }

  async getQueuedMessage(id: number): Promise<QueuedMessage | undefined> {
    this.#open();
    return this.#queued(this.#all<QueueMessageRow>('SELECT * FROM queue_messages WHERE id = ?', id))[0];
  }

  /** Record an outcome for one recipient of a queued message (see Store). */
  async updateQueueRecipient(messageId: number, address: string, changes: { state?: QueueRecipientState; attempts?: number; nextAttemptAt?: number; lastError?: string | null }): Promise<void> {
    await this.#write(() => {
      const r = this.#get<QueueRecipientRow & { id: number }>('SELECT id, state, attempts, next_attempt_at, last_error FROM queue_recipients WHERE message_id = ? AND address = ?', messageId, address);
      if (!r) throw new Refused(`queued recipient ${address} of message ${messageId} does not exist`, 'NONEXISTENT');
      this.#run('UPDATE queue_recipients SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?',
        changes.state ?? r.state, changes.attempts ?? r.attempts, changes.nextAttemptAt ?? r.next_attempt_at,
        changes.lastError === undefined ? r.last_error : changes.lastError, r.id);
    });
  }

  async removeQueuedMessage(id: number): Promise<void> {
    await this.#write(() => {
      const r = this.#get<{ blob_hash: string }>('SELECT blob_hash FROM queue_messages WHERE id = ?', id);
      if (!r) throw new Refused(`queued message ${id} does not exist`, 'NONEXISTENT');
      this.#run('DELETE FROM queue_messages WHERE id = ?', id);
      this.#blobs.release(r.blob_hash);
    });
  }

  // ---- integrity ----

  async check(): Promise<string[]> {
    this.#open();
    return this.#db.transaction(() => this.#checkTx()).deferred();
  }

  #checkTx(): string[] {
    const problems: string[] = [];
    const say = (rows: Array<Record<string, unknown>>, text: (r: Record<string, unknown>) => string) => {
      for (const r of rows) problems.push(text(r));
    };
    say(this.#all('SELECT m.id, m.name, m.uid_next, MAX(x.uid) AS max_uid FROM mailboxes m JOIN messages x ON x.mailbox_id = m.id GROUP BY m.id HAVING MAX(x.uid) >= m.uid_next'),
      (r) => `mailbox ${r['id']} (${r['name']}): uid_next ${r['uid_next']} is not above its highest UID ${r['max_uid']}`);
    say(this.#all('SELECT m.id, m.name, m.uid_next, MAX(t.uid) AS max_uid FROM mailboxes m JOIN tombstones t ON t.mailbox_id = m.id GROUP BY m.id HAVING MAX(t.uid) >= m.uid_next'),
      (r) => `mailbox ${r['id']} (${r['name']}): uid_next ${r['uid_next']} is not above expunged UID ${r['max_uid']}`);
    say(this.#all('SELECT m.id, m.name, m.highest_modseq, MAX(x.modseq) AS max_modseq FROM mailboxes m JOIN messages x ON x.mailbox_id = m.id GROUP BY m.id HAVING MAX(x.modseq) > m.highest_modseq'),
      (r) => `mailbox ${r['id']} (${r['name']}): a message modseq ${r['max_modseq']} is above highest_modseq ${r['highest_modseq']}`);
    say(this.#all('SELECT m.id, m.name, m.highest_modseq, MAX(t.modseq) AS max_modseq FROM mailboxes m JOIN tombstones t ON t.mailbox_id = m.id GROUP BY m.id HAVING MAX(t.modseq) > m.highest_modseq'),
      (r) => `mailbox ${r['id']} (${r['name']}): a tombstone modseq ${r['max_modseq']} is above highest_modseq ${r['highest_modseq']}`);
    say(this.#all(`SELECT m.id, m.name, m.message_count, m.total_size, m.unseen_count, COUNT(x.id) AS n, COALESCE(SUM(x.size), 0) AS s,
        COALESCE(SUM(CASE WHEN instr(' ' || x.flags || ' ', ' \\Seen ') = 0 THEN 1 ELSE 0 END), 0) AS u
        FROM mailboxes m LEFT JOIN messages x ON x.mailbox_id = m.id GROUP BY m.id
        HAVING m.message_count != n OR m.total_size != s OR m.unseen_count != u`),
      (r) => `mailbox ${r['id']} (${r['name']}): counters (messages ${r['message_count']}, size ${r['total_size']}, unseen ${r['unseen_count']}) differ from its messages (${r['n']}, ${r['s']}, ${r['u']})`);
    say(this.#all(`SELECT a.id, a.email, a.used_bytes, COALESCE((SELECT SUM(x.size) FROM messages x JOIN mailboxes m ON m.id = x.mailbox_id WHERE m.account_id = a.id), 0) AS s
        FROM accounts a WHERE a.used_bytes != s`),
      (r) => `account ${r['id']} (${r['email']}): used_bytes ${r['used_bytes']} but its messages total ${r['s']}`);
    say(this.#all(`SELECT b.hash, b.refcount, (SELECT COUNT(*) FROM messages x WHERE x.blob_hash = b.hash) + (SELECT COUNT(*) FROM queue_messages q WHERE q.blob_hash = b.hash) AS n
        FROM blobs b WHERE b.refcount != n`),
      (r) => `blob ${r['hash']}: refcount ${r['refcount']} but ${r['n']} references`);
    say(this.#all(`SELECT b.hash, b.size, COALESCE(SUM(length(c.data)), 0) AS s, COUNT(c.id) AS n, COALESCE(MAX(c.seq), -1) AS last
        FROM blobs b LEFT JOIN blob_chunks c ON c.hash = b.hash GROUP BY b.hash HAVING s != b.size OR n != last + 1`),
      (r) => `blob ${r['hash']}: ${r['n']} chunks of ${r['s']} bytes, expected ${r['size']} bytes`);
    say(this.#all('SELECT x.mailbox_id, x.uid, x.size, b.size AS blob_size FROM messages x LEFT JOIN blobs b ON b.hash = x.blob_hash WHERE b.hash IS NULL OR b.size != x.size'),
      (r) => r['blob_size'] === null
        ? `message ${r['mailbox_id']}/${r['uid']}: its blob is missing`
        : `message ${r['mailbox_id']}/${r['uid']}: size ${r['size']} but its blob has ${r['blob_size']} bytes`);
    say(this.#all('SELECT DISTINCT hash FROM blob_chunks c WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.hash = c.hash)'),
      (r) => `blob chunks of ${r['hash']} have no blob row`);
    // Spot check of content: re-hash a sample of blobs (bounded work on a large store).
    for (const r of this.#all<{ hash: string }>('SELECT hash FROM blobs ORDER BY random() LIMIT 32')) {
      if (blobHash(this.#blobs.read(r.hash)) !== r.hash) problems.push(`blob ${r.hash}: content does not match its hash`);
    }
    for (const r of this.#all<{ table: string; rowid: number; parent: string }>('PRAGMA foreign_key_check')) {
      problems.push(`${r.table} row ${r.rowid}: dangling reference to ${r.parent}`);
    }
    return problems;
  }
}

function migrate(db: Database, clock: Clock): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const apply = db.transaction(() => {
    const done = new Set(db.prepare('SELECT version FROM schema_migrations').all().map((r) => (r as { version: number }).version));
    for (const m of sqliteMigrations) {
      if (done.has(m.version)) continue;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, clock.now());
    }
  });
  apply.immediate();
}
