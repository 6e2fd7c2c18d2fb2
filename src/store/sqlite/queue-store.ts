// The outbound-queue sub-store on SQLite (see ../queue-store.ts for the contract and invariants).
// It shares the main store's better-sqlite3 handle; each write is one synchronous BEGIN IMMEDIATE
// transaction (never an await inside), so leases are exclusive across processes too.
import { randomBytes } from 'node:crypto';
import type { Database, Statement } from 'better-sqlite3';
import { BadCommand, Refused } from '../../shared/errors.js';
import type { QueueRecipientState } from '../store.js';
import type { AttemptOutcome, DkimKey, DsnAction, LeasedMessage, QueueRecipientDetail, QueueStore, QueuedMessageInfo } from '../queue-store.js';
import { SqliteBlobs } from './blobs.js';

interface RecipientRow {
  id: number; message_id: number; address: string; notify: string; orcpt: string | null; state: QueueRecipientState; attempts: number;
  next_attempt_at: number; last_error: string | null; status_code: string | null; remote_mta: string | null; dsn_pending: DsnAction | null;
  delay_notified: number; lease_until: number | null;
}
interface MessageRow { id: number; sender: string; blob_hash: string; size: number; created_at: number; dsn_ret: 'FULL' | 'HDRS' | null; dsn_envid: string | null; account_id: number | null; dkim_sign: number }
interface DkimRow { domain: string; selector: string; private_key: string; public_key: string; created_at: number }

/** Lease ends per group-commit transaction. */
const maxFinishBatch = 256;
/** Longest last_error kept. */
const maxErrorLength = 1000;
const recipientColumns = 'id, message_id, address, notify, orcpt, state, attempts, next_attempt_at, last_error, status_code, remote_mta, dsn_pending, delay_notified, lease_until';
const states: readonly QueueRecipientState[] = ['queued', 'delivered', 'deferred', 'failed'];
const actions: readonly DsnAction[] = ['delivered', 'relayed', 'delayed', 'failed'];

function checkOutcomes(outcomes: AttemptOutcome[]): void {
  for (const o of outcomes) {
    if (!states.includes(o.state)) throw new BadCommand(`invalid queue state ${String(o.state)}`);
    if (o.dsnPending !== null && !actions.includes(o.dsnPending)) throw new BadCommand(`invalid DSN action ${String(o.dsnPending)}`);
  }
}

function toDetail(r: RecipientRow): QueueRecipientDetail {
  return {
    id: r.id, messageId: r.message_id, address: r.address, notify: r.notify === '' ? [] : r.notify.split(','), orcpt: r.orcpt, state: r.state,
    attempts: r.attempts, nextAttemptAt: r.next_attempt_at, lastError: r.last_error, statusCode: r.status_code, remoteMta: r.remote_mta,
    dsnPending: r.dsn_pending, delayNotified: r.delay_notified === 1, leaseUntil: r.lease_until,
  };
}

function toInfo(r: MessageRow): QueuedMessageInfo {
  return { id: r.id, sender: r.sender, blobHash: r.blob_hash, size: r.size, createdAt: r.created_at, dsnRet: r.dsn_ret, dsnEnvid: r.dsn_envid, accountId: r.account_id,
    dkimSign: r.dkim_sign === 1 };
}

function toKey(r: DkimRow): DkimKey {
  return { domain: r.domain, selector: r.selector, privateKey: r.private_key, publicKey: r.public_key, createdAt: r.created_at };
}

export class SqliteQueueStore implements QueueStore {
  #db: Database;
  #blobs: SqliteBlobs;
  #stmts = new Map<string, Statement>();
  #finishes: Array<{ run: () => void; resolve: () => void; reject: (err: unknown) => void }> = [];

  constructor(db: Database) {
    this.#db = db;
    this.#blobs = new SqliteBlobs(db);
  }

