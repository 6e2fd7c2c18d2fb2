// The PostgreSQL engine of the mail store: several Pigeon nodes share one database (or a
// PostgreSQL-compatible engine) and it is the only shared truth — no clustering of our own.
//
// Invariants kept here (see store.ts), and how they hold across nodes:
// - Every write is one transaction on one pooled client (pool.ts), retried whole on serialization
//   failures and deadlocks; a resolved promise means COMMIT returned with synchronous_commit = on.
// - UID and MODSEQ allocation: message writes first lock the mailbox row (`UPDATE mailboxes …
//   RETURNING` for an append, `SELECT … FOR UPDATE` for flags, expunge, copy, move, claimRecent),
//   so writers of one mailbox are serialised across nodes and uid_next/highest_modseq only grow.
//   Copy and move lock both mailboxes in id order. Within one node, writes to a mailbox also
//   queue in issue order before they take a connection (#write's `mailboxes`), so they commit in
//   the order they were issued (as on SQLite) and no pooled connection sits waiting on a row lock.
// - Quota: `UPDATE accounts SET used_bytes = used_bytes + $n WHERE … AND (quota = 0 OR
//   used_bytes + $n <= quota) RETURNING` — the check and the charge are one atomic statement.
// - Mailbox namespace changes (create, rename, delete) lock the account row first, so two nodes
//   renaming or creating in one account do not interleave. UIDVALIDITY = max(now in s, the
//   account's last + 1), taken with one UPDATE … RETURNING.
// - Lock order is mailbox(es) → account → blobs; when a path must take them the other way round,
//   PostgreSQL reports the deadlock and the transaction is re-run.
// - Changes: NOTIFY is sent inside the transaction (delivered at COMMIT, dropped on ROLLBACK, see
//   feed.ts); this node publishes its own Change[] on `feed` after COMMIT, in full; other nodes'
//   arrive as 'mailbox-changed' wake-ups.
// - Blobs live in PostgreSQL in 256 KiB BYTEA chunks (blobs.ts).
// - Addresses: as in the SQLite engine (normalize.ts): domains lower-case, account and alias
//   lookups case-insensitive on the whole address.
import { randomBytes, createHash } from 'node:crypto';
import type pg from 'pg';
import { BadCommand, Refused } from '../../shared/errors.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { ChangeFeed, type Change } from '../changes.js';
import { migrationLockKey, postgresMigrations } from '../migrations/postgres.js';
import type { MessageIndex } from '../../mail/types.js';
import type {
  Account, AdminScope, Alias, AppendResult, CopyResult, Domain, DomainSettings, JournalEntry, Mailbox, MessageMeta, MessageRecord,
  MessageState, Network, NewMessage, NewQueuedMessage, QueuedMessage, QueueRecipientState, SpecialUse, Store,
  StoreFlagsOptions, StoreFlagsResult, MetadataEntry, MetadataTarget, MailboxSnapshot,
} from '../store.js';
import type { AppPassword, AppPasswordCredential } from '../store.js';
import { defaultDomainSettings } from '../store.js';
import { runsBetween, runsOf } from '../uid-runs.js';
import { PostgresBlobs, blobHash } from './blobs.js';
import { PostgresPushStore } from './push-store.js';
import { PostgresQueueStore } from './queue-store.js';
import { PostgresAdminSessionStore } from './admin-sessions.js';
import { FeedListener, notifyPayloads, feedChannel, type RemoteChange } from './feed.js';
import { createClient, createPool, row, rows, run, transaction, type Sql } from './pool.js';
import {
  flagText, hasSeen, isKeyword, limits, normalizeAddress, normalizeAliasAddress, normalizeCidr, normalizeDomain,
  normalizeFlags, normalizeMailboxName, normalizeSpecialUse, parentNames, parseFlagText, checkAppPasswordInput, queuedDkimSign,
} from '../normalize.js';

export interface PostgresStoreOptions {
  /** postgres://user@host:port/database */
  url: string;
  /** LISTEN for other nodes' changes (a serving node). */
  listen?: boolean;
  logger?: Logger;
  clock?: Clock;
  /** Pool size (default 10). */
  poolSize?: number;
}

const defaultMailboxes: Array<[string, SpecialUse | null]> = [
  ['INBOX', null], ['Sent', '\\Sent'], ['Drafts', '\\Drafts'], ['Trash', '\\Trash'], ['Junk', '\\Junk'], ['Archive', '\\Archive'],
];

interface DomainRow { id: number; name: string; created_at: number; push_enabled: number; push_details: number; push_allowed_hosts: string; enforce_sender: number }
interface AccountRow { id: number; email: string; domain_id: number; password_hash: string; quota: number; used_bytes: number; is_admin: number; admin_scope: AdminScope; created_at: number }
interface MailboxRow { id: number; account_id: number; name: string; uid_validity: number; uid_next: number; highest_modseq: number; special_use: string | null; created_at: number; message_count: number; total_size: number; unseen_count: number; subscribed: number }
interface MessageRow { id: number; mailbox_id: number; uid: number; modseq: number; flags: string; internal_date: number; save_date: number; size: number; blob_hash: string; email_id: string; thread_id: string; index_json?: string }
interface QueueMessageRow { id: number; sender: string; blob_hash: string; size: number; created_at: number; dsn_ret: 'FULL' | 'HDRS' | null; dsn_envid: string | null; account_id: number | null; dkim_sign: number }
interface QueueRecipientRow { message_id: number; address: string; notify: string; orcpt: string | null; state: QueueRecipientState; attempts: number; next_attempt_at: number; last_error: string | null }
interface LockedMailbox { account_id: number; uid_next: number; highest_modseq: number; uid_validity: number; recent_uid: number }

const mailboxSelect = `SELECT m.id, m.account_id, m.name, m.uid_validity, m.uid_next, m.highest_modseq, m.special_use, m.created_at,
  m.message_count, m.total_size, m.unseen_count,
  (EXISTS (SELECT 1 FROM subscriptions s WHERE s.account_id = m.account_id AND s.name = m.name))::int AS subscribed
  FROM mailboxes m`;
const metaColumns = 'id, mailbox_id, uid, modseq, flags, internal_date, save_date, size, blob_hash, email_id, thread_id';
const seenSql = `position(' \\Seen ' in ' ' || x.flags || ' ') > 0`;

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
  return prefix + randomBytes(12).toString('base64url');
}

/** Same rule as the SQLite engine: the thread is named by its root Message-ID. */
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

interface SnapshotRow { row: MailboxRow & { recent_uid: number }; firstUnseen: number; keywords: string[]; gaps: number[] | null }

function snapshotOf(r: SnapshotRow, uidRuns: Array<[number, number]>): MailboxSnapshot {
  return {
    mailbox: toMailbox(r.row),
    uidRuns,
    firstUnseenUid: r.firstUnseen,
    keywords: [...r.keywords].sort(),
    recentPending: r.row.recent_uid < r.row.uid_next - 1,
  };
}

/** A lookup id that cannot exist (not an integer, out of BIGINT range) finds nothing instead of failing the query. */
function validId(id: number): boolean {
  return Number.isSafeInteger(id) && id >= 1;
}

