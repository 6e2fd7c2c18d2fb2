// The push sub-store on PostgreSQL (see ../push-store.ts for the contract and invariants). It
// shares the main store's pool; each write is one transaction (pool.ts, retried on serialization
// failures and deadlocks). The outbox is leased with `SELECT … FOR UPDATE SKIP LOCKED`, so several
// nodes working it at once each take different rows and never wait on each other; a node that dies
// mid-lease loses nothing: its lease_until runs out and the row is due again.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { Refused } from '../../shared/errors.js';
import type {
  EnqueueOutcome, FailureInput, FailureOutcome, MailboxPushState, NewPushSubscription, NotificationInput, OutboxItem, PushState,
  PushStore, PushSubscription, PushUrgency,
} from '../push-store.js';
import { row, rows, run, type Sql } from './pool.js';

interface SubscriptionRow {
  id: string; account_id: number; email: string; domain: string; device_id: string; device_name: string; callback_url: string; relay_host: string;
  p256dh: string | null; auth_secret: string | null; mailboxes: string; state: PushState; secret: string; code_hash: string | null;
  failed_codes: number; credential_fp: string; remote_address: string; created_at: number; activated_at: number | null; expires_at: number;
  last_notified_at: number | null; last_error: string | null; failing_since: number | null;
}
interface OutboxRow { id: number; subscription_id: string; kind: 'verification' | 'notification'; mailbox_id: number; payload: string; urgency: PushUrgency; attempts: number }

const subscriptionSelect = `SELECT s.*, a.email AS email, d.name AS domain FROM push_subscriptions s
  JOIN accounts a ON a.id = s.account_id JOIN domains d ON d.id = a.domain_id`;
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

type Tx = <T>(fn: (c: pg.PoolClient) => Promise<T>) => Promise<T>;

export class PostgresPushStore implements PushStore {
  #pool: pg.Pool;
  #tx: Tx;

  constructor(pool: pg.Pool, tx: Tx) {
    this.#pool = pool;
    this.#tx = tx;
  }

