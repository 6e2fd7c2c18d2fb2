// The push sub-store on SQLite (see ../push-store.ts for the contract and invariants). It shares
// the main store's better-sqlite3 handle; each write is one synchronous BEGIN IMMEDIATE
// transaction (never an await inside), so leases are exclusive across processes too.
import { randomBytes } from 'node:crypto';
import type { Database, Statement } from 'better-sqlite3';
import { Refused } from '../../shared/errors.js';
import type {
  EnqueueOutcome, FailureInput, FailureOutcome, MailboxPushState, NewPushSubscription, NotificationInput, OutboxItem, PushState,
  PushStore, PushSubscription, PushUrgency,
} from '../push-store.js';

interface SubscriptionRow {
  id: string; account_id: number; email: string; domain: string; device_id: string; device_name: string; callback_url: string; relay_host: string;
  p256dh: string | null; auth_secret: string | null; mailboxes: string; state: PushState; secret: string; code_hash: string | null;
  failed_codes: number; credential_fp: string; remote_address: string; created_at: number; activated_at: number | null; expires_at: number;
  last_notified_at: number | null; last_error: string | null; failing_since: number | null;
}
interface OutboxRow { id: number; subscription_id: string; kind: 'verification' | 'notification'; mailbox_id: number; payload: string; urgency: PushUrgency; attempts: number }

const subscriptionSelect = `SELECT s.*, a.email AS email, d.name AS domain FROM push_subscriptions s
  JOIN accounts a ON a.id = s.account_id JOIN domains d ON d.id = a.domain_id`;
/** Longest last_error kept. */
const maxErrorLength = 500;

function toSubscription(r: SubscriptionRow): PushSubscription {
  return {
    id: r.id, accountId: r.account_id, account: r.email, domain: r.domain, deviceId: r.device_id, deviceName: r.device_name,
    callbackUrl: r.callback_url, relayHost: r.relay_host,
    keys: r.p256dh !== null && r.auth_secret !== null ? { p256dh: r.p256dh, auth: r.auth_secret } : null,
    mailboxes: JSON.parse(r.mailboxes) as string[], state: r.state, secret: r.secret, codeHash: r.code_hash, failedCodes: r.failed_codes,
    credentialFingerprint: r.credential_fp, remoteAddress: r.remote_address, createdAt: r.created_at, activatedAt: r.activated_at,
    expiresAt: r.expires_at, lastNotifiedAt: r.last_notified_at, lastError: r.last_error, failingSince: r.failing_since,
  };
}

export class SqlitePushStore implements PushStore {
  #db: Database;
  #stmts = new Map<string, Statement>();

