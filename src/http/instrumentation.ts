// Feeds the server's metrics (shared/metrics.ts) and the dashboard's recent failures from what can
// be observed without touching the protocol folders: login outcomes (the Authenticator's
// observer), push attempts (PushService events), outbound attempts and bounces (the queue
// worker's events), local deliveries (deliverMessage's onResults hook), mailbox appends (the
// change feed), and scrape-time gauges (queue size, certificate expiry). main.ts calls `instrument` once and hands the pieces to the services.
import type { EventEmitter } from 'node:events';
import type { LoginObserver } from '../auth/authenticator.js';
import type { DeliveryResult } from '../delivery/deliver.js';
import type { PushService } from '../push/service.js';
import type { ServerMetrics } from '../shared/metrics.js';
import type { Clock } from '../shared/clock.js';
import { systemClock } from '../shared/clock.js';
import type { Store } from '../store/store.js';
import type { TlsProvider } from '../tls/provider.js';
import type { RecentFailures } from './recent-failures.js';

export interface Instrumentation {
  /** Pass as AuthenticatorOptions.metrics. */
  logins: LoginObserver;
  /** Pass as DeliveryInput.onResults. */
  deliveries: (results: readonly DeliveryResult[], seconds: number) => void;
  watchPush(push: PushService): void;
  /** The queue worker's events: 'outcome' (recipient, outcome) and 'notice' (message id, DSN recipients). */
  watchQueue(queue: { events: EventEmitter }): void;
  stop(): void;
}

const domainOf = (address: string) => (address.includes('@') ? address.slice(address.lastIndexOf('@') + 1).toLowerCase() : null);

export function instrument(deps: { metrics: ServerMetrics; recentFailures: RecentFailures; store: Store; tls: TlsProvider; clock?: Clock }): Instrumentation {
  const { metrics, recentFailures, store, tls } = deps;
  const clock = deps.clock ?? systemClock;
  const stops: Array<() => void> = [];

  stops.push(store.feed.subscribeAll((changes) => {
    let added = 0;
    for (const c of changes) if (c.kind === 'message-added') added++;
    if (added > 0) metrics.mailboxAppends.inc(undefined, added);
  }));

  metrics.registry.collect(async () => {
    metrics.queueSize.set(undefined, (await store.listQueue()).length);
  });
  metrics.registry.collect(() => {
    metrics.certificateExpirySeconds.set(undefined, Math.round((tls.info().notAfter - clock.now()) / 1000));
  });

  return {
    logins: {
      loginResult(e) {
        metrics.logins.inc({ protocol: e.protocol, outcome: e.outcome });
        metrics.loginSeconds.observe({ protocol: e.protocol }, e.seconds);
        if (e.outcome !== 'ok') {
          recentFailures.add('login', `${e.protocol} login ${e.outcome === 'locked' ? 'refused (locked out)' : 'failed'} for ${JSON.stringify(e.username)} from ${e.remoteAddress}`, domainOf(e.username));
        }
      },
    },
    deliveries(results, seconds) {
      metrics.deliverySeconds.observe(undefined, seconds);
      for (const r of results) {
        metrics.deliveries.inc({ result: r.status });
        if (r.status === 'failed' || r.status === 'over-quota') recentFailures.add('delivery', `delivery to ${r.recipient}: ${r.message}`, domainOf(r.recipient));
      }
    },
    watchPush(push) {
      const onAttempt = (r: { subscriptionId: string; kind: string; status: number | null; outcome: string; error?: string }) => {
        const outcome = r.outcome === 'sent' ? 'ok' : 'failed';
        metrics.pushNotifications.inc({ outcome });
        if (outcome === 'failed') {
          void store.push.getSubscription(r.subscriptionId).then(
            (s) => recentFailures.add('push', `push ${r.kind} for ${s?.account ?? r.subscriptionId}: ${r.error ?? `status ${r.status ?? 'none'}`} (${r.outcome})`, s?.domain ?? null),
            () => undefined,
          );
        }
      };
      push.events.on('attempt', onAttempt);
      stops.push(() => push.events.off('attempt', onAttempt));
    },
    watchQueue(queue) {
      const onOutcome = (r: { address: string; messageId?: number }, o: { state: string; lastError: string | null }) => {
        metrics.outboundAttempts.inc({ result: o.state });
        if (o.state === 'failed' || o.state === 'deferred') recentFailures.add('queue', `outbound to ${r.address}: ${o.state}${o.lastError ? `: ${o.lastError}` : ''}`, null);
      };
      const onNotice = (_id: number, recipients: Array<{ action: string }>) => {
        const failed = recipients.filter((x) => x.action === 'failed').length;
        if (failed > 0) metrics.bounces.inc(undefined, 1);
      };
      queue.events.on('outcome', onOutcome);
      queue.events.on('notice', onNotice);
      stops.push(() => {
        queue.events.off('outcome', onOutcome);
        queue.events.off('notice', onNotice);
      });
    },
    stop() {
      for (const s of stops.splice(0)) s();
    },
  };
}
