// Composition root: build everything from the config, start the listeners, stop cleanly.
// The only place that wires folders together (ARCHITECTURE.md "Layers").
import { mkdirSync } from 'node:fs';
import type { Config } from './config/schema.js';
import { createLogger, type Logger } from './shared/logger.js';
import type { RunningService } from './shared/service.js';
import { ListenError } from './shared/net.js';
import { errorMessage } from './shared/errors.js';
import { openStore } from './store/open.js';
import type { Account, Store } from './store/store.js';
import { Authenticator } from './auth/authenticator.js';
import { createTlsProvider, type TlsProvider } from './tls/provider.js';
import { startImapServer } from './imap/server.js';
import { resolveUrlauth } from './imap/urlauth.js';
import { startPop3Server } from './pop3/server.js';
import { startSmtpServer } from './smtp/server.js';
import { startHttpServer } from './http/server.js';
import { startPushService, type PushService } from './push/service.js';
import { startQueueWorker, type QueueWorker } from './queue/worker.js';
import { queueOps } from './queue/operations.js';
import { createServerMetrics, type ServerMetrics } from './shared/metrics.js';
import { instrument, type Instrumentation } from './http/instrumentation.js';
import { RecentFailures } from './http/recent-failures.js';

export interface Pigeon {
  config: Config;
  store: Store;
  tls: TlsProvider;
  authenticator: Authenticator;
  services: RunningService[];
  /** Push integration (PUSH.md). */
  push: PushService;
  /** Outbound delivery (queue/). */
  queue: QueueWorker;
  /** Prometheus metrics (/metrics); services count into it. */
  metrics: ServerMetrics;
  logger: Logger;
  close(options?: { timeoutMs?: number }): Promise<void>;
}

/** Open the store and start every configured listener. On a listener error, what started is stopped again. */
export async function startPigeon(config: Config, options: { logger?: Logger } = {}): Promise<Pigeon> {
  const logger = options.logger ?? createLogger({ level: config.log.level });
  mkdirSync(config.data_dir, { recursive: true });
  const store = await openStore({ driver: config.store.driver as 'sqlite' | 'postgres', url: config.store.url, dataDir: config.data_dir, logger, listen: true });
  const services: RunningService[] = [];
  let tls: TlsProvider | undefined;
  let push: PushService | undefined;
  let queue: QueueWorker | undefined;
  let observed: Instrumentation | undefined;
  const metrics = createServerMetrics();
  const recentFailures = new RecentFailures();
  try {
    tls = await createTlsProvider({ dataDir: config.data_dir, hostname: config.hostname, cert: config.tls.cert, key: config.tls.key,
      extra: config.tls.extra_certs.map((cert, i) => ({ cert, key: config.tls.extra_keys[i]! })), logger, watch: true });
    observed = instrument({ metrics, recentFailures, store, tls });
    const authenticator = new Authenticator(store, { auth: config.auth, logger, metrics: observed.logins });
    push = await startPushService({ config, store, logger });
    observed.watchPush(push);
    queue = await startQueueWorker({ config, store, logger });
    observed.watchQueue(queue);
    const ops = queueOps(store, { kick: () => queue?.kick() });
    const listeners = () => services.flatMap((s) => s.listening.map((l) => ({ service: s.name, ...l })));
    const deps = { config, store, authenticator, tls, logger, push, metrics, recentFailures, listeners, onDeliveryResults: observed.deliveries,
      // The console's Queue screen (http/admin-api.ts QueueAdmin) and the SMTP server's wake-up of the queue worker.
      queue: { retry: async (id: number) => void (await ops.retry(id)), remove: (id: number) => ops.remove(id) },
      onQueued: () => {
        metrics.messagesQueued.inc();
        queue!.kick();
      },
      // BURL on submission reads the message through IMAP's URLAUTH (RFC 4468 over RFC 4467).
      fetchUrlauth: (url: string, account: Account) => resolveUrlauth(store, url, { submitUser: account.email, hostname: config.hostname }) };
    services.push(await startSmtpServer(deps));
    services.push(await startImapServer(deps));
    services.push(await startPop3Server(deps));
    services.push(await startHttpServer(deps));
    const pigeon: Pigeon = {
      config, store, tls, authenticator, services, push, queue, metrics, logger,
      async close(closeOptions) {
        await Promise.allSettled(services.map((s) => s.close(closeOptions)));
        await queue?.close(closeOptions);
        await push?.close();
        observed?.stop();
        tls!.close();
        await store.close();
      },
    };
    return pigeon;
  } catch (err) {
    await Promise.allSettled(services.map((s) => s.close({ timeoutMs: 0 })));
    await queue?.close({ timeoutMs: 0 });
    await push?.close();
    observed?.stop();
    tls?.close();
    await store.close();
    throw err;
  }
}

/** `pigeon serve`: start, print what listens where, run until SIGTERM/SIGINT; SIGHUP reloads certificates. */
export async function runServer(config: Config): Promise<number> {
  let pigeon: Pigeon;
  try {
    pigeon = await startPigeon(config);
  } catch (err) {
    process.stderr.write(`pigeon: ${err instanceof ListenError ? err.message : errorMessage(err)}\n`);
    return 1;
  }
  const lines = [`Pigeon is running as ${config.hostname} (store: ${config.store.driver}, data: ${config.data_dir})`];
  for (const s of pigeon.services) for (const l of s.listening) lines.push(`  ${s.name.padEnd(5)} ${l.listener.padEnd(12)} ${l.host}:${l.port} (${l.security === 'tls' ? 'TLS' : l.listener === 'http' || l.listener === 'lmtp' ? 'plain' : 'STARTTLS'})`);
  const cert = pigeon.tls.info();
  lines.push(`  certificate: ${cert.selfSigned ? 'self-signed' : cert.file} for ${cert.altNames.join(', ')}, valid until ${new Date(cert.notAfter).toISOString().slice(0, 10)}`);
  if ((await pigeon.store.listDomains()).length === 0) {
    lines.push('No domain yet. Add a first domain and user (in another terminal):');
    lines.push('  npx pigeon domain add example.com');
    lines.push('  npx pigeon user add alice@example.com --password \'a good password\'');
  }
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      pigeon.logger.info({ signal }, 'shutting down');
      pigeon.close({ timeoutMs: 10_000 }).then(
        () => resolve(0),
        (err: unknown) => {
          process.stderr.write(`pigeon: shutdown: ${errorMessage(err)}\n`);
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => {
      pigeon.tls.reload().then(
        () => pigeon.logger.info('certificates reloaded'),
        (err: unknown) => pigeon.logger.error({ err: errorMessage(err) }, 'certificate reload failed'),
      );
    });
    // Only now: whoever reads this may send SIGTERM at once, and must find the handler in place.
    process.stdout.write(lines.join('\n') + '\n');
  });
}
