// The outbound-queue sub-store on PostgreSQL (see ../queue-store.ts for the contract and
// invariants). It shares the main store's pool; each write is one transaction (pool.ts).
// Leasing across nodes: leaseDue picks due recipients with `SELECT … FOR UPDATE SKIP LOCKED`, so
// nodes working the queue at once take disjoint rows without waiting on each other, and stamps
// lease_until/lease_token in the same transaction. A node that dies mid-lease loses nothing: its
// rows keep their state and become due again when lease_until passes; its late record/finish calls
// match no row (the token changed), so an outcome is never recorded twice.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { BadCommand, Refused } from '../../shared/errors.js';
import type { QueueRecipientState } from '../store.js';
import type { AttemptOutcome, DkimKey, DsnAction, LeasedMessage, QueueRecipientDetail, QueueStore, QueuedMessageInfo } from '../queue-store.js';
import { PostgresBlobs } from './blobs.js';
import { row, rows, run, type Sql } from './pool.js';

interface RecipientRow {
  id: number; message_id: number; address: string; notify: string; orcpt: string | null; state: QueueRecipientState; attempts: number;
  next_attempt_at: number; last_error: string | null; status_code: string | null; remote_mta: string | null; dsn_pending: DsnAction | null;
  delay_notified: number; lease_until: number | null;
}
interface MessageRow { id: number; sender: string; blob_hash: string; size: number; created_at: number; dsn_ret: 'FULL' | 'HDRS' | null; dsn_envid: string | null; account_id: number | null; dkim_sign: number }
interface DkimRow { domain: string; selector: string; private_key: string; public_key: string; created_at: number }

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

type Tx = <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>;

export class PostgresQueueStore implements QueueStore {
  #pool: pg.Pool;
  #tx: Tx;
  #blobs = new PostgresBlobs();

  constructor(pool: pg.Pool, tx: Tx) {
    this.#pool = pool;
    this.#tx = tx;
  }