  /**
   * The outbox's hot path (enqueue, lease, outcome), as on SQLite: committed without waiting for
   * the WAL flush (synchronous_commit = off for this transaction only). A crash can lose only the
   * last few of these steps: a notification dropped or repeated, never mail.
   */
  #lightTx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.#tx(async (c) => {
      await c.query('SET LOCAL synchronous_commit = off');
      return fn(c);
    });
  }

  async #subscription(db: Sql, id: string): Promise<PushSubscription | undefined> {
    const r = await row<SubscriptionRow>(db, `${subscriptionSelect} WHERE s.id = $1`, [id]);
    return r && toSubscription(r);
  }

  createSubscription(input: NewPushSubscription, options: { maxPerAccount: number }): Promise<{ subscription: PushSubscription; replaced: string | null }> {
    return this.#tx(async (c) => {
      // The account row serialises subscription changes of one account across nodes (the count check).
      await run(c, 'SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE', [input.accountId]);
      const old = await row<{ id: string }>(c, 'SELECT id FROM push_subscriptions WHERE account_id = $1 AND device_id = $2', [input.accountId, input.deviceId]);
      if (old) await run(c, 'DELETE FROM push_subscriptions WHERE id = $1', [old.id]);
      const count = (await row<{ n: number }>(c, 'SELECT COUNT(*)::bigint AS n FROM push_subscriptions WHERE account_id = $1', [input.accountId]))!.n;
      if (count >= options.maxPerAccount) throw new Refused(`the account already has ${count} push subscriptions`, 'LIMIT');
      await run(c,
        `INSERT INTO push_subscriptions (id, account_id, device_id, device_name, callback_url, relay_host, p256dh, auth_secret, mailboxes,
           state, secret, code_hash, credential_fp, remote_address, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $11, $12, $13, $14, $15)`,
        [input.id, input.accountId, input.deviceId, input.deviceName, input.callbackUrl, input.relayHost, input.keys?.p256dh ?? null,
          input.keys?.auth ?? null, JSON.stringify(input.mailboxes), input.secret, input.codeHash, input.credentialFingerprint,
          input.remoteAddress, input.createdAt, input.expiresAt]);
      await run(c, `INSERT INTO push_outbox (subscription_id, kind, payload, urgency, next_attempt_at, created_at) VALUES ($1, 'verification', $2, 'high', $3, $4)`,
        [input.id, input.verificationPayload, input.createdAt, input.createdAt]);
      return { subscription: (await this.#subscription(c, input.id))!, replaced: old?.id ?? null };
    });
  }

  getSubscription(id: string): Promise<PushSubscription | undefined> {
    return this.#subscription(this.#pool, id);
  }

  async listSubscriptions(filter: { domain?: string; accountId?: number; states?: PushState[] } = {}): Promise<PushSubscription[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.domain !== undefined) params.push(filter.domain.toLowerCase()), where.push(`d.name = $${params.length}`);
    if (filter.accountId !== undefined) params.push(filter.accountId), where.push(`s.account_id = $${params.length}`);
    if (filter.states !== undefined) params.push(filter.states), where.push(`s.state = ANY($${params.length}::text[])`);
    const sql = `${subscriptionSelect}${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY a.email_key COLLATE "C", s.created_at, s.id COLLATE "C"`;
    return (await rows<SubscriptionRow>(this.#pool, sql, params)).map(toSubscription);
  }

  async activeForAccount(accountId: number): Promise<PushSubscription[]> {
    return (await rows<SubscriptionRow>(this.#pool, `${subscriptionSelect} WHERE s.account_id = $1 AND s.state = 'active'`, [accountId])).map(toSubscription);
  }

  activate(id: string, options: { now: number; mailboxes: MailboxPushState[] }): Promise<boolean> {
    return this.#tx(async (c) => {
      const n = await run(c, `UPDATE push_subscriptions SET state = 'active', code_hash = NULL, activated_at = $1 WHERE id = $2 AND state = 'pending'`, [options.now, id]);
      if (n === 0) return false;
      for (const m of options.mailboxes) {
        await run(c, `INSERT INTO push_mailbox_state (subscription_id, mailbox_id, notified_modseq, uid_next) VALUES ($1, $2, $3, $4)
          ON CONFLICT (subscription_id, mailbox_id) DO UPDATE SET notified_modseq = excluded.notified_modseq, uid_next = excluded.uid_next`,
        [id, m.mailboxId, m.notifiedModseq, m.uidNext]);
      }
      return true;
    });
  }

  recordWrongCode(id: string, maxFailures: number): Promise<{ failures: number; deleted: boolean }> {
    return this.#tx(async (c) => {
      await run(c, `UPDATE push_subscriptions SET failed_codes = failed_codes + 1 WHERE id = $1 AND state = 'pending'`, [id]);
      const r = await row<{ failed_codes: number }>(c, 'SELECT failed_codes FROM push_subscriptions WHERE id = $1', [id]);
      if (!r) return { failures: 0, deleted: true };
      if (r.failed_codes >= maxFailures) {
        await run(c, 'DELETE FROM push_subscriptions WHERE id = $1', [id]);
        return { failures: r.failed_codes, deleted: true };
      }
      return { failures: r.failed_codes, deleted: false };
    });
  }

  renew(id: string, expiresAt: number): Promise<boolean> {
    return this.#tx(async (c) => (await run(c,
      `UPDATE push_subscriptions SET expires_at = $1, state = CASE state WHEN 'suspended' THEN 'active' ELSE state END,
         failing_since = CASE state WHEN 'suspended' THEN NULL ELSE failing_since END WHERE id = $2`, [expiresAt, id])) > 0);
  }

  deleteSubscription(id: string): Promise<boolean> {
    return this.#tx(async (c) => (await run(c, 'DELETE FROM push_subscriptions WHERE id = $1', [id])) > 0);
  }

  deleteExpired(now: number, pendingBefore: number): Promise<Array<{ subscription: PushSubscription; reason: 'pending-expired' | 'expired' }>> {
    return this.#tx(async (c) => {
      const found = await rows<SubscriptionRow>(c,
        `${subscriptionSelect} WHERE (s.state = 'pending' AND s.created_at < $1) OR s.expires_at <= $2 FOR UPDATE OF s SKIP LOCKED`, [pendingBefore, now]);
      for (const r of found) await run(c, 'DELETE FROM push_subscriptions WHERE id = $1', [r.id]);
      return found.map((r) => ({ subscription: toSubscription(r), reason: r.expires_at <= now ? 'expired' as const : 'pending-expired' as const }));
    });
  }

  async getMailboxState(subscriptionId: string, mailboxId: number): Promise<MailboxPushState | undefined> {
    const r = await row<{ notified_modseq: number; uid_next: number }>(this.#pool,
      'SELECT notified_modseq, uid_next FROM push_mailbox_state WHERE subscription_id = $1 AND mailbox_id = $2', [subscriptionId, mailboxId]);
    return r && { mailboxId, notifiedModseq: r.notified_modseq, uidNext: r.uid_next };
  }

  enqueueNotification(input: NotificationInput, merge?: (pendingPayload: string) => string): Promise<EnqueueOutcome> {
    return this.#lightTx(async (c): Promise<EnqueueOutcome> => {
      // Locking the subscription row makes "first node enqueues, the others find it stale" hold.
      const sub = await row<{ state: PushState }>(c, 'SELECT state FROM push_subscriptions WHERE id = $1 FOR UPDATE', [input.subscriptionId]);
      if (!sub || sub.state !== 'active') return 'gone';
      const state = await row<{ notified_modseq: number }>(c,
        'SELECT notified_modseq FROM push_mailbox_state WHERE subscription_id = $1 AND mailbox_id = $2', [input.subscriptionId, input.mailboxId]);
      const notified = state?.notified_modseq ?? 0;
      if (notified >= input.modseq) return 'stale';
      // Another notifier queued since this payload's base was read: its UIDs may be named already.
      if (notified !== input.since) return 'raced';
      await run(c, `INSERT INTO push_mailbox_state (subscription_id, mailbox_id, notified_modseq, uid_next) VALUES ($1, $2, $3, $4)
        ON CONFLICT (subscription_id, mailbox_id) DO UPDATE SET notified_modseq = excluded.notified_modseq, uid_next = excluded.uid_next`,
      [input.subscriptionId, input.mailboxId, input.modseq, input.uidNext]);
      const pending = await row<{ id: number; payload: string; urgency: PushUrgency }>(c,
        `SELECT id, payload, urgency FROM push_outbox WHERE subscription_id = $1 AND mailbox_id = $2 AND kind = 'notification' AND lease_until IS NULL
         ORDER BY id DESC LIMIT 1 FOR UPDATE SKIP LOCKED`, [input.subscriptionId, input.mailboxId]);
      if (pending) {
        const payload = merge ? merge(pending.payload) : input.payload;
        const urgency = pending.urgency === 'high' || input.urgency === 'high' ? 'high' : 'normal';
        await run(c, 'UPDATE push_outbox SET payload = $1, urgency = $2 WHERE id = $3', [payload, urgency, pending.id]);
        return 'merged';
      }
      await run(c, `INSERT INTO push_outbox (subscription_id, kind, mailbox_id, payload, urgency, next_attempt_at, created_at) VALUES ($1, 'notification', $2, $3, $4, $5, $6)`,
        [input.subscriptionId, input.mailboxId, input.payload, input.urgency, input.now, input.now]);
      return 'queued';
    });
  }

  leaseDue(now: number, leaseMs: number, limit: number): Promise<OutboxItem[]> {
    return this.#lightTx(async (c) => {
      // Rows another node is leasing right now are skipped, not waited for.
      const due = await rows<OutboxRow>(c,
        `SELECT o.id, o.subscription_id, o.kind, o.mailbox_id, o.payload, o.urgency, o.attempts FROM push_outbox o
         WHERE o.next_attempt_at <= $1 AND (o.lease_until IS NULL OR o.lease_until <= $1) ORDER BY o.next_attempt_at, o.id LIMIT $2
         FOR UPDATE SKIP LOCKED`, [now, limit]);
      const items: OutboxItem[] = [];
      for (const r of due) {
        const subscription = await this.#subscription(c, r.subscription_id);
        if (!subscription) continue;
        const leaseToken = randomBytes(12).toString('base64url');
        await run(c, 'UPDATE push_outbox SET lease_until = $1, lease_token = $2 WHERE id = $3', [now + leaseMs, leaseToken, r.id]);
        items.push({ id: r.id, leaseToken, kind: r.kind, mailboxId: r.mailbox_id, payload: r.payload, urgency: r.urgency, attempts: r.attempts, subscription });
      }
      return items;
    });
  }

  recordSuccess(item: Pick<OutboxItem, 'id' | 'leaseToken'>, now: number): Promise<boolean> {
    return this.#lightTx(async (c) => {
      const r = await row<{ subscription_id: string; kind: string }>(c,
        'DELETE FROM push_outbox WHERE id = $1 AND lease_token = $2 RETURNING subscription_id, kind', [item.id, item.leaseToken]);
      if (!r) return false;
      if (r.kind === 'notification') {
        await run(c, 'UPDATE push_subscriptions SET last_error = NULL, failing_since = NULL, last_notified_at = $1 WHERE id = $2', [now, r.subscription_id]);
      } else {
        await run(c, 'UPDATE push_subscriptions SET last_error = NULL, failing_since = NULL WHERE id = $1', [r.subscription_id]);
      }
      return true;
    });
  }

  recordFailure(item: Pick<OutboxItem, 'id' | 'leaseToken'>, input: FailureInput): Promise<FailureOutcome> {
    return this.#lightTx(async (c): Promise<FailureOutcome> => {
      const r = await row<{ subscription_id: string }>(c, 'SELECT subscription_id FROM push_outbox WHERE id = $1 AND lease_token = $2 FOR UPDATE', [item.id, item.leaseToken]);
      if (!r) return 'lost';
      const error = input.error.slice(0, maxErrorLength);
      if (input.end) {
        await run(c, 'DELETE FROM push_subscriptions WHERE id = $1', [r.subscription_id]);
        return 'ended';
      }
      await run(c, 'UPDATE push_outbox SET attempts = attempts + 1, next_attempt_at = $1, lease_until = NULL, lease_token = NULL, last_error = $2 WHERE id = $3',
        [input.retryAt, error, item.id]);
      const sub = (await row<{ failing_since: number; state: PushState }>(c,
        'UPDATE push_subscriptions SET last_error = $1, failing_since = COALESCE(failing_since, $2) WHERE id = $3 RETURNING failing_since, state',
        [error, input.now, r.subscription_id]))!;
      if (sub.state === 'active' && input.now - sub.failing_since >= input.suspendAfterMs) {
        await run(c, `UPDATE push_subscriptions SET state = 'suspended' WHERE id = $1`, [r.subscription_id]);
        await run(c, 'DELETE FROM push_outbox WHERE subscription_id = $1', [r.subscription_id]);
        return 'suspended';
      }
      return 'retry';
    });
  }

  async nextDueAt(): Promise<number | null> {
    const r = await row<{ t: number | null }>(this.#pool, 'SELECT MIN(GREATEST(next_attempt_at, COALESCE(lease_until, 0))) AS t FROM push_outbox');
    return r?.t ?? null;
  }

  async getSetting(key: string): Promise<string | undefined> {
    return (await row<{ value: string }>(this.#pool, 'SELECT value FROM push_settings WHERE key = $1', [key]))?.value;
  }

  setSetting(key: string, value: string): Promise<void> {
    return this.#tx(async (c) => {
      await run(c, 'INSERT INTO push_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value', [key, value]);
    });
  }

  setSettingIfAbsent(key: string, value: string): Promise<string> {
    return this.#tx(async (c) => {
      await run(c, 'INSERT INTO push_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value]);
      return (await row<{ value: string }>(c, 'SELECT value FROM push_settings WHERE key = $1', [key]))!.value;
    });
  }
}
