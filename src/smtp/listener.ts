// Sockets for the SMTP family: accept, count connections per address, implicit TLS (465),
// STARTTLS (RFC 3207), idle timeout, pipelining backpressure, graceful close. Bytes go to
// wire/reader.ts, events to the session; nothing here knows a command.
//
// Invariants:
// - Events are handled one at a time, in order; replies are written in the same order
//   (RFC 2920 §3: pipelined commands are answered in sequence).
// - At STARTTLS every byte already received is dropped before the handshake (RFC 3207 §4.2).
// - A client that pipelines more than MAX_PIPELINED_BYTES ahead is paused, not buffered.
import { createServer, type Server, type Socket } from 'node:net';
import type { SecureContext, TLSSocket } from 'node:tls';
import { ConnectionCounter, listenOn, remoteAddressOf, upgradeToTls, type ConnectionObserver, type HostPort } from '../shared/net.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { CLOSE_GRACE_MS, MAX_PIPELINED_BYTES, TLS_HANDSHAKE_TIMEOUT_MS, type SmtpLimits } from './limits.js';
import { SmtpSession, type SessionKind, type SessionServices, type Step, type TlsInfo } from './session.js';
import { SmtpReader } from './wire/reader.js';
import { formatReply, reply, type Reply } from './wire/reply.js';

export interface ListenerOptions {
  /** Config key under [listen]: smtp, submission, submissions, lmtp. */
  name: string;
  address: string;
  kind: SessionKind;
  implicitTls: boolean;
  hostname: string;
  limits: SmtpLimits;
  allowPlaintextAuth: boolean;
  /** The TLS context for STARTTLS and 465 (null: no TLS offered). */
  secureContext: (() => SecureContext) | null;
  /** Is this client address in My Networks? (LMTP: may it connect at all?) */
  trusted: (address: string) => Promise<boolean>;
  services: SessionServices;
  logger: Logger;
  /** Counts connections (metrics). */
  observer?: ConnectionObserver | undefined;
}

export interface SmtpListener {
  readonly name: string;
  readonly bound: HostPort;
  readonly security: 'plain' | 'tls';
  close(timeoutMs: number): Promise<void>;
}

const tlsInfoOf = (s: TLSSocket): TlsInfo => ({ protocol: s.getProtocol() ?? 'TLS', cipher: s.getCipher()?.name ?? 'unknown' });

class Connection {
  #socket: Socket;
  readonly session: SmtpSession;
  #reader: SmtpReader;
  #busy = false;
  #closed = false;
  #paused = false;
  #shuttingDown = false;
  #peerEnded = false;
  #options: ListenerOptions;
  #log: Logger;
  readonly done: Promise<void>;
  #resolveDone!: () => void;

  constructor(socket: Socket, session: SmtpSession, options: ListenerOptions, log: Logger) {
    this.#socket = socket;
    this.session = session;
    this.#options = options;
    this.#log = log;
    this.#reader = new SmtpReader({ maxLineLength: options.limits.maxLineLength });
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  /** Wire up a (possibly new, after STARTTLS) socket. */
  attach(socket: Socket): void {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err) => {
      this.#log.debug({ err: errorMessage(err) }, 'smtp: socket error');
      this.destroy();
    });
    socket.on('close', () => this.destroy());
    // The client half-closed (e.g. "QUIT" then FIN): answer what it sent, then close.
    socket.on('end', () => {
      this.#peerEnded = true;
      if (!this.#busy) this.#end();
    });
    socket.setTimeout(this.#options.limits.idleTimeoutMs, () => {
      if (this.#busy) return;
      this.#write([this.session.timeout()]);
      this.#flush();
      this.#end();
    });
  }