  leaseDue(options: { now: number; leaseMs: number; limit: number }): Promise<LeasedMessage[]> {
    const { now, leaseMs } = options;
    const limit = Math.max(1, Math.min(10_000, Math.floor(options.limit)));
    return this.#tx(async (c) => {
      const due = await rows<RecipientRow>(c,
        `SELECT ${recipientColumns} FROM queue_recipients
         WHERE ((state IN ('queued', 'deferred') AND next_attempt_at <= $1) OR dsn_pending IS NOT NULL)
           AND (lease_until IS NULL OR lease_until <= $1)
         ORDER BY next_attempt_at, id LIMIT $2
         FOR UPDATE SKIP LOCKED`, [now, limit]);
      if (due.length === 0) return [];
      const byMessage = new Map<number, RecipientRow[]>();
      for (const r of due) {
        let list = byMessage.get(r.message_id);
        if (!list) byMessage.set(r.message_id, (list = []));
        list.push(r);
      }
      const out: LeasedMessage[] = [];
      for (const [messageId, list] of byMessage) {
        const m = await row<MessageRow>(c, 'SELECT * FROM queue_messages WHERE id = $1', [messageId]);
        if (!m) continue;
        const leaseToken = randomBytes(12).toString('base64url');
        await run(c, 'UPDATE queue_recipients SET lease_until = $1, lease_token = $2 WHERE id = ANY($3::bigint[])', [now + leaseMs, leaseToken, list.map((r) => r.id)]);
        for (const r of list) r.lease_until = now + leaseMs;
        out.push({ message: toInfo(m), recipients: list.map(toDetail), leaseToken });
      }
      return out;
    });
  }

  record(leaseToken: string, outcomes: AttemptOutcome[]): Promise<number> {
    checkOutcomes(outcomes);
    return this.#tx((c) => this.#record(c, leaseToken, outcomes));
  }

  async #record(c: Sql, leaseToken: string, outcomes: AttemptOutcome[]): Promise<number> {
    let n = 0;
    for (const o of outcomes) {
      n += await run(c,
        `UPDATE queue_recipients SET state = $1, attempts = $2, next_attempt_at = $3, last_error = $4, status_code = $5, remote_mta = $6,
           dsn_pending = $7, delay_notified = CASE WHEN $8 THEN 1 ELSE delay_notified END
         WHERE id = $9 AND lease_token = $10`,
        [o.state, o.attempts, o.nextAttemptAt, o.lastError?.slice(0, maxErrorLength) ?? null, o.statusCode, o.remoteMta?.slice(0, 255) ?? null,
          o.dsnPending, Boolean(o.delayNotified), o.recipientId, leaseToken]);
    }
    return n;
  }

  /** Records `outcomes` (when given), clears the DSNs sent, ends the lease and deletes finished messages, in one transaction. */
  finish(leaseToken: string, options: { noticesSent: number[]; outcomes?: AttemptOutcome[] }): Promise<void> {
    if (options.outcomes) checkOutcomes(options.outcomes);
    return this.#tx(async (c) => {
      if (options.outcomes) await this.#record(c, leaseToken, options.outcomes);
      if (options.noticesSent.length > 0) {
        await run(c, 'UPDATE queue_recipients SET dsn_pending = NULL WHERE id = ANY($1::bigint[]) AND lease_token = $2', [options.noticesSent, leaseToken]);
      }
      const messages = await rows<{ message_id: number }>(c,
        'UPDATE queue_recipients SET lease_until = NULL, lease_token = NULL WHERE lease_token = $1 RETURNING message_id', [leaseToken]);
      for (const id of [...new Set(messages.map((m) => m.message_id))].sort((a, b) => a - b)) await this.#removeIfDone(c, id);
    });
  }

  async #removeIfDone(c: Sql, messageId: number): Promise<void> {
    // Lock the message row: two nodes finishing leases of one message decide once.
    const m = await row<{ blob_hash: string }>(c, 'SELECT blob_hash FROM queue_messages WHERE id = $1 FOR UPDATE', [messageId]);
    if (!m) return;
    const open = (await row<{ n: number }>(c,
      `SELECT COUNT(*)::bigint AS n FROM queue_recipients WHERE message_id = $1 AND (state IN ('queued', 'deferred') OR dsn_pending IS NOT NULL)`, [messageId]))!.n;
    if (open > 0) return;
    await run(c, 'DELETE FROM queue_messages WHERE id = $1', [messageId]);
    await this.#blobs.release(c, m.blob_hash);
  }

  release(leaseToken: string): Promise<void> {
    return this.#tx(async (c) => {
      await run(c, 'UPDATE queue_recipients SET lease_until = NULL, lease_token = NULL WHERE lease_token = $1', [leaseToken]);
    });
  }

  async nextDue(): Promise<number | null> {
    const r = await row<{ t: number | null }>(this.#pool,
      `SELECT MIN(GREATEST(CASE WHEN dsn_pending IS NOT NULL THEN 0 ELSE next_attempt_at END, COALESCE(lease_until, 0))) AS t
       FROM queue_recipients WHERE state IN ('queued', 'deferred') OR dsn_pending IS NOT NULL`);
    return r?.t ?? null;
  }

  retryNow(messageId: number | null, now: number): Promise<number> {
    return this.#tx(async (c) => {
      if (messageId === null) return run(c, `UPDATE queue_recipients SET next_attempt_at = $1 WHERE state IN ('queued', 'deferred')`, [now]);
      if (!(await row(c, 'SELECT 1 FROM queue_messages WHERE id = $1', [messageId]))) throw new Refused(`queued message ${messageId} does not exist`, 'NONEXISTENT');
      return run(c, `UPDATE queue_recipients SET next_attempt_at = $1 WHERE message_id = $2 AND state IN ('queued', 'deferred')`, [now, messageId]);
    });
  }

  async recipientDetails(messageId: number): Promise<QueueRecipientDetail[]> {
    return (await rows<RecipientRow>(this.#pool, `SELECT ${recipientColumns} FROM queue_recipients WHERE message_id = $1 ORDER BY id`, [messageId])).map(toDetail);
  }

  async getDkimKey(domain: string): Promise<DkimKey | undefined> {
    const r = await row<DkimRow>(this.#pool, 'SELECT * FROM dkim_keys WHERE domain = $1', [domain.toLowerCase()]);
    return r && toKey(r);
  }

  putDkimKey(key: DkimKey): Promise<void> {
    if (!/^[a-z0-9](?:[a-z0-9._-]{0,62})$/i.test(key.selector)) throw new BadCommand(`invalid DKIM selector ${JSON.stringify(key.selector)}`);
    return this.#tx(async (c) => {
      await run(c, `INSERT INTO dkim_keys (domain, selector, private_key, public_key, created_at) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (domain) DO UPDATE SET selector = excluded.selector, private_key = excluded.private_key, public_key = excluded.public_key, created_at = excluded.created_at`,
      [key.domain.toLowerCase(), key.selector, key.privateKey, key.publicKey, key.createdAt]);
    });
  }

  async listDkimKeys(): Promise<DkimKey[]> {
    return (await rows<DkimRow>(this.#pool, 'SELECT * FROM dkim_keys ORDER BY domain COLLATE "C"')).map(toKey);
  }

  removeDkimKey(domain: string): Promise<void> {
    return this.#tx(async (c) => {
      if ((await run(c, 'DELETE FROM dkim_keys WHERE domain = $1', [domain.toLowerCase()])) === 0) throw new Refused(`no DKIM key for ${domain}`, 'NONEXISTENT');
    });
  }

  async getSentCopy(accountId: number): Promise<boolean> {
    if (!Number.isSafeInteger(accountId) || accountId < 1) return false;
    return (await row<{ sent_copy: number }>(this.#pool, 'SELECT sent_copy FROM accounts WHERE id = $1', [accountId]))?.sent_copy === 1;
  }

  setSentCopy(accountId: number, on: boolean): Promise<void> {
    return this.#tx(async (c) => {
      if ((await run(c, 'UPDATE accounts SET sent_copy = $1 WHERE id = $2', [on ? 1 : 0, accountId])) === 0) throw new Refused(`account ${accountId} does not exist`, 'NONEXISTENT');
    });
  }
}
