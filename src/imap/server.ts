// The IMAP service: IMAP4rev1 (RFC 3501) and IMAP4rev2 (RFC 9051) on listen.imap (143, STARTTLS)
// and listen.imaps (993, implicit TLS). The wire layer (wire/) turns bytes into typed commands,
// session/ keeps the state machine and the selected-mailbox view, commands/ holds one file per
// command family, listener.ts the sockets. An empty listen address disables that listener.
import { connectionObserver, type ServerMetrics } from '../shared/metrics.js';
import type { Config } from '../config/schema.js';
import type { Store } from '../store/store.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { TlsProvider } from '../tls/provider.js';
import type { Logger } from '../shared/logger.js';
import { ConnectionCounter, listenOn } from '../shared/net.js';
import type { ListeningOn, RunningService } from '../shared/service.js';
import { SessionRegistry } from './listener.js';

export interface ImapServerDeps {
  config: Config;
  store: Store;
  authenticator: Authenticator;
  tls: TlsProvider;
  logger: Logger;
  /** Prometheus metrics: connections. */
  metrics?: ServerMetrics;
}

/** The running IMAP service; `stats()` is for metrics and tests. */
export interface ImapService extends RunningService {
  stats(): { sessions: number; bufferedOutputBytes: number };
}

export async function startImapServer(deps: ImapServerDeps): Promise<ImapService> {
  const { config, logger } = deps;
  const registry = new SessionRegistry(
    {
      config,
      store: deps.store,
      authenticator: deps.authenticator,
      logger: logger.child({ service: 'imap' }),
      accounts: new ConnectionCounter(config.limits.max_connections_per_account),
    },
    { tls: deps.tls, maxPerAddress: config.limits.max_connections_per_address },
  );
  const servers: Array<{ close: () => Promise<void> }> = [];
  const listening: ListeningOn[] = [];
  const specs = [
    { name: 'imap' as const, address: config.listen.imap, secure: false },
    { name: 'imaps' as const, address: config.listen.imaps, secure: true },
  ];
  try {
    for (const spec of specs) {
      if (!spec.address) continue;
      const server = registry.createServer({ secure: spec.secure });
      server.maxConnections = Number.MAX_SAFE_INTEGER;
      const at = await listenOn(server, { name: spec.name, address: spec.address, observer: connectionObserver(deps.metrics, 'imap') });
      listening.push({ listener: spec.name, host: at.host, port: at.port, security: spec.secure ? 'tls' : 'plain' });
      servers.push({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    throw err;
  }
  logger.info({ listening }, 'imap listening');
  return {
    name: 'imap',
    listening,
    stats() {
      let bufferedOutputBytes = 0;
      for (const t of registry.transports.values()) bufferedOutputBytes += t.backlog;
      return { sessions: registry.sessions.size, bufferedOutputBytes };
    },
    async close(options = {}) {
      const closing = Promise.all(servers.map((s) => s.close()));
      await registry.shutdown(options.timeoutMs ?? 10_000);
      await closing;
    },
  };
}
