// The delivery worker: leases due outbox rows from the database (so with several nodes each is
// sent by one), sends them (signed webhook, or Web Push), and records the outcome.
//
// PUSH.md "Delivery": 2xx is success; 429, 5xx, other answers and network errors are retried with
// exponential backoff and jitter (retry_initial_ms doubling, at most retry_max_seconds apart),
// honouring Retry-After (RFC 9110 §10.2.3, seconds or an HTTP-date); 404 and 410 end the
// subscription; failing for suspend_after_hours suspends it. Nothing is sent for a subscription
// whose account's password changed since it was made: it is ended instead.
import type { Config } from '../config/schema.js';
import type { Store } from '../store/store.js';
import type { FailureOutcome, OutboxItem, PushSubscription } from '../store/push-store.js';
import type { Logger } from '../shared/logger.js';
import type { Clock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import { callbackTimeoutMs, checkCallbackUrl, type CallbackRequest, type PushTransport } from './callback.js';
import { signBody, signatureHeader } from './signing.js';
import { topicFor, webPushRequest, type VapidKeys } from './web-push.js';
import { endedReason, liveFingerprints } from './relay.js';

/** Rows leased per transaction. */
const batchSize = 50;
/** Requests in flight at once. */
const maxInFlight = 200;
/** A lease outlives the request's timeout comfortably. */
const leaseMs = callbackTimeoutMs * 3;
/** Look at the outbox at least this often (rows queued by other nodes). */
const pollMs = 5000;

export interface SendReport {
  subscriptionId: string;
  kind: OutboxItem['kind'];
  /** 1 for the first attempt of this outbox row. */
  attempt: number;
  status: number | null;
  outcome: 'sent' | FailureOutcome;
  error?: string;
}

export interface WorkerDeps {
  config: Config;
  store: Store;
  logger: Logger;
  clock: Clock;
  transport: PushTransport;
  vapid: VapidKeys;
  /** Every attempt's outcome (events for tests, metrics). */
  report: (report: SendReport) => void;
  ended: (sub: PushSubscription, reason: string) => void;
}

/** Retry-After as milliseconds from now, or undefined (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d{1,10}$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - now) : undefined;
}

/** Delay before attempt n+1 after n failures: initial·2^(n−1) with ±20 % jitter, at most max. */
export function backoffMs(failures: number, options: { initialMs: number; maxMs: number; random?: () => number }): number {
  const base = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(failures - 1, 40));
  const jitter = 0.8 + 0.4 * (options.random ?? Math.random)();
  return Math.min(options.maxMs, Math.round(base * jitter));
}

export class DeliveryWorker {
  readonly #deps: WorkerDeps;
  #timer: NodeJS.Timeout | undefined;
  #leasing: Promise<void> | undefined;
  #again = false;
  /** The last lease filled every free slot: there may be more due. */
  #full = false;
  readonly #inFlight = new Set<Promise<void>>();
  #closed = false;

  constructor(deps: WorkerDeps) {
    this.#deps = deps;
  }

  start(): void {
    this.kick();
  }

