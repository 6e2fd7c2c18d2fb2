// Push mail integration (PUSH.md, "Integrated Accounts"): the subscriptions service behind the
// Subscribe URL, the notifier fed by the store's change feed, the delivery worker that works the
// outbox, and the sweeper that drops expired subscriptions. main.ts starts it with
// startPushService; http/push-routes.ts serves the relay protocol through `relay`.
//
// Invariants:
// - Notifications come only from the change feed (nothing polls mail); the outbox is the only way
//   out, leased from the database, so several nodes send each notification once.
// - Nothing but the verification is sent to a callback before the subscription is activated.
// - A subscription ends when: the relay says 404/410 or DELETEs it, it expires, it stays pending
//   past pending_ttl_seconds, the credential it was made with ends (the account's password
//   changes, or the app password it was made with is revoked: credential fingerprint, checked
//   before every send and on each sweep), or an admin removes it. A password change leaves the
//   subscriptions made with app passwords alone.
// - Push never sees a password: subscriptions keep a fingerprint of the stored hash.
import { EventEmitter } from 'node:events';
import type { Config } from '../config/schema.js';
import type { Store } from '../store/store.js';
import type { PushSubscription } from '../store/push-store.js';
import type { Logger } from '../shared/logger.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { errorMessage } from '../shared/errors.js';
import { safeTransport, type PushTransport } from './callback.js';
import { Notifier } from './notifier.js';
import { DeliveryWorker, type SendReport } from './worker.js';
import { RelayError, RelayProtocol, endedReason, liveFingerprints } from './relay.js';
import { ensureVapidKeys } from './web-push.js';

/** The admin's server-wide switch, in push_settings ('on' | 'off'; absent = on). */
export const serverSwitchSetting = 'enabled';
/** Expired subscriptions and old credentials are looked for this often. */
const sweepMs = 60_000;
/** Addresses tracked by the SUBSCRIBE rate limit. */
const maxTrackedAddresses = 10_000;

export interface PushEvents {
  /** An attempt's outcome. */
  attempt: [SendReport];
  /** A subscription ended (relay 404/410, password change, app password revoked, expiry). */
  ended: [{ subscription: PushSubscription; reason: string }];
}

export interface PushService {
  readonly relay: RelayProtocol;
  readonly events: EventEmitter<PushEvents>;
  /** VAPID public key (base64url) to hand to Web Push subscribers (RFC 8292 §3.2 "k"). */
  readonly vapidPublicKey: string;
  /** Server-wide switch: config `[push] enabled` and the admin's setting. */
  isEnabled(): Promise<boolean>;
  /** Counts one SUBSCRIBE from this address; throws RelayError 429 over `subscribe_rate_per_minute`. */
  checkSubscribeRate(remoteAddress: string): void;
  /** Drop expired and pending-too-long subscriptions and those made with an old password or a revoked app password. */
  sweep(): Promise<void>;
  /** Work the outbox now (after the clock moved in tests). */
  kick(): void;
  close(): Promise<void>;
}

export interface PushServiceDeps {
  config: Config;
  store: Store;
  logger: Logger;
  clock?: Clock;
  /** How callbacks are sent (default: safeTransport). */
  fetch?: PushTransport;
}

class RateLimiter {
  #windows = new Map<string, { start: number; count: number }>();
  readonly #perMinute: number;
  readonly #clock: Clock;
  constructor(perMinute: number, clock: Clock) {
    this.#perMinute = perMinute;
    this.#clock = clock;
  }
  /** Seconds to wait, or 0 when this attempt is allowed (and counted). */
  take(key: string): number {
    const now = this.#clock.now();
    let w = this.#windows.get(key);
    if (!w || now - w.start >= 60_000) {
      if (!w && this.#windows.size >= maxTrackedAddresses) {
        const oldest = this.#windows.keys().next().value;
        if (oldest !== undefined) this.#windows.delete(oldest);
      }
      this.#windows.delete(key);
      this.#windows.set(key, (w = { start: now, count: 0 }));
    }
    if (w.count >= this.#perMinute) return Math.max(1, Math.ceil((w.start + 60_000 - now) / 1000));
    w.count++;
    return 0;
  }
}

export async function startPushService(deps: PushServiceDeps): Promise<PushService> {
  const { config, store } = deps;
  const logger = deps.logger.child({ component: 'push' });
  const clock = deps.clock ?? systemClock;
  const events = new EventEmitter<PushEvents>();
  const vapid = await ensureVapidKeys(store.push);
  const isEnabled = async () => config.push.enabled && (await store.push.getSetting(serverSwitchSetting)) !== 'off';
  const ended = (subscription: PushSubscription, reason: string) => {
    logger.info({ subscriptionId: subscription.id, account: subscription.account, relay: subscription.relayHost, reason }, 'push subscription ended');
    events.emit('ended', { subscription, reason });
  };
  const worker = new DeliveryWorker({
    config, store, logger, clock, vapid, transport: deps.fetch ?? safeTransport, ended,
    report: (r) => events.emit('attempt', r),
  });
  const notifier = new Notifier({ store, logger, clock, coalesceMs: config.push.coalesce_ms, serverEnabled: isEnabled, queued: () => worker.kick(), ended });
  const relay = new RelayProtocol({ config, store, logger, clock, serverEnabled: isEnabled, kick: () => worker.kick() });
  const limiter = new RateLimiter(config.push.subscribe_rate_per_minute, clock);

  const sweep = async () => {
    const now = clock.now();
    for (const { subscription, reason } of await store.push.deleteExpired(now, now - config.push.pending_ttl_seconds * 1000)) {
      ended(subscription, reason === 'expired' ? 'expired' : 'not activated in time');
    }
    const fingerprints = new Map<number, Set<string>>();
    for (const sub of await store.push.listSubscriptions()) {
      let live = fingerprints.get(sub.accountId);
      if (live === undefined) {
        const account = await store.getAccount(sub.accountId);
        fingerprints.set(sub.accountId, (live = account ? await liveFingerprints(store, account) : new Set()));
      }
      if (!live.has(sub.credentialFingerprint) && (await store.push.deleteSubscription(sub.id))) ended(sub, endedReason(sub.credentialFingerprint));
    }
  };

  let sweeping: Promise<void> | undefined;
  const runSweep = () => {
    sweeping ??= sweep()
      .catch((err: unknown) => logger.error({ err: errorMessage(err) }, 'push sweep failed'))
      .finally(() => (sweeping = undefined));
    return sweeping;
  };
  const sweepTimer = setInterval(() => void runSweep(), Math.min(sweepMs, config.push.pending_ttl_seconds * 1000));
  sweepTimer.unref();

  notifier.start();
  worker.start();
  await runSweep();

  return {
    relay,
    events,
    vapidPublicKey: vapid.publicKey,
    isEnabled,
    checkSubscribeRate(remoteAddress) {
      const wait = limiter.take(remoteAddress);
      if (wait > 0) throw new RelayError(429, 'too many SUBSCRIBE requests from this address', { retryAfterSeconds: wait });
    },
    sweep: runSweep,
    kick: () => worker.kick(),
    async close() {
      clearInterval(sweepTimer);
      await notifier.close();
      await worker.close();
      await sweeping;
    },
  };
}
