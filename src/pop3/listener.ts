// POP3 connections: the socket side of a Pop3Session. Splits input into bounded lines, runs
// pipelined commands one at a time in order (RFC 2449 §6.6 PIPELINING), streams responses with
// backpressure, upgrades to TLS on STLS (RFC 2595 §4) and enforces the idle timer (RFC 1939 §3).
//
// Invariants:
// - After STLS, nothing the client sent before the handshake is acted on: queued lines and any
//   partial line are dropped, and later plaintext reaches the TLS layer (where it fails).
// - The autologout timer closes the connection without a response and without UPDATE
//   (RFC 1939 §3): nothing is deleted. It also runs while a response waits on a client that
//   stopped reading, so a stalled RETR cannot hold the maildrop lock forever.
// - Input is read no faster than commands are run: beyond MAX_QUEUED_LINES the socket is paused.
import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import type { Logger } from '../shared/logger.js';
import { errorMessage } from '../shared/errors.js';
import { remoteAddressOf, upgradeToTls, type ConnectionCounter } from '../shared/net.js';
import { MAX_QUEUED_LINES, TLS_HANDSHAKE_TIMEOUT_MS } from './limits.js';
import { ConnectionClosed, Pop3Session, type SessionOptions, type SessionOutput } from './session.js';
import { LineReader, errLine, type LineEvent } from './wire.js';

export interface ConnectionOptions extends Omit<SessionOptions, 'remoteAddress' | 'secure' | 'tlsAvailable'> {
  /** Implicit TLS (995): the socket is already a TLSSocket. */
  secure: boolean;
  /** For STLS on the plain listener; null when TLS is not available. */
  secureContext: (() => SecureContext) | null;
  counter: ConnectionCounter;
  idleTimeoutMs: number;
  maxLineLength: number;
  logger: Logger;
}