  /** Look at the outbox now. Sends run side by side (a slow relay holds up only its own rows). */
  kick(): void {
    if (this.#closed) return;
    if (this.#leasing) {
      this.#again = true;
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#leasing = this.#lease()
      .catch((err: unknown) => this.#deps.logger.error({ err: errorMessage(err) }, 'push worker lease failed'))
      .finally(() => {
        this.#leasing = undefined;
        if (this.#closed) return;
        if (this.#again) {
          this.#again = false;
          this.kick();
        } else void this.#schedule();
      });
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#leasing;
    await Promise.allSettled([...this.#inFlight]);
  }

  async #schedule(): Promise<void> {
    let delay = pollMs;
    try {
      const due = await this.#deps.store.push.nextDueAt();
      if (due !== null) delay = Math.max(0, Math.min(pollMs, due - this.#deps.clock.now()));
    } catch {
      // the store is closing; the poll retries
    }
    if (this.#closed || this.#leasing) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.kick(), delay);
    this.#timer.unref?.();
  }

  async #lease(): Promise<void> {
    const room = maxInFlight - this.#inFlight.size;
    if (room <= 0) return;
    const items = await this.#deps.store.push.leaseDue(this.#deps.clock.now(), leaseMs, Math.min(room, batchSize));
    this.#full = items.length === Math.min(room, batchSize);
    for (const item of items) {
      const p: Promise<void> = this.#send(item)
        .catch((err: unknown) => this.#deps.logger.error({ subscriptionId: item.subscription.id, err: errorMessage(err) }, 'push send failed'))
        .finally(() => {
          this.#inFlight.delete(p);
          if (this.#closed) return;
          if (this.#full) this.kick();
          else if (!this.#leasing) void this.#schedule();
        });
      this.#inFlight.add(p);
    }
    if (this.#full && this.#inFlight.size < maxInFlight) this.#again = true;
  }

  async #send(item: OutboxItem): Promise<void> {
    const { store, clock, config, logger } = this.#deps;
    const sub = item.subscription;
    const account = await store.getAccount(sub.accountId);
    if (!account || !(await liveFingerprints(store, account)).has(sub.credentialFingerprint)) {
      if (await store.push.deleteSubscription(sub.id)) this.#deps.ended(sub, endedReason(sub.credentialFingerprint));
      return;
    }
    const domain = await store.getDomain(sub.domain);
    let request: CallbackRequest;
    let status: number | null = null;
    let error: string;
    let retryAfter: number | undefined;
    let end = false;
    try {
      const checked = checkCallbackUrl(sub.callbackUrl, domain?.settings.pushAllowedHosts ?? []);
      request = this.#request(item, checked.allowed);
      const res = await this.#deps.transport(request);
      status = res.status;
      if (status >= 200 && status < 300) {
        if (await store.push.recordSuccess(item, clock.now())) {
          this.#deps.report({ subscriptionId: sub.id, kind: item.kind, attempt: item.attempts + 1, status, outcome: 'sent' });
        }
        return;
      }
      end = status === 404 || status === 410;
      error = `HTTP ${status}${status >= 300 && status < 400 ? ' (redirects are not followed)' : ''}`;
      if (status === 429 || status === 503) retryAfter = parseRetryAfter(res.headers['retry-after'], clock.now());
    } catch (err) {
      error = errorMessage(err);
    }
    const now = clock.now();
    const maxMs = config.push.retry_max_seconds * 1000;
    const delay = Math.min(maxMs, Math.max(backoffMs(item.attempts + 1, { initialMs: config.push.retry_initial_ms, maxMs }), retryAfter ?? 0));
    const outcome = await store.push.recordFailure(item, { now, error, retryAt: now + delay, end, suspendAfterMs: config.push.suspend_after_hours * 3_600_000 });
    if (outcome === 'ended') {
      logger.info({ subscriptionId: sub.id, account: sub.account, relay: sub.relayHost, status }, 'push subscription ended by the relay');
      this.#deps.ended(sub, `HTTP ${status}`);
    } else if (outcome === 'suspended') {
      logger.warn({ subscriptionId: sub.id, account: sub.account, relay: sub.relayHost, error }, 'push subscription suspended after failing too long');
    } else if (outcome === 'retry') {
      logger.debug({ subscriptionId: sub.id, relay: sub.relayHost, error, retryInMs: delay }, 'push delivery failed; will retry');
    }
    this.#deps.report({ subscriptionId: sub.id, kind: item.kind, attempt: item.attempts + 1, status, outcome, error });
  }

  #request(item: OutboxItem, allowPrivate: boolean): CallbackRequest {
    const sub = item.subscription;
    const { config, clock } = this.#deps;
    if (sub.keys) {
      return webPushRequest({ endpoint: sub.callbackUrl, keys: sub.keys, allowPrivate }, item.payload, {
        vapid: this.#deps.vapid,
        subject: `mailto:postmaster@${sub.domain}`,
        ttlSeconds: config.push.web_push_ttl_seconds,
        urgency: item.urgency,
        topic: topicFor(item.kind === 'verification' ? 0 : item.mailboxId),
      });
    }
    const body = Buffer.from(item.payload, 'utf8');
    return {
      url: sub.callbackUrl,
      method: 'POST',
      headers: {
        'Content-Type': 'application/json; charset=utf-8',
        'User-Agent': 'Pigeon-Push/1',
        [signatureHeader]: signBody(sub.secret, body, { now: clock.now() }),
      },
      body,
      allowPrivate,
    };
  }
}