  constructor(db: Database) {
    this.#db = db;
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

  /**
   * The outbox's hot path (enqueue, lease, outcome): committed without its own fsync
   * (synchronous=NORMAL for this one transaction; WAL keeps it atomic and consistent). It becomes
   * durable with the next synced commit; a power loss before that can only drop or repeat a
   * notification, a ping the next change repeats anyway, while an fsync per step would hold the
   * event loop (and SMTP) for milliseconds per notification.
   */
  #lightWrite<T>(fn: () => T): Promise<T> {
    try {
      const previous = Number(this.#db.pragma('synchronous', { simple: true }));
      this.#db.pragma('synchronous = NORMAL');
      try {
        return Promise.resolve(this.#db.transaction(fn).immediate());
      } finally {
        this.#db.pragma(`synchronous = ${previous}`);
      }
    } catch (err) {
      return Promise.reject(err);
    }
  }

  #subscription(id: string): PushSubscription | undefined {
    const r = this.#get<SubscriptionRow>(`${subscriptionSelect} WHERE s.id = ?`, id);
    return r && toSubscription(r);
  }

  createSubscription(input: NewPushSubscription, options: { maxPerAccount: number }): Promise<{ subscription: PushSubscription; replaced: string | null }> {
    return this.#write(() => {
      const old = this.#get<{ id: string }>('SELECT id FROM push_subscriptions WHERE account_id = ? AND device_id = ?', input.accountId, input.deviceId);
      if (old) this.#run('DELETE FROM push_subscriptions WHERE id = ?', old.id);
      const count = this.#get<{ n: number }>('SELECT COUNT(*) AS n FROM push_subscriptions WHERE account_id = ?', input.accountId)!.n;
      if (count >= options.maxPerAccount) throw new Refused(`the account already has ${count} push subscriptions`, 'LIMIT');
      this.#run(
        `INSERT INTO push_subscriptions (id, account_id, device_id, device_name, callback_url, relay_host, p256dh, auth_secret, mailboxes,
           state, secret, code_hash, credential_fp, remote_address, created_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?)`,
        input.id, input.accountId, input.deviceId, input.deviceName, input.callbackUrl, input.relayHost, input.keys?.p256dh ?? null,
        input.keys?.auth ?? null, JSON.stringify(input.mailboxes), input.secret, input.codeHash, input.credentialFingerprint,
        input.remoteAddress, input.createdAt, input.expiresAt,
      );
      this.#run(`INSERT INTO push_outbox (subscription_id, kind, payload, urgency, next_attempt_at, created_at) VALUES (?, 'verification', ?, 'high', ?, ?)`,
        input.id, input.verificationPayload, input.createdAt, input.createdAt);
      return { subscription: this.#subscription(input.id)!, replaced: old?.id ?? null };
    });
  }

  async getSubscription(id: string): Promise<PushSubscription | undefined> {
    return this.#subscription(id);
  }

  async listSubscriptions(filter: { domain?: string; accountId?: number; states?: PushState[] } = {}): Promise<PushSubscription[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.domain !== undefined) where.push('d.name = ?'), params.push(filter.domain.toLowerCase());
    if (filter.accountId !== undefined) where.push('s.account_id = ?'), params.push(filter.accountId);
    if (filter.states !== undefined) where.push(`s.state IN (${filter.states.map(() => '?').join(', ') || 'NULL'})`), params.push(...filter.states);
    const sql = `${subscriptionSelect}${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY a.email_key, s.created_at, s.id`;
    return this.#all<SubscriptionRow>(sql, ...params).map(toSubscription);
  }

  async activeForAccount(accountId: number): Promise<PushSubscription[]> {
    return this.#all<SubscriptionRow>(`${subscriptionSelect} WHERE s.account_id = ? AND s.state = 'active'`, accountId).map(toSubscription);
  }

  activate(id: string, options: { now: number; mailboxes: MailboxPushState[] }): Promise<boolean> {
    return this.#write(() => {
      const n = this.#run(`UPDATE push_subscriptions SET state = 'active', code_hash = NULL, activated_at = ? WHERE id = ? AND state = 'pending'`, options.now, id);
      if (n === 0) return false;
      for (const m of options.mailboxes) {
        this.#run('INSERT OR REPLACE INTO push_mailbox_state (subscription_id, mailbox_id, notified_modseq, uid_next) VALUES (?, ?, ?, ?)',
          id, m.mailboxId, m.notifiedModseq, m.uidNext);
      }
      return true;
    });
  }

  recordWrongCode(id: string, maxFailures: number): Promise<{ failures: number; deleted: boolean }> {
    return this.#write(() => {
      this.#run(`UPDATE push_subscriptions SET failed_codes = failed_codes + 1 WHERE id = ? AND state = 'pending'`, id);
      const r = this.#get<{ failed_codes: number }>('SELECT failed_codes FROM push_subscriptions WHERE id = ?', id);
      if (!r) return { failures: 0, deleted: true };
      if (r.failed_codes >= maxFailures) {
        this.#run('DELETE FROM push_subscriptions WHERE id = ?', id);
        return { failures: r.failed_codes, deleted: true };
      }
      return { failures: r.failed_codes, deleted: false };
    });
  }

  renew(id: string, expiresAt: number): Promise<boolean> {
    return this.#write(() => {
      const n = this.#run(
        `UPDATE push_subscriptions SET expires_at = ?, state = CASE state WHEN 'suspended' THEN 'active' ELSE state END,
           failing_since = CASE state WHEN 'suspended' THEN NULL ELSE failing_since END WHERE id = ?`,
        expiresAt, id,
      );
      return n > 0;
    });
  }

  deleteSubscription(id: string): Promise<boolean> {
    return this.#write(() => this.#run('DELETE FROM push_subscriptions WHERE id = ?', id) > 0);
  }

  deleteExpired(now: number, pendingBefore: number): Promise<Array<{ subscription: PushSubscription; reason: 'pending-expired' | 'expired' }>> {
    return this.#write(() => {
      const rows = this.#all<SubscriptionRow>(
        `${subscriptionSelect} WHERE (s.state = 'pending' AND s.created_at < ?) OR s.expires_at <= ?`, pendingBefore, now);
      for (const r of rows) this.#run('DELETE FROM push_subscriptions WHERE id = ?', r.id);
      return rows.map((r) => ({ subscription: toSubscription(r), reason: r.expires_at <= now ? 'expired' as const : 'pending-expired' as const }));
    });
  }

  async getMailboxState(subscriptionId: string, mailboxId: number): Promise<MailboxPushState | undefined> {
    const r = this.#get<{ notified_modseq: number; uid_next: number }>(
      'SELECT notified_modseq, uid_next FROM push_mailbox_state WHERE subscription_id = ? AND mailbox_id = ?', subscriptionId, mailboxId);
    return r && { mailboxId, notifiedModseq: r.notified_modseq, uidNext: r.uid_next };
  }

  enqueueNotification(input: NotificationInput, merge?: (pendingPayload: string) => string): Promise<EnqueueOutcome> {
    return this.#lightWrite((): EnqueueOutcome => {
      const sub = this.#get<{ state: PushState }>('SELECT state FROM push_subscriptions WHERE id = ?', input.subscriptionId);
      if (!sub || sub.state !== 'active') return 'gone';
      const state = this.#get<{ notified_modseq: number }>(
        'SELECT notified_modseq FROM push_mailbox_state WHERE subscription_id = ? AND mailbox_id = ?', input.subscriptionId, input.mailboxId);
      const notified = state?.notified_modseq ?? 0;
      if (notified >= input.modseq) return 'stale';
      // Another notifier queued since this payload's base was read: its UIDs may be named already.
      if (notified !== input.since) return 'raced';
      this.#run('INSERT OR REPLACE INTO push_mailbox_state (subscription_id, mailbox_id, notified_modseq, uid_next) VALUES (?, ?, ?, ?)',
        input.subscriptionId, input.mailboxId, input.modseq, input.uidNext);
      const pending = this.#get<{ id: number; payload: string; urgency: PushUrgency }>(
        `SELECT id, payload, urgency FROM push_outbox WHERE subscription_id = ? AND mailbox_id = ? AND kind = 'notification' AND lease_until IS NULL
         ORDER BY id DESC LIMIT 1`, input.subscriptionId, input.mailboxId);
      if (pending) {
        const payload = merge ? merge(pending.payload) : input.payload;
        const urgency = pending.urgency === 'high' || input.urgency === 'high' ? 'high' : 'normal';
        this.#run('UPDATE push_outbox SET payload = ?, urgency = ? WHERE id = ?', payload, urgency, pending.id);
        return 'merged';
      }
      this.#run(`INSERT INTO push_outbox (subscription_id, kind, mailbox_id, payload, urgency, next_attempt_at, created_at) VALUES (?, 'notification', ?, ?, ?, ?, ?)`,
        input.subscriptionId, input.mailboxId, input.payload, input.urgency, input.now, input.now);
      return 'queued';
    });
  }

  leaseDue(now: number, leaseMs: number, limit: number): Promise<OutboxItem[]> {
    return this.#lightWrite(() => {
      // PostgreSQL: the same SELECT … FOR UPDATE SKIP LOCKED, then the UPDATE, in one transaction.
      const rows = this.#all<OutboxRow>(
        `SELECT o.id, o.subscription_id, o.kind, o.mailbox_id, o.payload, o.urgency, o.attempts FROM push_outbox o
         WHERE o.next_attempt_at <= ? AND (o.lease_until IS NULL OR o.lease_until <= ?) ORDER BY o.next_attempt_at, o.id LIMIT ?`,
        now, now, limit);
      const items: OutboxItem[] = [];
      for (const r of rows) {
        const subscription = this.#subscription(r.subscription_id);
        if (!subscription) continue;
        const leaseToken = randomBytes(12).toString('base64url');
        this.#run('UPDATE push_outbox SET lease_until = ?, lease_token = ? WHERE id = ?', now + leaseMs, leaseToken, r.id);
        items.push({ id: r.id, leaseToken, kind: r.kind, mailboxId: r.mailbox_id, payload: r.payload, urgency: r.urgency, attempts: r.attempts, subscription });
      }
      return items;
    });
  }

  recordSuccess(item: Pick<OutboxItem, 'id' | 'leaseToken'>, now: number): Promise<boolean> {
    return this.#lightWrite(() => {
      const row = this.#get<{ subscription_id: string; kind: string }>('SELECT subscription_id, kind FROM push_outbox WHERE id = ? AND lease_token = ?', item.id, item.leaseToken);
      if (!row) return false;
      this.#run('DELETE FROM push_outbox WHERE id = ?', item.id);
      this.#run(
        `UPDATE push_subscriptions SET last_error = NULL, failing_since = NULL${row.kind === 'notification' ? ', last_notified_at = ?' : ''} WHERE id = ?`,
        ...(row.kind === 'notification' ? [now] : []), row.subscription_id);
      return true;
    });
  }

  recordFailure(item: Pick<OutboxItem, 'id' | 'leaseToken'>, input: FailureInput): Promise<FailureOutcome> {
    return this.#lightWrite((): FailureOutcome => {
      const row = this.#get<{ subscription_id: string }>('SELECT subscription_id FROM push_outbox WHERE id = ? AND lease_token = ?', item.id, item.leaseToken);
      if (!row) return 'lost';
      const error = input.error.slice(0, maxErrorLength);
      if (input.end) {
        this.#run('DELETE FROM push_subscriptions WHERE id = ?', row.subscription_id);
        return 'ended';
      }
      this.#run('UPDATE push_outbox SET attempts = attempts + 1, next_attempt_at = ?, lease_until = NULL, lease_token = NULL, last_error = ? WHERE id = ?',
        input.retryAt, error, item.id);
      this.#run('UPDATE push_subscriptions SET last_error = ?, failing_since = COALESCE(failing_since, ?) WHERE id = ?', error, input.now, row.subscription_id);
      const sub = this.#get<{ failing_since: number; state: PushState }>('SELECT failing_since, state FROM push_subscriptions WHERE id = ?', row.subscription_id)!;
      if (sub.state === 'active' && input.now - sub.failing_since >= input.suspendAfterMs) {
        this.#run(`UPDATE push_subscriptions SET state = 'suspended' WHERE id = ?`, row.subscription_id);
        this.#run('DELETE FROM push_outbox WHERE subscription_id = ?', row.subscription_id);
        return 'suspended';
      }
      return 'retry';
    });
  }

  async nextDueAt(): Promise<number | null> {
    const r = this.#get<{ t: number | null }>('SELECT MIN(MAX(next_attempt_at, COALESCE(lease_until, 0))) AS t FROM push_outbox');
    return r?.t ?? null;
  }

  async getSetting(key: string): Promise<string | undefined> {
    return this.#get<{ value: string }>('SELECT value FROM push_settings WHERE key = ?', key)?.value;
  }

  setSetting(key: string, value: string): Promise<void> {
    return this.#write(() => {
      this.#run('INSERT INTO push_settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value', key, value);
    });
  }

  setSettingIfAbsent(key: string, value: string): Promise<string> {
    return this.#write(() => {
      this.#run('INSERT OR IGNORE INTO push_settings (key, value) VALUES (?, ?)', key, value);
      return this.#get<{ value: string }>('SELECT value FROM push_settings WHERE key = ?', key)!.value;
    });
  }
}