  #stmt<R = unknown>(sql: string): Statement<unknown[], R> {
    let s = this.#stmts.get(sql);
    if (!s) this.#stmts.set(sql, (s = this.#db.prepare(sql)));
    return s as Statement<unknown[], R>;
  }

  #get<R>(sql: string, ...params: unknown[]): R | undefined {
    return this.#stmt<R>(sql).get(...params);
  }

  #all<R>(sql: string, ...params: unknown[]): R[] {
    return this.#stmt<R>(sql).all(...params);
  }

  #run(sql: string, ...params: unknown[]): number {
    return this.#stmt(sql).run(...params).changes;
  }

  #write<T>(fn: () => T): Promise<T> {
    try {
      return Promise.resolve(this.#db.transaction(fn).immediate());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  leaseDue(options: { now: number; leaseMs: number; limit: number }): Promise<LeasedMessage[]> {
    const { now, leaseMs } = options;
    const limit = Math.max(1, Math.min(10_000, Math.floor(options.limit)));
    return this.#write(() => {
      const rows = this.#all<RecipientRow>(
        `SELECT ${recipientColumns} FROM queue_recipients
         WHERE ((state IN ('queued', 'deferred') AND next_attempt_at <= ?) OR dsn_pending IS NOT NULL)
           AND (lease_until IS NULL OR lease_until <= ?)
         ORDER BY next_attempt_at, id LIMIT ?`, now, now, limit);
      if (rows.length === 0) return [];
      const byMessage = new Map<number, RecipientRow[]>();
      for (const r of rows) {
        let list = byMessage.get(r.message_id);
        if (!list) byMessage.set(r.message_id, (list = []));
        list.push(r);
      }
      const out: LeasedMessage[] = [];
      for (const [messageId, list] of byMessage) {
        const m = this.#get<MessageRow>('SELECT * FROM queue_messages WHERE id = ?', messageId);
        if (!m) continue;
        const leaseToken = randomBytes(12).toString('base64url');
        for (const r of list) {
          this.#run('UPDATE queue_recipients SET lease_until = ?, lease_token = ? WHERE id = ?', now + leaseMs, leaseToken, r.id);
          r.lease_until = now + leaseMs;
        }
        out.push({ message: toInfo(m), recipients: list.map(toDetail), leaseToken });
      }
      return out;
    });
  }

  record(leaseToken: string, outcomes: AttemptOutcome[]): Promise<number> {
    checkOutcomes(outcomes);
    return this.#write(() => this.#record(leaseToken, outcomes));
  }

  #record(leaseToken: string, outcomes: AttemptOutcome[]): number {
    let n = 0;
    for (const o of outcomes) {
      n += this.#run(
        `UPDATE queue_recipients SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ?, status_code = ?, remote_mta = ?,
           dsn_pending = ?, delay_notified = CASE WHEN ? THEN 1 ELSE delay_notified END
         WHERE id = ? AND lease_token = ?`,
        o.state, o.attempts, o.nextAttemptAt, o.lastError?.slice(0, maxErrorLength) ?? null, o.statusCode, o.remoteMta?.slice(0, 255) ?? null,
        o.dsnPending, o.delayNotified ? 1 : 0, o.recipientId, leaseToken,
      );
    }
    return n;
  }

  /**
   * Group commit: the finishes issued in one event-loop turn (many connections ending their
   * messages together) share one transaction and one fsync, each in its own savepoint.
   */
  finish(leaseToken: string, options: { noticesSent: number[]; outcomes?: AttemptOutcome[] }): Promise<void> {
    if (options.outcomes) checkOutcomes(options.outcomes);
    return new Promise((resolve, reject) => {
      this.#finishes.push({ run: () => this.#finish(leaseToken, options), resolve, reject });
      if (this.#finishes.length === 1) setImmediate(() => this.#flushFinishes());
    });
  }

  #flushFinishes(): void {
    const batch = this.#finishes.splice(0, maxFinishBatch);
    if (this.#finishes.length > 0) setImmediate(() => this.#flushFinishes());
    const errors = new Map<number, unknown>();
    try {
      this.#db.transaction(() => {
        batch.forEach((f, i) => {
          try {
            this.#db.transaction(f.run)();
          } catch (err) {
            errors.set(i, err);
          }
        });
      }).immediate();
    } catch (err) {
      for (const f of batch) f.reject(err);
      return;
    }
    batch.forEach((f, i) => (errors.has(i) ? f.reject(errors.get(i)) : f.resolve()));
  }

  #finish(leaseToken: string, options: { noticesSent: number[]; outcomes?: AttemptOutcome[] }): void {
    if (options.outcomes) this.#record(leaseToken, options.outcomes);
    for (const id of options.noticesSent) this.#run('UPDATE queue_recipients SET dsn_pending = NULL WHERE id = ? AND lease_token = ?', id, leaseToken);
    const messages = this.#all<{ message_id: number }>('SELECT DISTINCT message_id FROM queue_recipients WHERE lease_token = ?', leaseToken);
    this.#run('UPDATE queue_recipients SET lease_until = NULL, lease_token = NULL WHERE lease_token = ?', leaseToken);
    for (const { message_id: id } of messages) this.#removeIfDone(id);
  }

  #removeIfDone(messageId: number): void {
    const open = this.#get<{ n: number }>(
      `SELECT COUNT(*) AS n FROM queue_recipients WHERE message_id = ? AND (state IN ('queued', 'deferred') OR dsn_pending IS NOT NULL)`, messageId)!.n;
    if (open > 0) return;
    const m = this.#get<{ blob_hash: string }>('SELECT blob_hash FROM queue_messages WHERE id = ?', messageId);
    if (!m) return;
    this.#run('DELETE FROM queue_messages WHERE id = ?', messageId);
    this.#blobs.release(m.blob_hash);
  }

  release(leaseToken: string): Promise<void> {
    return this.#write(() => {
      this.#run('UPDATE queue_recipients SET lease_until = NULL, lease_token = NULL WHERE lease_token = ?', leaseToken);
    });
  }

  async nextDue(): Promise<number | null> {
    const r = this.#get<{ t: number | null }>(
      `SELECT MIN(MAX(CASE WHEN dsn_pending IS NOT NULL THEN 0 ELSE next_attempt_at END, COALESCE(lease_until, 0))) AS t
       FROM queue_recipients WHERE state IN ('queued', 'deferred') OR dsn_pending IS NOT NULL`);
    return r?.t ?? null;
  }

  retryNow(messageId: number | null, now: number): Promise<number> {
    return this.#write(() => {
      if (messageId === null) return this.#run(`UPDATE queue_recipients SET next_attempt_at = ? WHERE state IN ('queued', 'deferred')`, now);
      if (!this.#get('SELECT 1 FROM queue_messages WHERE id = ?', messageId)) throw new Refused(`queued message ${messageId} does not exist`, 'NONEXISTENT');
      return this.#run(`UPDATE queue_recipients SET next_attempt_at = ? WHERE message_id = ? AND state IN ('queued', 'deferred')`, now, messageId);
    });
  }

  async recipientDetails(messageId: number): Promise<QueueRecipientDetail[]> {
    return this.#all<RecipientRow>(`SELECT ${recipientColumns} FROM queue_recipients WHERE message_id = ? ORDER BY id`, messageId).map(toDetail);
  }

  async getDkimKey(domain: string): Promise<DkimKey | undefined> {
    const r = this.#get<DkimRow>('SELECT * FROM dkim_keys WHERE domain = ?', domain.toLowerCase());
    return r && toKey(r);
  }

  putDkimKey(key: DkimKey): Promise<void> {
    if (!/^[a-z0-9](?:[a-z0-9._-]{0,62})$/i.test(key.selector)) throw new BadCommand(`invalid DKIM selector ${JSON.stringify(key.selector)}`);
    return this.#write(() => {
      this.#run('INSERT OR REPLACE INTO dkim_keys (domain, selector, private_key, public_key, created_at) VALUES (?, ?, ?, ?, ?)',
        key.domain.toLowerCase(), key.selector, key.privateKey, key.publicKey, key.createdAt);
    });
  }

  async listDkimKeys(): Promise<DkimKey[]> {
    return this.#all<DkimRow>('SELECT * FROM dkim_keys ORDER BY domain').map(toKey);
  }

  removeDkimKey(domain: string): Promise<void> {
    return this.#write(() => {
      if (this.#run('DELETE FROM dkim_keys WHERE domain = ?', domain.toLowerCase()) === 0) throw new Refused(`no DKIM key for ${domain}`, 'NONEXISTENT');
    });
  }

  async getSentCopy(accountId: number): Promise<boolean> {
    return this.#get<{ sent_copy: number }>('SELECT sent_copy FROM accounts WHERE id = ?', accountId)?.sent_copy === 1;
  }

  setSentCopy(accountId: number, on: boolean): Promise<void> {
    return this.#write(() => {
      if (this.#run('UPDATE accounts SET sent_copy = ? WHERE id = ?', on ? 1 : 0, accountId) === 0) throw new Refused(`account ${accountId} does not exist`, 'NONEXISTENT');
    });
  }
}