/** One client connection, from greeting to close. */
export class Pop3Connection {
  #o: ConnectionOptions;
  #socket: Socket;
  #remoteAddress: string;
  #reader: LineReader;
  #session: Pop3Session;
  #queue: LineEvent[] = [];
  #busy = false;
  #paused = false;
  #upgrading = false;
  #closed = false;
  /** end() was called: no further output. */
  #ending = false;
  #shuttingDown = false;
  #timer: NodeJS.Timeout | null = null;
  #releaseSlot: (() => void) | null = null;
  #closedPromise: Promise<void>;
  #resolveClosed!: () => void;
  #onData = (chunk: Buffer): void => this.#received(chunk);
  #onClose = (): void => this.#cleanup();
  #onError = (err: Error): void => {
    this.#o.logger.debug({ err: errorMessage(err), remoteAddress: this.#remoteAddress }, 'pop3 socket error');
  };
  #out: SessionOutput = { write: (data) => this.#write(data) };

  constructor(socket: Socket, options: ConnectionOptions) {
    this.#o = options;
    this.#socket = socket;
    this.#remoteAddress = remoteAddressOf(socket);
    this.#reader = new LineReader(options.maxLineLength);
    this.#closedPromise = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#session = new Pop3Session({
      ...options,
      remoteAddress: this.#remoteAddress,
      secure: options.secure,
      tlsAvailable: !options.secure && options.secureContext !== null,
    });
  }

  /** Resolves when the connection is closed. */
  get closed(): Promise<void> {
    return this.#closedPromise;
  }

  start(): void {
    const socket = this.#socket;
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    const release = this.#o.counter.acquire(this.#remoteAddress);
    if (!release) {
      this.#o.logger.warn({ remoteAddress: this.#remoteAddress }, 'pop3 too many connections from one address');
      this.#ending = true;
      socket.end(errLine('too many connections from your address; try again later', 'SYS/TEMP'));
      this.#armTimer();
      return;
    }
    this.#releaseSlot = release;
    socket.on('data', this.#onData);
    socket.write(this.#session.greeting());
    this.#armTimer();
  }

  /** Server shutdown: let the command in flight finish, say goodbye, close. Deletes nothing. */
  shutdown(): Promise<void> {
    if (!this.#closed) {
      this.#shuttingDown = true;
      if (!this.#busy) this.#goodbye();
    }
    return this.#closedPromise;
  }

  /** Hard stop (shutdown timeout). */
  destroy(): void {
    this.#socket.destroy();
  }

  #goodbye(): void {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    this.#session.close();
    this.#socket.end(errLine('server shutting down; nothing was deleted, connect again later', 'SYS/TEMP'));
  }

  #armTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    if (this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#o.logger.info({ remoteAddress: this.#remoteAddress }, 'pop3 autologout (idle)');
      this.#session.close();
      this.#socket.destroy();
    }, this.#o.idleTimeoutMs);
    this.#timer.unref();
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  #received(chunk: Buffer): void {
    if (this.#closed || this.#upgrading) return;
    if (!this.#busy) this.#armTimer();
    for (const event of this.#reader.push(chunk)) this.#queue.push(event);
    if (this.#queue.length >= MAX_QUEUED_LINES && !this.#paused) {
      this.#paused = true;
      this.#socket.pause();
    }
    void this.#pump();
  }

  #write(data: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = this.#socket;
      if (this.#closed || socket.destroyed || socket.writableEnded) {
        reject(new ConnectionClosed('connection closed'));
        return;
      }
      if (socket.write(data)) {
        resolve();
        return;
      }
      // Waiting on the client to read: that is idle time too.
      this.#armTimer();
      const onDrain = (): void => {
        socket.off('close', onClose);
        this.#clearTimer();
        resolve();
      };
      const onClose = (): void => {
        socket.off('drain', onDrain);
        reject(new ConnectionClosed('connection closed'));
      };
      socket.once('drain', onDrain);
      socket.once('close', onClose);
    });
  }

  async #pump(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      while (this.#queue.length > 0 && !this.#closed && !this.#shuttingDown) {
        const event = this.#queue.shift()!;
        // A command at work on our side (store, password check) is not client idle time.
        this.#clearTimer();
        if (this.#paused && this.#queue.length < MAX_QUEUED_LINES / 2) {
          this.#paused = false;
          this.#socket.resume();
        }
        const outcome = await this.#session.handleLine(event, this.#out);
        if (outcome === 'close') {
          this.#ending = true;
          this.#socket.end();
          return;
        }
        if (outcome === 'starttls') await this.#startTls();
      }
    } catch (err) {
      // The client went away mid-response (write rejected) or the upgrade failed.
      this.#o.logger.debug({ err: errorMessage(err), remoteAddress: this.#remoteAddress }, 'pop3 connection lost');
      this.#session.close();
      this.#socket.destroy();
    } finally {
      this.#busy = false;
      this.#armTimer();
      if (this.#shuttingDown) this.#goodbye();
    }
  }

  /** RFC 2595 §4: drop everything received so far, then handshake on the same connection. */
  async #startTls(): Promise<void> {
    const plain = this.#socket;
    this.#upgrading = true;
    plain.off('data', this.#onData);
    // Paused, later bytes stay in the socket's buffer and are handed to the TLS layer.
    plain.pause();
    this.#queue = [];
    this.#reader.clear();
    // Make sure "+OK Begin TLS negotiation" left in plaintext before TLS takes the socket.
    await new Promise<void>((resolve) => plain.write(Buffer.alloc(0), () => resolve()));
    if (this.#closed) throw new ConnectionClosed('connection closed before the TLS handshake');
    const secure = await upgradeToTls(plain, this.#o.secureContext!(), { timeoutMs: TLS_HANDSHAKE_TIMEOUT_MS });
    this.#socket = secure;
    secure.on('error', this.#onError);
    secure.on('close', this.#onClose);
    secure.on('data', this.#onData);
    this.#paused = false;
    this.#upgrading = false;
    this.#session.tlsStarted();
    this.#armTimer();
  }

  #cleanup(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clearTimer();
    this.#session.close();
    this.#queue = [];
    this.#releaseSlot?.();
    this.#releaseSlot = null;
    this.#resolveClosed();
  }
}
