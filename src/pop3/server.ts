// The POP3 service (RFC 1939): listens on config.listen.pop3 (plain, STLS offered — RFC 2595) and
// config.listen.pop3s (implicit TLS), each when non-empty, and runs one Pop3Connection per client.
// The maildrop is the account's INBOX; see session.ts for the session invariants (snapshot,
// UIDL, deletions only at QUIT, one session per account) and listener.ts for the socket ones.
import { connectionObserver, type ServerMetrics } from '../shared/metrics.js';
import { createServer as createPlainServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Config } from '../config/schema.js';
import type { Store } from '../store/store.js';
import type { Authenticator } from '../auth/authenticator.js';
import type { TlsProvider } from '../tls/provider.js';
import type { Logger } from '../shared/logger.js';
import type { ListeningOn, RunningService } from '../shared/service.js';
import { errorMessage } from '../shared/errors.js';
import { ConnectionCounter, listenOn } from '../shared/net.js';
import { DEFAULT_IDLE_TIMEOUT_MS, MIN_LINE_LENGTH } from './limits.js';
import { Pop3Connection } from './listener.js';
import { MaildropLocks } from './locks.js';

export interface Pop3Deps {
  config: Config;
  store: Store;
  authenticator: Authenticator;
  tls: TlsProvider;
  logger: Logger;
  /** RFC 1939 §3 autologout; default 10 minutes (tests shorten it). */
  idleTimeoutMs?: number;
  /** Prometheus metrics: connections. */
  metrics?: ServerMetrics;
}

export async function startPop3Server(deps: Pop3Deps): Promise<RunningService> {
  const { config, logger } = deps;
  const log = logger.child({ service: 'pop3' });
  const locks = new MaildropLocks();
  // One count per client address across both POP3 listeners ("per protocol").
  const counter = new ConnectionCounter(config.limits.max_connections_per_address);
  const connections = new Set<Pop3Connection>();
  const servers: Server[] = [];
  const detach: Array<() => void> = [];
  const listening: ListeningOn[] = [];

  const serve = (socket: Socket, secure: boolean): void => {
    const connection = new Pop3Connection(socket, {
      store: deps.store,
      authenticator: deps.authenticator,
      locks,
      logger: log,
      allowPlaintext: config.auth.allow_plaintext,
      maxBadCommands: config.limits.max_bad_commands,
      maxCommandsBeforeLogin: config.limits.max_commands_before_login,
      secure,
      secureContext: secure ? null : () => deps.tls.secureContext(),
      counter,
      idleTimeoutMs: deps.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
      maxLineLength: Math.max(MIN_LINE_LENGTH, config.limits.max_line_length),
    });
    connections.add(connection);
    void connection.closed.then(() => connections.delete(connection));
    connection.start();
  };

  try {
    if (config.listen.pop3 !== '') {
      const server = createPlainServer((socket) => serve(socket, false));
      servers.push(server);
      const at = await listenOn(server, { name: 'pop3', address: config.listen.pop3, observer: connectionObserver(deps.metrics, 'pop3') });
      listening.push({ listener: 'pop3', host: at.host, port: at.port, security: 'plain' });
    }
    if (config.listen.pop3s !== '') {
      const server = createTlsServer(deps.tls.serverOptions(), (socket) => serve(socket, true));
      detach.push(deps.tls.attach(server));
      server.on('tlsClientError', (err) => log.debug({ err: errorMessage(err) }, 'pop3s handshake failed'));
      servers.push(server);
      const at = await listenOn(server, { name: 'pop3s', address: config.listen.pop3s, observer: connectionObserver(deps.metrics, 'pop3') });
      listening.push({ listener: 'pop3s', host: at.host, port: at.port, security: 'tls' });
    }
  } catch (err) {
    for (const d of detach) d();
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))));
    throw err;
  }
  for (const l of listening) log.info({ listener: l.listener, host: l.host, port: l.port }, 'pop3 listening');

  let closing: Promise<void> | null = null;
  return {
    name: 'pop3',
    listening,
    close(options = {}) {
      closing ??= (async () => {
        for (const d of detach) d();
        const stopped = Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
        const all = Promise.all([...connections].map((c) => c.shutdown()));
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, options.timeoutMs ?? 10_000)));
        await Promise.race([all, timeout]);
        clearTimeout(timer);
        for (const c of connections) c.destroy();
        await stopped;
      })();
      return closing;
    },
  };
}