/** Runs the migrations not yet applied, under an advisory lock (two nodes starting at once wait in turn). */
export async function migratePostgres(url: string, clock: Clock = systemClock): Promise<number[]> {
  const client = createClient(url);
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [migrationLockKey]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    const done = new Set((await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
    const applied: number[] = [];
    for (const m of postgresMigrations) {
      if (done.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, clock.now()]);
      applied.push(m.version);
    }
    await client.query('COMMIT');
    return applied;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client.end().catch(() => undefined);
  }
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

export class PostgresStore implements Store {
  readonly feed = new ChangeFeed();
  readonly driver = 'postgres' as const;
  readonly push: PostgresPushStore;
  readonly queue: PostgresQueueStore;
  readonly adminSessions: PostgresAdminSessionStore;
  /** Tags this instance's NOTIFY payloads, so its own listener skips them. */
  readonly nodeId = randomBytes(8).toString('hex');
  #pool: pg.Pool;
  #blobs = new PostgresBlobs();
  #logger: Logger;
  #clock: Clock;
  #listener: FeedListener | undefined;
  #inflight = new Set<Promise<unknown>>();
  /** Per-mailbox FIFO of this node's writes: the tail promise of each mailbox's queue. */
  #queues = new Map<number, Promise<void>>();
  #closed = false;

  private constructor(pool: pg.Pool, options: PostgresStoreOptions) {
    this.#pool = pool;
    this.#logger = options.logger ?? silentLogger();
    this.#clock = options.clock ?? systemClock;
    this.push = new PostgresPushStore(pool, (fn) => this.#track(transaction(pool, fn)));
    this.queue = new PostgresQueueStore(pool, (fn) => this.#track(transaction(pool, fn)));
    this.adminSessions = new PostgresAdminSessionStore(pool);
  }

  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    if (typeof options.url !== 'string' || !/^postgres(ql)?:\/\//.test(options.url)) throw new BadCommand('store.url must be a postgres:// URL');
    await migratePostgres(options.url, options.clock ?? systemClock);
    const pool = createPool(options.url, { max: options.poolSize ?? 10 });
    const store = new PostgresStore(pool, options);
    pool.on('error', (err) => store.#logger.warn({ err }, 'idle store connection failed'));
    if (options.listen) {
      try {
        store.#listener = await FeedListener.start(options.url, { nodeId: store.nodeId, onChange: (e) => store.#onRemote(e), logger: store.#logger });
      } catch (err) {
        await pool.end();
        throw err;
      }
    }
    return store;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Writes already issued still commit; then no more.
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    await this.#listener?.close();
    await this.#pool.end();
  }

  // ---- plumbing ----

  #open(): void {
    if (this.#closed) throw new Error('store is closed');
  }

  #track<T>(p: Promise<T>): Promise<T> {
    this.#inflight.add(p);
    const done = () => this.#inflight.delete(p);
    p.then(done, done);
    return p;
  }

  /** A read on any pooled connection (autocommit). */
  #read<T>(fn: (db: Sql) => Promise<T>): Promise<T> {
    this.#open();
    return this.#track(fn(this.#pool));
  }

  /**
   * Runs fn in one transaction (re-run whole on serialization failure or deadlock), sends the
   * NOTIFY wake-ups inside it, and publishes its changes after COMMIT.
   */
  #write<T>(fn: (c: pg.PoolClient, changes: Change[]) => Promise<T>, options: { mailboxes?: number[] } = {}): Promise<T> {
    this.#open();
    const run = async () => {
      let changes: Change[] = [];
      const value = await transaction(this.#pool, async (c) => {
        changes = [];
        const v = await fn(c, changes);
        for (const payload of notifyPayloads(this.nodeId, changes)) await c.query('SELECT pg_notify($1, $2)', [feedChannel, payload]);
        return v;
      });
      this.#publish(changes);
      return value;
    };
    // Joins the mailboxes' queues now, synchronously, so the issue order is kept.
    return this.#track(this.#inQueues([...new Set(options.mailboxes ?? [])].sort((a, b) => a - b), run));
  }

  /** Runs fn after this node's earlier writes to these mailboxes (ids sorted: no lock-order cycles). */
  #inQueues<T>(ids: number[], fn: () => Promise<T>): Promise<T> {
    if (ids.length === 0) return fn();
    const [id, ...rest] = ids as [number, ...number[]];
    const before = this.#queues.get(id) ?? Promise.resolve();
    let done!: () => void;
    const tail = before.then(() => new Promise<void>((r) => (done = r)));
    this.#queues.set(id, tail);
    // The rest join their queues now too (in order), but run once this one's turn has come.
    const inner = this.#inQueuesAfter(rest, before, fn);
    return inner.finally(() => {
      done();
      if (this.#queues.get(id) === tail) this.#queues.delete(id);
    });
  }

  #inQueuesAfter<T>(ids: number[], before: Promise<void>, fn: () => Promise<T>): Promise<T> {
    return this.#inQueues(ids, () => before.then(fn));
  }

  #publish(changes: Change[]): void {
    if (changes.length === 0) return;
    try {
      this.feed.publish(changes);
    } catch (err) {
      this.#logger.error({ err }, 'change feed listener threw');
    }
  }

  #onRemote(entries: RemoteChange[]): void {
    if (this.#closed) return;
    const seen = new Set<string>();
    const changes: Change[] = [];
    for (const e of entries) {
      const key = `${e.accountId}:${e.mailboxId}`;
      if (seen.has(key)) continue;
      seen.add(key);
      changes.push({ kind: 'mailbox-changed', accountId: e.accountId, mailboxId: e.mailboxId });
    }
    this.#publish(changes);
  }

  #now(): number {
    return this.#clock.now();
  }

  // ---- domains ----

  async addDomain(name: string): Promise<Domain> {
    const n = normalizeDomain(name);
    return this.#write(async (c) => {
      if (await row(c, 'SELECT 1 FROM domains WHERE name = $1', [n])) throw new Refused(`domain ${n} already exists`, 'ALREADYEXISTS');
      return toDomain((await row<DomainRow>(c, 'INSERT INTO domains (name, created_at) VALUES ($1, $2) RETURNING *', [n, this.#now()]))!);
    });
  }

  async getDomain(name: string): Promise<Domain | undefined> {
    let n: string;
    try {
      n = normalizeDomain(name);
    } catch {
      return undefined;
    }
    const r = await this.#read((db) => row<DomainRow>(db, 'SELECT * FROM domains WHERE name = $1', [n]));
    return r && toDomain(r);
  }

  async listDomains(): Promise<Domain[]> {
    return (await this.#read((db) => rows<DomainRow>(db, 'SELECT * FROM domains ORDER BY name COLLATE "C"'))).map(toDomain);
  }

  async removeDomain(name: string, options: { force?: boolean } = {}): Promise<void> {
    const n = normalizeDomain(name);
    await this.#write(async (c, changes) => {
      const d = await row<DomainRow>(c, 'SELECT * FROM domains WHERE name = $1 FOR UPDATE', [n]);
      if (!d) throw new Refused(`domain ${n} does not exist`, 'NONEXISTENT');
      const accounts = await rows<{ id: number }>(c, 'SELECT id FROM accounts WHERE domain_id = $1 ORDER BY id', [d.id]);
      if (accounts.length > 0 && !options.force) throw new Refused(`domain ${n} still has ${accounts.length} account(s)`, 'INUSE');
      for (const a of accounts) await this.#removeAccountTx(c, a.id, changes);
      await run(c, 'DELETE FROM aliases WHERE domain = $1', [n]);
      await run(c, 'DELETE FROM domains WHERE id = $1', [d.id]);
    });
  }

  async updateDomainSettings(name: string, settings: Partial<DomainSettings>): Promise<Domain> {
    const n = normalizeDomain(name);
    const s = settings ?? {};
    if (s.pushAllowedHosts !== undefined && (!Array.isArray(s.pushAllowedHosts) || s.pushAllowedHosts.length > 100 || !s.pushAllowedHosts.every((h) => typeof h === 'string' && h.length > 0 && h.length <= 255))) {
      throw new BadCommand('pushAllowedHosts must be a list of at most 100 host names');
    }
    return this.#write(async (c) => {
      const d = await row<DomainRow>(c, 'SELECT * FROM domains WHERE name = $1 FOR UPDATE', [n]);
      if (!d) throw new Refused(`domain ${n} does not exist`, 'NONEXISTENT');
      const next = { ...defaultDomainSettings, ...toDomain(d).settings };
      if (s.pushEnabled !== undefined) next.pushEnabled = Boolean(s.pushEnabled);
      if (s.pushDetails !== undefined) next.pushDetails = Boolean(s.pushDetails);
      if (s.enforceSender !== undefined) next.enforceSender = Boolean(s.enforceSender);
      if (s.pushAllowedHosts !== undefined) next.pushAllowedHosts = s.pushAllowedHosts.map((h) => h.toLowerCase());
      return toDomain((await row<DomainRow>(c, 'UPDATE domains SET push_enabled = $1, push_details = $2, push_allowed_hosts = $3, enforce_sender = $4 WHERE id = $5 RETURNING *',
        [next.pushEnabled ? 1 : 0, next.pushDetails ? 1 : 0, JSON.stringify(next.pushAllowedHosts), next.enforceSender ? 1 : 0, d.id]))!);
    });
  }

  // ---- accounts ----

  async createAccount(input: { email: string; passwordHash: string; quota?: number; isAdmin?: boolean; adminScope?: AdminScope }): Promise<Account> {
    const addr = normalizeAddress(input.email);
    if (typeof input.passwordHash !== 'string' || input.passwordHash.length > 1024) throw new BadCommand('invalid password hash');
    const quota = input.quota ?? 0;
    if (!Number.isSafeInteger(quota) || quota < 0) throw new BadCommand('quota must be a non-negative integer');
    const scope = checkScope(input.adminScope ?? 'server');
    return this.#write(async (c, changes) => {
      const d = await row<{ id: number }>(c, 'SELECT id FROM domains WHERE name = $1', [addr.domain]);
      if (!d) throw new Refused(`domain ${addr.domain} is not a local domain`, 'NONEXISTENT');
      if (await row(c, 'SELECT 1 FROM accounts WHERE email_key = $1', [addr.key])) throw new Refused(`account ${addr.address} already exists`, 'ALREADYEXISTS');
      if (await row(c, 'SELECT 1 FROM aliases WHERE address = $1', [addr.key])) throw new Refused(`${addr.address} is an alias`, 'ALREADYEXISTS');
      const a = (await row<AccountRow>(c, 'INSERT INTO accounts (email, email_key, domain_id, password_hash, quota, is_admin, admin_scope, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *',
        [addr.address, addr.key, d.id, input.passwordHash, quota, input.isAdmin ? 1 : 0, scope, this.#now()]))!;
      for (const [name, specialUse] of defaultMailboxes) await this.#createMailboxTx(c, a.id, name, specialUse, true, changes);
      return toAccount(a);
    });
  }

  async getAccount(id: number): Promise<Account | undefined> {
    if (!validId(id)) return this.#read(async () => undefined);
    const r = await this.#read((db) => row<AccountRow>(db, 'SELECT * FROM accounts WHERE id = $1', [id]));
    return r && toAccount(r);
  }

  async getAccountByEmail(email: string): Promise<Account | undefined> {
    let key: string;
    try {
      key = normalizeAddress(email).key;
    } catch {
      return undefined;
    }
    const r = await this.#read((db) => row<AccountRow>(db, 'SELECT * FROM accounts WHERE email_key = $1', [key]));
    return r && toAccount(r);
  }

  async listAccounts(domain?: string): Promise<Account[]> {
    if (domain === undefined) return (await this.#read((db) => rows<AccountRow>(db, 'SELECT * FROM accounts ORDER BY email_key COLLATE "C"'))).map(toAccount);
    const n = normalizeDomain(domain);
    return (await this.#read((db) => rows<AccountRow>(db, 'SELECT a.* FROM accounts a JOIN domains d ON d.id = a.domain_id WHERE d.name = $1 ORDER BY a.email_key COLLATE "C"', [n]))).map(toAccount);
  }

  async updateAccount(id: number, changes: { passwordHash?: string; quota?: number; isAdmin?: boolean; adminScope?: AdminScope }): Promise<Account> {
    checkId(id, 'account');
    if (changes.quota !== undefined && (!Number.isSafeInteger(changes.quota) || changes.quota < 0)) throw new BadCommand('quota must be a non-negative integer');
    if (changes.passwordHash !== undefined && (typeof changes.passwordHash !== 'string' || changes.passwordHash.length > 1024)) throw new BadCommand('invalid password hash');
    return this.#write(async (c) => {
      const a = await row<AccountRow>(c, 'SELECT * FROM accounts WHERE id = $1 FOR UPDATE', [id]);
      if (!a) throw new Refused(`account ${id} does not exist`, 'NONEXISTENT');
      return toAccount((await row<AccountRow>(c, 'UPDATE accounts SET password_hash = $1, quota = $2, is_admin = $3, admin_scope = $4 WHERE id = $5 RETURNING *',
        [changes.passwordHash ?? a.password_hash, changes.quota ?? a.quota, changes.isAdmin === undefined ? a.is_admin : changes.isAdmin ? 1 : 0,
          changes.adminScope === undefined ? a.admin_scope : checkScope(changes.adminScope), id]))!);
    });
  }

  async removeAccount(id: number): Promise<void> {
    checkId(id, 'account');
    await this.#write(async (c, changes) => {
      if (!(await row(c, 'SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE', [id]))) throw new Refused(`account ${id} does not exist`, 'NONEXISTENT');
      await this.#removeAccountTx(c, id, changes);
    });
  }

  async #removeAccountTx(c: pg.PoolClient, id: number, changes: Change[]): Promise<void> {
    for (const m of await rows<{ id: number; name: string }>(c, 'SELECT id, name FROM mailboxes WHERE account_id = $1 ORDER BY id', [id])) {
      await this.#dropMailboxTx(c, m.id);
      changes.push({ kind: 'mailbox-deleted', accountId: id, mailboxId: m.id, name: m.name });
    }
    await run(c, 'DELETE FROM subscriptions WHERE account_id = $1', [id]);
    await run(c, 'DELETE FROM accounts WHERE id = $1', [id]);
  }

  // ---- app passwords ----

  async createAppPassword(input: { accountId: number; name: string; lookup: string; passwordHash: string }, limits: { maxPerAccount: number }): Promise<AppPassword> {
    checkId(input.accountId, 'account');
    checkAppPasswordInput(input);
    return this.#write(async (c) => {
      // The account row lock serialises creations for one account, so the limit holds across nodes.
      if (!(await row(c, 'SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE', [input.accountId]))) throw new Refused(`account ${input.accountId} does not exist`, 'NONEXISTENT');
      const count = Number((await row<{ n: number }>(c, 'SELECT count(*)::int AS n FROM app_passwords WHERE account_id = $1', [input.accountId]))!.n);
      if (count >= limits.maxPerAccount) throw new Refused(`the account already has ${count} app passwords (at most ${limits.maxPerAccount})`, 'LIMIT');
      if (await row(c, 'SELECT 1 FROM app_passwords WHERE account_id = $1 AND lookup = $2', [input.accountId, input.lookup])) throw new Refused('an app password with this lookup key exists', 'ALREADYEXISTS');
      return toAppPassword((await row<AppPasswordRow>(c, 'INSERT INTO app_passwords (account_id, name, lookup, password_hash, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING *',
        [input.accountId, input.name, input.lookup, input.passwordHash, this.#now()]))!);
    });
  }

  async listAppPasswords(accountId: number): Promise<AppPassword[]> {
    if (!validId(accountId)) return this.#read(async () => []);
    return (await this.#read((db) => rows<AppPasswordRow>(db, 'SELECT * FROM app_passwords WHERE account_id = $1 ORDER BY id', [accountId]))).map(toAppPassword);
  }

  async removeAppPassword(accountId: number, id: number): Promise<boolean> {
    if (!validId(accountId) || !validId(id)) return this.#read(async () => false);
    return this.#write(async (c) => (await run(c, 'DELETE FROM app_passwords WHERE id = $1 AND account_id = $2', [id, accountId])) > 0);
  }

  async appPasswordCredentials(accountId: number, lookup?: string): Promise<AppPasswordCredential[]> {
    if (!validId(accountId)) return this.#read(async () => []);
    const list = await this.#read((db) => lookup === undefined
      ? rows<AppPasswordRow>(db, 'SELECT * FROM app_passwords WHERE account_id = $1 ORDER BY id', [accountId])
      : rows<AppPasswordRow>(db, 'SELECT * FROM app_passwords WHERE account_id = $1 AND lookup = $2', [accountId, lookup]));
    return list.map((r) => ({ ...toAppPassword(r), lookup: r.lookup, passwordHash: r.password_hash }));
  }

  async touchAppPassword(id: number, at: number): Promise<void> {
    if (!validId(id)) return;
    await this.#write(async (c) => void (await run(c, 'UPDATE app_passwords SET last_used_at = $1 WHERE id = $2', [at, id])));
  }

  // ---- aliases ----

  async addAlias(address: string, targets: string[]): Promise<Alias> {
    const a = normalizeAliasAddress(address);
    if (!Array.isArray(targets) || targets.length === 0) throw new BadCommand('an alias needs at least one target');
    if (targets.length > limits.aliasTargets) throw new BadCommand('too many alias targets');
    const list = [...new Set(targets.map((t) => normalizeAddress(t).address))];
    return this.#write(async (c) => {
      if (!(await row(c, 'SELECT 1 FROM domains WHERE name = $1', [a.domain]))) throw new Refused(`domain ${a.domain} is not a local domain`, 'NONEXISTENT');
      if (await row(c, 'SELECT 1 FROM aliases WHERE address = $1', [a.address])) throw new Refused(`alias ${a.address} already exists`, 'ALREADYEXISTS');
      if (await row(c, 'SELECT 1 FROM accounts WHERE email_key = $1', [a.address])) throw new Refused(`${a.address} is an account`, 'ALREADYEXISTS');
      const id = (await row<{ id: number }>(c, 'INSERT INTO aliases (address, domain, created_at) VALUES ($1, $2, $3) RETURNING id', [a.address, a.domain, this.#now()]))!.id;
      for (const [i, t] of list.entries()) await run(c, 'INSERT INTO alias_targets (alias_id, position, target) VALUES ($1, $2, $3)', [id, i, t]);
      return { id, address: a.address, targets: list };
    });
  }

  async getAlias(address: string): Promise<Alias | undefined> {
    let a: string;
    try {
      a = normalizeAliasAddress(address).address;
    } catch {
      return undefined;
    }
    return this.#read(async (db) => {
      const r = await row<{ id: number; address: string }>(db, 'SELECT id, address FROM aliases WHERE address = $1', [a]);
      return r && (await this.#aliasesOf(db, [r]))[0];
    });
  }

  async #aliasesOf(db: Sql, list: Array<{ id: number; address: string }>): Promise<Alias[]> {
    if (list.length === 0) return [];
    const targets = await rows<{ alias_id: number; target: string }>(db,
      'SELECT alias_id, target FROM alias_targets WHERE alias_id = ANY($1::bigint[]) ORDER BY alias_id, position', [list.map((r) => r.id)]);
    const by = new Map<number, string[]>();
    for (const t of targets) {
      let l = by.get(t.alias_id);
      if (!l) by.set(t.alias_id, (l = []));
      l.push(t.target);
    }
    return list.map((r) => ({ id: r.id, address: r.address, targets: by.get(r.id) ?? [] }));
  }

  async listAliases(domain?: string): Promise<Alias[]> {
    const d = domain === undefined ? undefined : normalizeDomain(domain);
    return this.#read(async (db) => {
      const list = d === undefined
        ? await rows<{ id: number; address: string }>(db, 'SELECT id, address FROM aliases ORDER BY address COLLATE "C"')
        : await rows<{ id: number; address: string }>(db, 'SELECT id, address FROM aliases WHERE domain = $1 ORDER BY address COLLATE "C"', [d]);
      return this.#aliasesOf(db, list);
    });
  }

  async removeAlias(address: string): Promise<void> {
    const a = normalizeAliasAddress(address).address;
    await this.#write(async (c) => {
      if ((await run(c, 'DELETE FROM aliases WHERE address = $1', [a])) === 0) throw new Refused(`alias ${a} does not exist`, 'NONEXISTENT');
    });
  }

  // ---- networks ----

  async addNetwork(cidr: string, note = ''): Promise<Network> {
    const c0 = normalizeCidr(cidr);
    if (typeof note !== 'string' || note.length > 1000) throw new BadCommand('note too long');
    return this.#write(async (c) => {
      if (await row(c, 'SELECT 1 FROM networks WHERE cidr = $1', [c0])) throw new Refused(`network ${c0} already exists`, 'ALREADYEXISTS');
      const id = (await row<{ id: number }>(c, 'INSERT INTO networks (cidr, note, created_at) VALUES ($1, $2, $3) RETURNING id', [c0, note, this.#now()]))!.id;
      return { id, cidr: c0, note };
    });
  }

  async listNetworks(): Promise<Network[]> {
    return this.#read((db) => rows<Network>(db, 'SELECT id, cidr, note FROM networks ORDER BY id'));
  }

  async removeNetwork(cidr: string): Promise<void> {
    const c0 = normalizeCidr(cidr);
    await this.#write(async (c) => {
      if ((await run(c, 'DELETE FROM networks WHERE cidr = $1', [c0])) === 0) throw new Refused(`network ${c0} does not exist`, 'NONEXISTENT');
    });
  }

  // ---- mailboxes ----

  async listMailboxes(accountId: number): Promise<Mailbox[]> {
    if (!validId(accountId)) return this.#read(async () => []);
    return (await this.#read((db) => rows<MailboxRow>(db, `${mailboxSelect} WHERE m.account_id = $1 ORDER BY m.name COLLATE "C"`, [accountId]))).map(toMailbox);
  }

  async getMailbox(accountId: number, name: string): Promise<Mailbox | undefined> {
    let n: string;
    try {
      n = normalizeMailboxName(name);
    } catch {
      return undefined;
    }
    if (!validId(accountId)) return this.#read(async () => undefined);
    const r = await this.#read((db) => row<MailboxRow>(db, `${mailboxSelect} WHERE m.account_id = $1 AND m.name = $2`, [accountId, n]));
    return r && toMailbox(r);
  }

  async getMailboxById(id: number): Promise<Mailbox | undefined> {
    if (!validId(id)) return this.#read(async () => undefined);
    const r = await this.#read((db) => row<MailboxRow>(db, `${mailboxSelect} WHERE m.id = $1`, [id]));
    return r && toMailbox(r);
  }

  /** Creates the mailbox and any missing superior names (RFC 9051 §6.3.4), those unsubscribed. */
  async createMailbox(accountId: number, name: string, options: { specialUse?: SpecialUse | null; subscribed?: boolean } = {}): Promise<Mailbox> {
    checkId(accountId, 'account');
    const n = normalizeMailboxName(name);
    const specialUse = normalizeSpecialUse(options.specialUse);
    return this.#write(async (c, changes) => {
      await this.#lockAccount(c, accountId);
      if ((await this.#mailboxId(c, accountId, n)) !== undefined) throw new Refused(`mailbox ${n} already exists`, 'ALREADYEXISTS');
      for (const parent of parentNames(n)) {
        if ((await this.#mailboxId(c, accountId, parent)) === undefined) await this.#createMailboxTx(c, accountId, parent, null, false, changes);
      }
      const id = await this.#createMailboxTx(c, accountId, n, specialUse, options.subscribed ?? false, changes);
      return toMailbox((await row<MailboxRow>(c, `${mailboxSelect} WHERE m.id = $1`, [id]))!);
    });
  }

  /** The account's namespace lock: mailbox create, rename and delete in one account are serialised. */
  async #lockAccount(c: Sql, accountId: number): Promise<void> {
    if (!(await row(c, 'SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE', [accountId]))) throw new Refused(`account ${accountId} does not exist`, 'NONEXISTENT');
  }

  async #mailboxId(c: Sql, accountId: number, name: string): Promise<number | undefined> {
    return (await row<{ id: number }>(c, 'SELECT id FROM mailboxes WHERE account_id = $1 AND name = $2', [accountId, name]))?.id;
  }

  async #createMailboxTx(c: Sql, accountId: number, name: string, specialUse: SpecialUse | null, subscribed: boolean, changes: Change[]): Promise<number> {
    const now = this.#now();
    const uidValidity = (await row<{ v: number }>(c,
      'UPDATE accounts SET last_uid_validity = GREATEST($2::bigint, last_uid_validity + 1) WHERE id = $1 RETURNING last_uid_validity AS v',
      [accountId, Math.floor(now / 1000)]))!.v;
    if (uidValidity > 0xffffffff) throw new Refused('UIDVALIDITY space exhausted', 'LIMIT');
    const id = (await row<{ id: number }>(c, 'INSERT INTO mailboxes (account_id, name, uid_validity, special_use, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id',
      [accountId, name, uidValidity, specialUse, now]))!.id;
    if (subscribed) await run(c, 'INSERT INTO subscriptions (account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [accountId, name]);
    changes.push({ kind: 'mailbox-created', accountId, mailboxId: id, name });
    return id;
  }

  async deleteMailbox(id: number): Promise<void> {
    checkId(id, 'mailbox');
    await this.#write(async (c, changes) => {
      const m = await row<{ account_id: number; name: string }>(c, 'SELECT account_id, name FROM mailboxes WHERE id = $1', [id]);
      if (!m) throw new Refused(`mailbox ${id} does not exist`, 'NONEXISTENT');
      if (m.name === 'INBOX') throw new Refused('INBOX cannot be deleted', 'CANNOT');
      await this.#lockAccount(c, m.account_id);
      if (!(await row(c, 'SELECT 1 FROM mailboxes WHERE id = $1 FOR UPDATE', [id]))) throw new Refused(`mailbox ${id} does not exist`, 'NONEXISTENT');
      await this.#dropMailboxTx(c, id);
      changes.push({ kind: 'mailbox-deleted', accountId: m.account_id, mailboxId: id, name: m.name });
    });
  }

  /** Removes a mailbox with its messages, releasing blobs and quota. Subscriptions stay (RFC 9051 §6.3.9). */
  async #dropMailboxTx(c: Sql, id: number): Promise<void> {
    const m = (await row<{ account_id: number; total_size: number }>(c, 'SELECT account_id, total_size FROM mailboxes WHERE id = $1 FOR UPDATE', [id]))!;
    for (const b of await rows<{ blob_hash: string; n: number }>(c, 'SELECT blob_hash, COUNT(*)::bigint AS n FROM messages WHERE mailbox_id = $1 GROUP BY blob_hash ORDER BY blob_hash', [id])) {
      await run(c, 'DELETE FROM messages WHERE mailbox_id = $1 AND blob_hash = $2', [id, b.blob_hash]);
      await this.#blobs.release(c, b.blob_hash, b.n);
    }
    await run(c, 'UPDATE accounts SET used_bytes = used_bytes - $1 WHERE id = $2', [m.total_size, m.account_id]);
    await run(c, 'DELETE FROM tombstones WHERE mailbox_id = $1', [id]);
    await run(c, 'DELETE FROM mailbox_keywords WHERE mailbox_id = $1', [id]);
    await run(c, 'DELETE FROM mailboxes WHERE id = $1', [id]);
  }

  async renameMailbox(id: number, newName: string): Promise<void> {
    checkId(id, 'mailbox');
    const to = normalizeMailboxName(newName);
    await this.#write(async (c, changes) => {
      const first = await row<{ account_id: number }>(c, 'SELECT account_id FROM mailboxes WHERE id = $1', [id]);
      if (!first) throw new Refused(`mailbox ${id} does not exist`, 'NONEXISTENT');
      const acct = first.account_id;
      await this.#lockAccount(c, acct);
      // Re-read under the namespace lock: another node may have renamed it meanwhile.
      const m = await row<{ name: string }>(c, 'SELECT name FROM mailboxes WHERE id = $1', [id]);
      if (!m) throw new Refused(`mailbox ${id} does not exist`, 'NONEXISTENT');
      if (to === m.name || (await this.#mailboxId(c, acct, to)) !== undefined) throw new Refused(`mailbox ${to} already exists`, 'ALREADYEXISTS');
      if (m.name === 'INBOX') {
        // RFC 9051 §6.3.6: messages move to a new mailbox; INBOX stays, empty; its children stay.
        for (const parent of parentNames(to)) {
          if ((await this.#mailboxId(c, acct, parent)) === undefined) await this.#createMailboxTx(c, acct, parent, null, false, changes);
        }
        const target = await this.#createMailboxTx(c, acct, to, null, false, changes);
        const uids = (await rows<{ uid: number }>(c, 'SELECT uid FROM messages WHERE mailbox_id = $1 ORDER BY uid', [id])).map((r) => r.uid);
        await this.#copyTx(c, id, uids, target, true, changes);
        return;
      }
      if (to.startsWith(`${m.name}/`)) throw new Refused('cannot rename a mailbox into itself', 'CANNOT');
      const children = await rows<{ id: number; name: string }>(c,
        'SELECT id, name FROM mailboxes WHERE account_id = $1 AND substr(name, 1, $2) = $3 ORDER BY name', [acct, m.name.length + 1, `${m.name}/`]);
      const moves = [{ id, name: m.name }, ...children].map((x) => ({ id: x.id, from: x.name, to: to + x.name.slice(m.name.length) }));
      for (const mv of moves.slice(1)) {
        if ((await this.#mailboxId(c, acct, mv.to)) !== undefined) throw new Refused(`mailbox ${mv.to} already exists`, 'ALREADYEXISTS');
      }
      for (const parent of parentNames(to)) {
        if ((await this.#mailboxId(c, acct, parent)) === undefined) await this.#createMailboxTx(c, acct, parent, null, false, changes);
      }
      for (const mv of moves) {
        await run(c, 'UPDATE mailboxes SET name = $1 WHERE id = $2', [mv.to, mv.id]);
        // Subscriptions follow the mailbox (what clients expect; RFC 9051 leaves it to the server).
        if ((await run(c, 'DELETE FROM subscriptions WHERE account_id = $1 AND name = $2', [acct, mv.from])) > 0) {
          await run(c, 'INSERT INTO subscriptions (account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [acct, mv.to]);
        }
        changes.push({ kind: 'mailbox-renamed', accountId: acct, mailboxId: mv.id, name: mv.to, oldName: mv.from });
      }
    });
  }

  async setSubscribed(accountId: number, name: string, subscribed: boolean): Promise<void> {
    checkId(accountId, 'account');
    const n = normalizeMailboxName(name);
    await this.#write(async (c, changes) => {
      if (!(await row(c, 'SELECT 1 FROM accounts WHERE id = $1', [accountId]))) throw new Refused(`account ${accountId} does not exist`, 'NONEXISTENT');
      const count = subscribed
        ? await run(c, 'INSERT INTO subscriptions (account_id, name) VALUES ($1, $2) ON CONFLICT DO NOTHING', [accountId, n])
        : await run(c, 'DELETE FROM subscriptions WHERE account_id = $1 AND name = $2', [accountId, n]);
      if (count > 0) changes.push({ kind: 'subscription-changed', accountId, mailboxId: (await this.#mailboxId(c, accountId, n)) ?? 0, name: n, subscribed });
    });
  }

  async mailboxAccessKey(mailboxId: number): Promise<Buffer> {
    checkId(mailboxId, 'mailbox');
    return this.#write(async (c) => {
      const mb = await row<{ account_id: string | number; uid_validity: string | number }>(c, 'SELECT account_id, uid_validity FROM mailboxes WHERE id = $1', [mailboxId]);
      if (!mb) throw new Refused(`mailbox ${mailboxId} does not exist`, 'NONEXISTENT');
      const r = await row<{ key: Buffer; uid_validity: string | number; account_id: string | number }>(c, 'SELECT key, uid_validity, account_id FROM urlauth_keys WHERE mailbox_id = $1', [mailboxId]);
      if (r && Number(r.uid_validity) === Number(mb.uid_validity) && Number(r.account_id) === Number(mb.account_id)) return Buffer.from(r.key);
      const key = randomBytes(32);
      await run(
        c,
        'INSERT INTO urlauth_keys (mailbox_id, account_id, uid_validity, key) VALUES ($1, $2, $3, $4) ON CONFLICT (mailbox_id) DO UPDATE SET account_id = EXCLUDED.account_id, uid_validity = EXCLUDED.uid_validity, key = EXCLUDED.key',
        [mailboxId, Number(mb.account_id), Number(mb.uid_validity), key],
      );
      return key;
    });
  }

  async resetMailboxAccessKeys(accountId: number, mailboxId?: number): Promise<void> {
    checkId(accountId, 'account');
    await this.#write(async (c) => {
      if (mailboxId === undefined) await run(c, 'DELETE FROM urlauth_keys WHERE account_id = $1', [accountId]);
      else await run(c, 'DELETE FROM urlauth_keys WHERE account_id = $1 AND mailbox_id = $2', [accountId, mailboxId]);
    });
  }

  /** The (mailbox_id, uid_validity) a METADATA target is stored under; 0, 0 for the server. */
  async #metadataKey(db: Sql, target: MetadataTarget): Promise<{ mailboxId: number; uidValidity: number } | undefined> {
    if (target.mailboxId === null) return { mailboxId: 0, uidValidity: 0 };
    if (!validId(target.mailboxId) || !validId(target.accountId)) return undefined;
    const mb = await row<{ uid_validity: string | number }>(db, 'SELECT uid_validity FROM mailboxes WHERE id = $1 AND account_id = $2', [target.mailboxId, target.accountId]);
    return mb && { mailboxId: target.mailboxId, uidValidity: Number(mb.uid_validity) };
  }

  async getMetadata(target: MetadataTarget): Promise<MetadataEntry[]> {
    return this.#read(async (db) => {
      const key = await this.#metadataKey(db, target);
      if (!key || !validId(target.accountId)) return [];
      const r = await rows<{ name: string; value: Buffer }>(
        db,
        'SELECT name, value FROM metadata WHERE account_id = $1 AND mailbox_id = $2 AND uid_validity = $3 ORDER BY name COLLATE "C"',
        [target.accountId, key.mailboxId, key.uidValidity],
      );
      return r.map((x) => ({ name: x.name, value: Buffer.from(x.value) }));
    });
  }

  async setMetadata(target: MetadataTarget, entries: Array<{ name: string; value: Buffer | null }>, limits: { maxEntries: number; maxBytes: number }): Promise<void> {
    checkId(target.accountId, 'account');
    await this.#write(async (c) => {
      const key = await this.#metadataKey(c, target);
      if (!key) throw new Refused('mailbox does not exist', 'NONEXISTENT');
      await run(c, 'DELETE FROM metadata WHERE account_id = $1 AND mailbox_id = $2 AND uid_validity <> $3', [target.accountId, key.mailboxId, key.uidValidity]);
      for (const e of entries) {
        const name = e.name.toLowerCase();
        if (e.value === null) await run(c, 'DELETE FROM metadata WHERE account_id = $1 AND mailbox_id = $2 AND name = $3', [target.accountId, key.mailboxId, name]);
        else {
          await run(
            c,
            'INSERT INTO metadata (account_id, mailbox_id, uid_validity, name, value) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, mailbox_id, name) DO UPDATE SET uid_validity = EXCLUDED.uid_validity, value = EXCLUDED.value',
            [target.accountId, key.mailboxId, key.uidValidity, name, e.value],
          );
        }
      }
      const t = await row<{ n: string | number; bytes: string | number | null }>(c, 'SELECT COUNT(*) AS n, SUM(LENGTH(value)) AS bytes FROM metadata WHERE account_id = $1 AND mailbox_id = $2', [target.accountId, key.mailboxId]);
      if (Number(t!.n) > limits.maxEntries || Number(t!.bytes ?? 0) > limits.maxBytes) throw new Refused('too many metadata entries', 'LIMIT');
    });
  }

  async listSubscriptions(accountId: number): Promise<string[]> {
    if (!validId(accountId)) return this.#read(async () => []);
    return (await this.#read((db) => rows<{ name: string }>(db, 'SELECT name FROM subscriptions WHERE account_id = $1 ORDER BY name COLLATE "C"', [accountId]))).map((r) => r.name);
  }

  // ---- messages ----

  /** Keywords take the spelling first seen in the mailbox (case-insensitive equality). */
  async #canonicalFlags(c: Sql, mailboxId: number, flags: string[]): Promise<string[]> {
    if (!flags.some(isKeyword)) return flags;
    const out: string[] = [];
    for (const f of flags) {
      if (!isKeyword(f)) {
        out.push(f);
        continue;
      }
      await run(c, 'INSERT INTO mailbox_keywords (mailbox_id, keyword) VALUES ($1, $2) ON CONFLICT (mailbox_id, lower(keyword)) DO NOTHING', [mailboxId, f]);
      out.push((await row<{ keyword: string }>(c, 'SELECT keyword FROM mailbox_keywords WHERE mailbox_id = $1 AND lower(keyword) = lower($2)', [mailboxId, f]))!.keyword);
    }
    return out;
  }

  /** Charges `adding` bytes to the account, atomically refusing OVERQUOTA (the check and the charge are one statement). */
  async #charge(c: Sql, accountId: number, adding: number, enforce = true): Promise<void> {
    if (adding <= 0) return;
    const ok = enforce
      ? await run(c, 'UPDATE accounts SET used_bytes = used_bytes + $1 WHERE id = $2 AND (quota = 0 OR used_bytes + $1 <= quota)', [adding, accountId])
      : await run(c, 'UPDATE accounts SET used_bytes = used_bytes + $1 WHERE id = $2', [adding, accountId]);
    if (ok === 0) {
      const a = await row<{ quota: number; used_bytes: number }>(c, 'SELECT quota, used_bytes FROM accounts WHERE id = $1', [accountId]);
      throw new Refused(`quota exceeded (${a?.used_bytes ?? 0} + ${adding} > ${a?.quota ?? 0} bytes)`, 'OVERQUOTA');
    }
  }

  async #lockMailbox(c: Sql, mailboxId: number): Promise<LockedMailbox> {
    const m = await row<LockedMailbox>(c, 'SELECT account_id, uid_next, highest_modseq, uid_validity, recent_uid FROM mailboxes WHERE id = $1 FOR UPDATE', [mailboxId]);
    if (!m) throw new Refused(`mailbox ${mailboxId} does not exist`, 'NONEXISTENT');
    return m;
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
    return this.#write(async (c, changes) => {
      // The UID and MODSEQ are taken by this one UPDATE, which holds the mailbox row until COMMIT.
      const m = await row<{ account_id: number; uid: number; modseq: number; uid_validity: number }>(c,
        `UPDATE mailboxes SET uid_next = uid_next + 1, highest_modseq = highest_modseq + 1, message_count = message_count + 1,
           total_size = total_size + $2, unseen_count = unseen_count + $3
         WHERE id = $1 RETURNING account_id, uid_next - 1 AS uid, highest_modseq AS modseq, uid_validity`,
        [mailboxId, raw.length, hasSeen(flags) ? 0 : 1]);
      if (!m) throw new Refused(`mailbox ${mailboxId} does not exist`, 'NONEXISTENT');
      await this.#charge(c, m.account_id, raw.length);
      const now = this.#now();
      await this.#blobs.add(c, hash, raw, now);
      const stored = await this.#canonicalFlags(c, mailboxId, flags);
      await run(c, `INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, save_date, size, blob_hash, email_id, thread_id, index_json)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, [mailboxId, m.uid, m.modseq, flagText(stored), internalDate, now, raw.length, hash, emailId, threadId, indexJson]);
      changes.push({ kind: 'message-added', accountId: m.account_id, mailboxId, uid: m.uid, modseq: m.modseq });
      return { mailboxId, uidValidity: m.uid_validity, uid: m.uid, modseq: m.modseq };
    }, { mailboxes: [mailboxId] });
  }

  async listMessageStates(mailboxId: number): Promise<MessageState[]> {
    if (!validId(mailboxId)) return this.#read(async () => []);
    return (await this.#read((db) => rows<{ uid: number; modseq: number; flags: string }>(db, 'SELECT uid, modseq, flags FROM messages WHERE mailbox_id = $1 ORDER BY uid', [mailboxId])))
      .map((r) => ({ uid: r.uid, modseq: r.modseq, flags: parseFlagText(r.flags) }));
  }

  async #rows(db: Sql, mailboxId: number, uids: number[], withIndex: boolean): Promise<MessageRow[]> {
    if (uids.length === 0 || !validId(mailboxId)) return [];
    const cols = withIndex ? `${metaColumns}, index_json` : metaColumns;
    return rows<MessageRow>(db, `SELECT ${cols} FROM messages WHERE mailbox_id = $1 AND uid = ANY($2::bigint[]) ORDER BY uid`, [mailboxId, uids]);
  }

  /** Records in UID order; `index` is parsed from its JSON on first access only. */
  async getMessages(mailboxId: number, uids: number[], options: { index?: boolean } = {}): Promise<MessageRecord[]> {
    const list = checkUids(uids);
    return (await this.#read((db) => this.#rows(db, mailboxId, list, true))).map((r) => withLazyIndex(toMeta(r), r.index_json!));
  }

  async getMessageMeta(mailboxId: number, uids: number[]): Promise<MessageMeta[]> {
    const list = checkUids(uids);
    return (await this.#read((db) => this.#rows(db, mailboxId, list, false))).map(toMeta);
  }

  async readBlob(hash: string, range?: { start: number; end: number }): Promise<Buffer> {
    return this.#read((db) => this.#blobs.read(db, hash, range));
  }

  async storeFlags(mailboxId: number, uids: number[], options: StoreFlagsOptions): Promise<StoreFlagsResult> {
    checkId(mailboxId, 'mailbox');
    const list = checkUids(uids);
    const flags = normalizeFlags(options.flags);
    if (!['add', 'remove', 'replace'].includes(options.mode)) throw new BadCommand('invalid flag mode');
    const since = options.unchangedSince;
    if (since !== undefined && (!Number.isSafeInteger(since) || since < 0)) throw new BadCommand('invalid UNCHANGEDSINCE');
    return this.#write(async (c, changes) => {
      const m = await this.#lockMailbox(c, mailboxId);
      const given = await this.#canonicalFlags(c, mailboxId, flags);
      const givenKeys = new Set(given.map((f) => f.toLowerCase()));
      const updated: MessageState[] = [];
      const modified: number[] = [];
      let modseq = m.highest_modseq;
      let unseenDelta = 0;
      for (const r of await this.#rows(c, mailboxId, list, false)) {
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
        if (after.length === before.length && after.every((f) => before.includes(f))) continue;
        modseq += 1;
        await run(c, 'UPDATE messages SET flags = $1, modseq = $2 WHERE id = $3', [flagText(after), modseq, r.id]);
        unseenDelta += (hasSeen(after) ? 0 : 1) - (hasSeen(before) ? 0 : 1);
        updated.push({ uid: r.uid, modseq, flags: after });
        changes.push({ kind: 'flags-changed', accountId: m.account_id, mailboxId, uid: r.uid, modseq });
      }
      if (modseq !== m.highest_modseq) {
        await run(c, 'UPDATE mailboxes SET highest_modseq = $1, unseen_count = unseen_count + $2 WHERE id = $3', [modseq, unseenDelta, mailboxId]);
      }
      return { updated, modified };
    }, { mailboxes: [mailboxId] });
  }

  async expunge(mailboxId: number, uids: number[]): Promise<number[]> {
    checkId(mailboxId, 'mailbox');
    const list = checkUids(uids);
    return this.#write(async (c, changes) => {
      const m = await this.#lockMailbox(c, mailboxId);
      return this.#expungeTx(c, mailboxId, m.account_id, await this.#rows(c, mailboxId, list, false), changes);
    }, { mailboxes: [mailboxId] });
  }

  /** The caller holds the mailbox row lock. */
  async #expungeTx(c: Sql, mailboxId: number, accountId: number, list: MessageRow[], changes: Change[]): Promise<number[]> {
    if (list.length === 0) return [];
    let modseq = (await row<{ h: number }>(c, 'SELECT highest_modseq AS h FROM mailboxes WHERE id = $1', [mailboxId]))!.h;
    let size = 0;
    let unseen = 0;
    const out: number[] = [];
    for (const r of list) {
      modseq += 1;
      await run(c, 'DELETE FROM messages WHERE id = $1', [r.id]);
      await run(c, 'INSERT INTO tombstones (mailbox_id, uid, modseq) VALUES ($1, $2, $3) ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq',
        [mailboxId, r.uid, modseq]);
      await this.#blobs.release(c, r.blob_hash);
      size += r.size;
      if (!hasSeen(parseFlagText(r.flags))) unseen += 1;
      out.push(r.uid);
      changes.push({ kind: 'message-expunged', accountId, mailboxId, uid: r.uid, modseq });
    }
    await run(c, 'UPDATE mailboxes SET highest_modseq = $1, message_count = message_count - $2, total_size = total_size - $3, unseen_count = unseen_count - $4 WHERE id = $5',
      [modseq, list.length, size, unseen, mailboxId]);
    await run(c, 'UPDATE accounts SET used_bytes = used_bytes - $1 WHERE id = $2', [size, accountId]);
    return out;
  }

  async copyMessages(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    checkId(fromMailboxId, 'mailbox');
    checkId(toMailboxId, 'mailbox');
    const list = checkUids(uids);
    return this.#write((c, changes) => this.#copyTx(c, fromMailboxId, list, toMailboxId, false, changes), { mailboxes: [fromMailboxId, toMailboxId] });
  }

  async moveMessages(fromMailboxId: number, uids: number[], toMailboxId: number): Promise<CopyResult> {
    checkId(fromMailboxId, 'mailbox');
    checkId(toMailboxId, 'mailbox');
    const list = checkUids(uids);
    return this.#write((c, changes) => this.#copyTx(c, fromMailboxId, list, toMailboxId, true, changes), { mailboxes: [fromMailboxId, toMailboxId] });
  }

  /** COPY, or MOVE (RFC 6851: copy then expunge, one transaction; the EMAILID is kept). */
  async #copyTx(c: Sql, fromId: number, uids: number[], toId: number, move: boolean, changes: Change[]): Promise<CopyResult> {
    // Both mailbox rows, locked in id order (two nodes copying A→B and B→A do not deadlock).
    const locked = new Map<number, LockedMailbox>();
    for (const id of [...new Set([fromId, toId])].sort((a, b) => a - b)) locked.set(id, await this.#lockMailbox(c, id));
    const src = locked.get(fromId)!;
    const dst = locked.get(toId)!;
    const list = await this.#rows(c, fromId, uids, false);
    const total = list.reduce((s, r) => s + r.size, 0);
    const now = this.#now();
    let uid = dst.uid_next;
    let modseq = dst.highest_modseq;
    let unseen = 0;
    const mapping: CopyResult['mapping'] = [];
    if (list.length > 0) await this.#charge(c, dst.account_id, total, !(move && src.account_id === dst.account_id));
    for (const r of list) {
      const flags = await this.#canonicalFlags(c, toId, parseFlagText(r.flags));
      modseq += 1;
      await run(c, `INSERT INTO messages (mailbox_id, uid, modseq, flags, internal_date, save_date, size, blob_hash, email_id, thread_id, index_json)
        SELECT $1, $2, $3, $4, internal_date, $5, size, blob_hash, $6, thread_id, index_json FROM messages WHERE id = $7`,
        [toId, uid, modseq, flagText(flags), now, r.email_id /* RFC 8474 §5.1: a copy or move keeps the EMAILID */, r.id]);
      await this.#blobs.addRef(c, r.blob_hash);
      if (!hasSeen(flags)) unseen += 1;
      mapping.push({ from: r.uid, to: uid });
      changes.push({ kind: 'message-added', accountId: dst.account_id, mailboxId: toId, uid, modseq });
      uid += 1;
    }
    if (list.length > 0) {
      await run(c, `UPDATE mailboxes SET uid_next = $1, highest_modseq = $2, message_count = message_count + $3, total_size = total_size + $4,
        unseen_count = unseen_count + $5 WHERE id = $6`, [uid, modseq, list.length, total, unseen, toId]);
      if (move) await this.#expungeTx(c, fromId, src.account_id, list, changes);
    }
    return { uidValidity: dst.uid_validity, mapping };
  }

  async changesSince(mailboxId: number, modseq: number): Promise<JournalEntry> {
    this.#open();
    if (!Number.isSafeInteger(modseq) || modseq < 0) throw new BadCommand('invalid modseq');
    if (!validId(mailboxId)) throw new Refused(`mailbox ${mailboxId} does not exist`, 'NONEXISTENT');
    // One snapshot so the three reads agree.
    return this.#track(transaction(this.#pool, async (c) => {
      const m = await row<{ highest_modseq: number }>(c, 'SELECT highest_modseq FROM mailboxes WHERE id = $1', [mailboxId]);
      if (!m) throw new Refused(`mailbox ${mailboxId} does not exist`, 'NONEXISTENT');
      const changed = (await rows<{ uid: number; modseq: number; flags: string }>(c,
        'SELECT uid, modseq, flags FROM messages WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid', [mailboxId, modseq]))
        .map((r) => ({ uid: r.uid, modseq: r.modseq, flags: parseFlagText(r.flags) }));
      const expunged = (await rows<{ uid: number }>(c, 'SELECT uid FROM tombstones WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid', [mailboxId, modseq])).map((r) => r.uid);
      return { highestModseq: m.highest_modseq, changed, expunged };
    }, { begin: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' }));
  }

  async claimRecent(mailboxId: number): Promise<number[]> {
    checkId(mailboxId, 'mailbox');
    return this.#write(async (c) => {
      const m = await this.#lockMailbox(c, mailboxId);
      if (m.recent_uid >= m.uid_next - 1) return [];
      const uids = (await rows<{ uid: number }>(c, 'SELECT uid FROM messages WHERE mailbox_id = $1 AND uid > $2 ORDER BY uid', [mailboxId, m.recent_uid])).map((r) => r.uid);
      await run(c, 'UPDATE mailboxes SET recent_uid = $1 WHERE id = $2', [m.uid_next - 1, mailboxId]);
      return uids;
    }, { mailboxes: [mailboxId] });
  }

  /**
   * One statement (one snapshot): the mailbox, its first unseen message (messages_unseen), its
   * keywords, and its tombstones when they are no more than its messages. Every UID below uid_next
   * was given to one message, which is present or left a tombstone; so when uid_next - 1 -
   * tombstones = message_count, the UIDs are the gaps between tombstones and no message row is
   * read. Otherwise the runs are computed from the messages, in a REPEATABLE READ transaction.
   */
  async mailboxSnapshot(mailboxId: number): Promise<MailboxSnapshot | undefined> {
    if (!validId(mailboxId)) return this.#read(async () => undefined);
    const fast = await this.#read((db) => this.#snapshotRow(db, mailboxId));
    if (!fast) return undefined;
    if (fast.gaps !== null) return snapshotOf(fast, runsBetween(fast.gaps, fast.row.uid_next - 1));
    return this.#track(transaction(this.#pool, async (c) => {
      const again = await this.#snapshotRow(c, mailboxId);
      if (!again) return undefined;
      if (again.gaps !== null) return snapshotOf(again, runsBetween(again.gaps, again.row.uid_next - 1));
      const uids = await c.query<[number]>({ text: 'SELECT uid FROM messages WHERE mailbox_id = $1 ORDER BY uid', values: [mailboxId], rowMode: 'array' });
      return snapshotOf(again, runsOf(uids.rows.map((r) => r[0])));
    }, { begin: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' }));
  }

  /** The snapshot row; `gaps` is null when the tombstones cannot give the UIDs (see mailboxSnapshot). */
  async #snapshotRow(db: Sql, mailboxId: number): Promise<SnapshotRow | undefined> {
    const r = await row<MailboxRow & { recent_uid: number; first_unseen: number | null; keywords: string[]; gaps: string[] }>(db,
      `SELECT s.*, b.recent_uid,
         (SELECT x.uid FROM messages x WHERE x.mailbox_id = b.id AND position(' \\Seen ' in ' ' || x.flags || ' ') = 0 ORDER BY x.uid LIMIT 1) AS first_unseen,
         ARRAY(SELECT k.keyword FROM mailbox_keywords k WHERE k.mailbox_id = b.id) AS keywords,
         ARRAY(SELECT t.uid FROM tombstones t WHERE t.mailbox_id = b.id ORDER BY t.uid LIMIT b.message_count + 1) AS gaps
       FROM (${mailboxSelect} WHERE m.id = $1) s JOIN mailboxes b ON b.id = s.id`, [mailboxId]);
    if (!r) return undefined;
    // BIGINT arrays arrive as strings (pool.ts maps only BIGINT scalars to numbers).
    const gaps = r.gaps.map(Number);
    const complete = gaps.length <= r.message_count && r.uid_next - 1 - gaps.length === r.message_count;
    return { row: r, firstUnseen: r.first_unseen ?? 0, keywords: r.keywords, gaps: complete ? gaps : null };
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
    const id = await this.#write(async (c) => {
      const now = this.#now();
      await this.#blobs.add(c, hash, message.raw, now);
      const qid = (await row<{ id: number }>(c, 'INSERT INTO queue_messages (sender, blob_hash, size, created_at, dsn_ret, dsn_envid, account_id, dkim_sign) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id',
        [message.sender, hash, message.raw.length, now, message.dsnRet, message.dsnEnvid, message.accountId, dkimSign ? 1 : 0]))!.id;
      for (const r of message.recipients) {
        await run(c, 'INSERT INTO queue_recipients (message_id, address, notify, orcpt, next_attempt_at) VALUES ($1, $2, $3, $4, $5)',
          [qid, r.address, r.notify.map((n) => n.toUpperCase()).join(','), r.orcpt, now]);
      }
      return qid;
    });
    return (await this.getQueuedMessage(id))!;
  }

  async #queued(db: Sql, list: QueueMessageRow[]): Promise<QueuedMessage[]> {
    if (list.length === 0) return [];
    const recips = await rows<QueueRecipientRow>(db,
      'SELECT message_id, address, notify, orcpt, state, attempts, next_attempt_at, last_error FROM queue_recipients WHERE message_id = ANY($1::bigint[]) ORDER BY id',
      [list.map((r) => r.id)]);
    const byMessage = new Map<number, QueuedMessage['recipients']>();
    for (const r of recips) {
      let l = byMessage.get(r.message_id);
      if (!l) byMessage.set(r.message_id, (l = []));
      l.push({ address: r.address, notify: r.notify === '' ? [] : r.notify.split(','), orcpt: r.orcpt, state: r.state, attempts: r.attempts, nextAttemptAt: r.next_attempt_at, lastError: r.last_error });
    }
    return list.map((r) => ({
      id: r.id, sender: r.sender, blobHash: r.blob_hash, size: r.size, createdAt: r.created_at, dsnRet: r.dsn_ret, dsnEnvid: r.dsn_envid,
      accountId: r.account_id, dkimSign: r.dkim_sign === 1, recipients: byMessage.get(r.id) ?? [],
    }));
  }

  async listQueue(): Promise<QueuedMessage[]> {
    return this.#read(async (db) => this.#queued(db, await rows<QueueMessageRow>(db, 'SELECT * FROM queue_messages ORDER BY id')));
  }

  async getQueuedMessage(id: number): Promise<QueuedMessage | undefined> {
    if (!validId(id)) return this.#read(async () => undefined);
    return this.#read(async (db) => (await this.#queued(db, await rows<QueueMessageRow>(db, 'SELECT * FROM queue_messages WHERE id = $1', [id])))[0]);
  }

  /** Record an outcome for one recipient of a queued message (see Store). */
  async updateQueueRecipient(messageId: number, address: string, changes: { state?: QueueRecipientState; attempts?: number; nextAttemptAt?: number; lastError?: string | null }): Promise<void> {
    await this.#write(async (c) => {
      const r = await row<QueueRecipientRow & { id: number }>(c,
        'SELECT id, state, attempts, next_attempt_at, last_error FROM queue_recipients WHERE message_id = $1 AND address = $2 FOR UPDATE', [messageId, address]);
      if (!r) throw new Refused(`queued recipient ${address} of message ${messageId} does not exist`, 'NONEXISTENT');
      await run(c, 'UPDATE queue_recipients SET state = $1, attempts = $2, next_attempt_at = $3, last_error = $4 WHERE id = $5',
        [changes.state ?? r.state, changes.attempts ?? r.attempts, changes.nextAttemptAt ?? r.next_attempt_at, changes.lastError === undefined ? r.last_error : changes.lastError, r.id]);
    });
  }

  async removeQueuedMessage(id: number): Promise<void> {
    await this.#write(async (c) => {
      const r = validId(id) ? await row<{ blob_hash: string }>(c, 'SELECT blob_hash FROM queue_messages WHERE id = $1 FOR UPDATE', [id]) : undefined;
      if (!r) throw new Refused(`queued message ${id} does not exist`, 'NONEXISTENT');
      await run(c, 'DELETE FROM queue_messages WHERE id = $1', [id]);
      await this.#blobs.release(c, r.blob_hash);
    });
  }

  // ---- integrity ----

  async check(): Promise<string[]> {
    this.#open();
    return this.#track(transaction(this.#pool, (c) => this.#checkTx(c), { begin: 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' }));
  }

  async #checkTx(c: Sql): Promise<string[]> {
    const problems: string[] = [];
    const say = async (sql: string, text: (r: Record<string, unknown>) => string) => {
      for (const r of await rows<Record<string, unknown>>(c, sql)) problems.push(text(r));
    };
    await say('SELECT m.id, m.name, m.uid_next, MAX(x.uid) AS max_uid FROM mailboxes m JOIN messages x ON x.mailbox_id = m.id GROUP BY m.id HAVING MAX(x.uid) >= m.uid_next',
      (r) => `mailbox ${r['id']} (${r['name']}): uid_next ${r['uid_next']} is not above its highest UID ${r['max_uid']}`);
    await say('SELECT m.id, m.name, m.uid_next, MAX(t.uid) AS max_uid FROM mailboxes m JOIN tombstones t ON t.mailbox_id = m.id GROUP BY m.id HAVING MAX(t.uid) >= m.uid_next',
      (r) => `mailbox ${r['id']} (${r['name']}): uid_next ${r['uid_next']} is not above expunged UID ${r['max_uid']}`);
    await say('SELECT m.id, m.name, m.highest_modseq, MAX(x.modseq) AS max_modseq FROM mailboxes m JOIN messages x ON x.mailbox_id = m.id GROUP BY m.id HAVING MAX(x.modseq) > m.highest_modseq',
      (r) => `mailbox ${r['id']} (${r['name']}): a message modseq ${r['max_modseq']} is above highest_modseq ${r['highest_modseq']}`);
    await say('SELECT m.id, m.name, m.highest_modseq, MAX(t.modseq) AS max_modseq FROM mailboxes m JOIN tombstones t ON t.mailbox_id = m.id GROUP BY m.id HAVING MAX(t.modseq) > m.highest_modseq',
      (r) => `mailbox ${r['id']} (${r['name']}): a tombstone modseq ${r['max_modseq']} is above highest_modseq ${r['highest_modseq']}`);
    await say(`SELECT * FROM (SELECT m.id, m.name, m.message_count, m.total_size, m.unseen_count, COUNT(x.id)::bigint AS n, COALESCE(SUM(x.size), 0)::bigint AS s,
        COALESCE(SUM(CASE WHEN x.id IS NOT NULL AND NOT (${seenSql}) THEN 1 ELSE 0 END), 0)::bigint AS u
        FROM mailboxes m LEFT JOIN messages x ON x.mailbox_id = m.id GROUP BY m.id) q
        WHERE message_count != n OR total_size != s OR unseen_count != u`,
      (r) => `mailbox ${r['id']} (${r['name']}): counters (messages ${r['message_count']}, size ${r['total_size']}, unseen ${r['unseen_count']}) differ from its messages (${r['n']}, ${r['s']}, ${r['u']})`);
    await say(`SELECT * FROM (SELECT a.id, a.email, a.used_bytes, COALESCE((SELECT SUM(x.size) FROM messages x JOIN mailboxes m ON m.id = x.mailbox_id WHERE m.account_id = a.id), 0)::bigint AS s
        FROM accounts a) q WHERE used_bytes != s`,
      (r) => `account ${r['id']} (${r['email']}): used_bytes ${r['used_bytes']} but its messages total ${r['s']}`);
    await say(`SELECT * FROM (SELECT b.hash, b.refcount, (SELECT COUNT(*) FROM messages x WHERE x.blob_hash = b.hash) + (SELECT COUNT(*) FROM queue_messages q WHERE q.blob_hash = b.hash) AS n
        FROM blobs b) q WHERE refcount != n`,
      (r) => `blob ${r['hash']}: refcount ${r['refcount']} but ${r['n']} references`);
    await say(`SELECT b.hash, b.size, COALESCE(SUM(octet_length(c.data)), 0)::bigint AS s, COUNT(c.id)::bigint AS n, COALESCE(MAX(c.seq), -1) AS last
        FROM blobs b LEFT JOIN blob_chunks c ON c.hash = b.hash GROUP BY b.hash, b.size
        HAVING COALESCE(SUM(octet_length(c.data)), 0) != b.size OR COUNT(c.id) != COALESCE(MAX(c.seq), -1) + 1`,
      (r) => `blob ${r['hash']}: ${r['n']} chunks of ${r['s']} bytes, expected ${r['size']} bytes`);
    await say('SELECT x.mailbox_id, x.uid, x.size, b.size AS blob_size FROM messages x LEFT JOIN blobs b ON b.hash = x.blob_hash WHERE b.hash IS NULL OR b.size != x.size',
      (r) => r['blob_size'] === null
        ? `message ${r['mailbox_id']}/${r['uid']}: its blob is missing`
        : `message ${r['mailbox_id']}/${r['uid']}: size ${r['size']} but its blob has ${r['blob_size']} bytes`);
    // Spot check of content: re-hash a sample of blobs (bounded work on a large store).
    for (const r of await rows<{ hash: string }>(c, 'SELECT hash FROM blobs ORDER BY random() LIMIT 32')) {
      if (blobHash(await this.#blobs.read(c, r.hash)) !== r.hash) problems.push(`blob ${r.hash}: content does not match its hash`);
    }
    // Foreign keys are enforced by PostgreSQL itself (SQLite needs PRAGMA foreign_key_check).
    return problems;
  }
}