  start(): void {
    this.#write(this.session.greeting().replies);
    this.#flush();
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    this.#reader.push(chunk);
    if (this.#reader.buffered > MAX_PIPELINED_BYTES && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
    void this.#pump();
  }

  /** Replies wait here while more pipelined commands are ready, then go out in one write. */
  #out = '';

  #write(replies: Reply[]): void {
    if (this.#closed || replies.length === 0) return;
    for (const r of replies) this.#out += formatReply(r, { enhanced: this.session.enhancedCodes });
  }

  /** RFC 2920 §3.1: replies are flushed at the latest when we are about to wait for input. */
  #flush(): void {
    if (this.#out === '' || this.#closed) return;
    this.#socket.write(this.#out);
    this.#out = '';
  }

  async #pump(): Promise<void> {
    if (this.#busy || this.#closed) return;
    this.#busy = true;
    try {
      for (;;) {
        if (this.#closed) return;
        const ev = this.#reader.next();
        if (!ev) {
          this.#flush();
          if (this.#peerEnded) this.#end();
          break;
        }
        let s: Step;
        try {
          if (ev.kind === 'line') s = await this.session.handleLine(ev.line);
          else if (ev.kind === 'line-too-long') s = this.session.lineTooLong();
          else if (ev.kind === 'data') s = await this.session.handleData(ev);
          else s = await this.session.handleChunk(ev);
        } catch (err) {
          this.#log.error({ err: errorMessage(err), stack: err instanceof Error ? err.stack : undefined }, 'smtp: session error');
          s = { replies: [reply('421 4.3.0', 'Internal error, closing connection')], next: { kind: 'close' } };
        }
        this.#write(s.replies);
        const next = s.next;
        if (next.kind === 'close') {
          this.#end();
          return;
        }
        if (next.kind === 'starttls') {
          this.#flush();
          await this.#starttls();
          if (this.#closed) return;
          continue;
        }
        if (next.kind === 'data') this.#reader.expectData(next.keep);
        else if (next.kind === 'chunk') this.#reader.expectChunk(next.size, next.keep);
        else if (this.#shuttingDown) {
          this.#write([this.session.shutdown()]);
          this.#end();
          return;
        }
        // Before a slow step (a delivery after DATA, a lookup), let the client see what is ready.
        if (this.#reader.mode !== 'line') this.#flush();
      }
    } finally {
      this.#busy = false;
      if (this.#paused && this.#reader.buffered <= MAX_PIPELINED_BYTES && !this.#closed) {
        this.#paused = false;
        this.#socket.resume();
      }
    }
  }

  async #starttls(): Promise<void> {
    const context = this.#options.secureContext;
    if (!context) return this.#end();
    // RFC 3207 §4.2: whatever the client pipelined after STARTTLS is discarded.
    this.#reader.discard();
    const plain = this.#socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('end');
    plain.setTimeout(0);
    try {
      const secure = await upgradeToTls(plain, context(), { timeoutMs: TLS_HANDSHAKE_TIMEOUT_MS });
      this.#reader.discard();
      this.attach(secure);
      this.session.tlsStarted(tlsInfoOf(secure));
    } catch (err) {
      this.#log.debug({ err: errorMessage(err) }, 'smtp: STARTTLS handshake failed');
      this.destroy();
    }
  }

  /** Graceful shutdown: idle sessions get 421 now, busy ones after their current command. */
  shutdown(): void {
    this.#shuttingDown = true;
    if (!this.#busy && this.#reader.mode === 'line') {
      this.#write([this.session.shutdown()]);
      this.#end();
    }
  }

  #end(): void {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    this.#socket.end();
    // Half-open clients must not keep the slot: destroy if the peer does not close soon.
    const timer = setTimeout(() => this.destroy(), CLOSE_GRACE_MS);
    timer.unref();
    this.#socket.once('close', () => clearTimeout(timer));
  }

  destroy(): void {
    this.#closed = true;
    if (!this.#socket.destroyed) this.#socket.destroy();
    this.#resolveDone();
  }
}

export async function startListener(options: ListenerOptions): Promise<SmtpListener> {
  const log = options.logger.child({ listener: options.name });
  const counter = new ConnectionCounter(options.limits.maxConnectionsPerAddress);
  const connections = new Set<Connection>();
  let closing = false;

  const onConnection = async (socket: Socket): Promise<void> => {
    socket.on('error', () => socket.destroy());
    socket.setNoDelay(true);
    const remoteAddress = remoteAddressOf(socket);
    if (closing) {
      socket.end(formatReply(reply('421 4.3.2', `${options.hostname} Service shutting down`), { enhanced: false }));
      return;
    }
    const release = counter.acquire(remoteAddress);
    if (!release) {
      socket.end(formatReply(reply('421 4.7.0', `${options.hostname} Too many connections from your address`), { enhanced: false }));
      return;
    }
    socket.once('close', release);
    let trusted: boolean;
    try {
      trusted = await options.trusted(remoteAddress);
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'smtp: My Networks lookup failed');
      trusted = false;
    }
    if (options.kind === 'lmtp' && !trusted) {
      // LMTP has no relay or auth checks of its own: only loopback and My Networks may use it.
      socket.end(formatReply(reply('421 4.7.1', `${options.hostname} LMTP not available to your address`), { enhanced: false }));
      return;
    }
    let stream: Socket = socket;
    let tls: TlsInfo | null = null;
    if (options.implicitTls) {
      if (!options.secureContext) return void socket.destroy();
      try {
        const secure = await upgradeToTls(socket, options.secureContext(), { timeoutMs: TLS_HANDSHAKE_TIMEOUT_MS });
        stream = secure;
        tls = tlsInfoOf(secure);
      } catch (err) {
        log.debug({ err: errorMessage(err), client: remoteAddress }, 'smtp: TLS handshake failed');
        socket.destroy();
        return;
      }
    }
    if (socket.destroyed) return;
    const session = new SmtpSession(
      {
        kind: options.kind,
        hostname: options.hostname,
        remoteAddress,
        trustedNetwork: trusted,
        tls,
        starttlsAvailable: options.secureContext !== null,
        allowPlaintextAuth: options.allowPlaintextAuth,
        limits: options.limits,
      },
      options.services,
    );
    const conn = new Connection(stream, session, options, log);
    connections.add(conn);
    void conn.done.then(() => connections.delete(conn));
    conn.attach(stream);
    conn.start();
  };

  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    onConnection(socket).catch((err: unknown) => {
      log.error({ err: errorMessage(err) }, 'smtp: connection setup failed');
      socket.destroy();
    });
  });
  const bound = await listenOn(server, { name: options.name, address: options.address, observer: options.observer });
  log.info({ host: bound.host, port: bound.port }, 'smtp: listening');

  return {
    name: options.name,
    bound,
    security: options.implicitTls ? 'tls' : 'plain',
    async close(timeoutMs: number): Promise<void> {
      closing = true;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const c of connections) c.shutdown();
      const all = Promise.all([...connections].map((c) => c.done));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([all, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
      clearTimeout(timer);
      for (const c of connections) c.destroy();
      await stopped;
    },
  };
}
