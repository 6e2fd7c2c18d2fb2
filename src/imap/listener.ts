// IMAP listeners: port 143 (plain, STARTTLS offered) and 993 (implicit TLS, RFC 8314 §3.3).
// Each accepted socket becomes a SocketTransport and a Session.
//
// Invariants:
// - Connections per client address are bounded (limits.max_connections_per_address, shared by
//   both ports); one over the bound gets `* BYE` and is closed.
// - STARTTLS: the socket stops being read before the upgrade and every byte the client pipelined
//   before the handshake is dropped (the session starts a fresh parser) (RFC 9051 §6.2.1).
// - Backpressure: `drain()` lets the session wait until the client has read its output, and
//   `pause()` stops reading while the session cannot keep up.
// - COMPRESS=DEFLATE (RFC 4978): once started, every output batch goes through one raw deflate
//   stream and is flushed with Z_SYNC_FLUSH (§4: the client can decode each response as soon as it
//   arrives); input goes through one raw inflate stream. Inflated output is produced in bounded
//   chunks and only while the session reads it (stream backpressure pauses the socket), so a small
//   compressed input cannot expand in memory beyond the session's own input bounds, which apply
//   to the inflated bytes exactly as to plain ones. Corrupt compressed input ends the connection.
import net from 'node:net';
import tls from 'node:tls';
import zlib from 'node:zlib';
import type { TlsProvider } from '../tls/provider.js';
import { ConnectionCounter, remoteAddressOf, upgradeToTls } from '../shared/net.js';
import type { Logger } from '../shared/logger.js';
import { errorMessage } from '../shared/errors.js';
import { Session, type SessionDeps, type Transport } from './session/session.js';

const CLOSE_GRACE_MS = 5_000;
const TLS_HANDSHAKE_TIMEOUT_MS = 30_000;
/** Gathered output is written once it reaches this size (or at the end of the tick). */
const WRITE_BATCH_BYTES = 64 * 1024;
/** Inflated input is produced in chunks of this size, and at most this much is buffered. */
const INFLATE_CHUNK_BYTES = 64 * 1024;

export class SocketTransport implements Transport {
  readonly remoteAddress: string;
  #socket: net.Socket;
  #secure: boolean;
  #canStartTls: boolean;
  #tls: TlsProvider;
  #onData: (chunk: Buffer) => void;
  #onGone: () => void;
  #closing = false;
  #out: Buffer[] = [];
  #outBytes = 0;
  #flushQueued = false;
  #deflate: zlib.DeflateRaw | null = null;
  #inflate: zlib.InflateRaw | null = null;
  #paused = false;

  constructor(socket: net.Socket, options: { secure: boolean; tls: TlsProvider; onData: (chunk: Buffer) => void; onGone: () => void }) {
    this.#socket = socket;
    this.remoteAddress = remoteAddressOf(socket);
    this.#secure = options.secure;
    this.#canStartTls = !options.secure;
    this.#tls = options.tls;
    this.#onData = options.onData;
    this.#onGone = options.onGone;
    this.#bind(socket);
  }

  #bind(socket: net.Socket): void {
    socket.setNoDelay(true);
    socket.on('data', this.#onData);
    socket.on('error', () => socket.destroy());
    socket.on('close', this.#onGone);
  }

  get secure(): boolean {
    return this.#secure;
  }
  get canStartTls(): boolean {
    return this.#canStartTls;
  }
  get backlog(): number {
    return this.#socket.writableLength + this.#outBytes + (this.#deflate ? this.#deflate.writableLength + this.#deflate.readableLength : 0);
  }
  get compressed(): boolean {
    return this.#deflate !== null;
  }

  /** RFC 4978 §4: from now on deflate what is written and inflate what is read; `pending` is
   *  compressed input that arrived before this call. Output queued so far goes out uncompressed
   *  (the tagged OK of COMPRESS). */
  startCompression(pending: Buffer): void {
    if (this.#deflate) return;
    this.#flush();
    const socket = this.#socket;
    const deflate = zlib.createDeflateRaw({ level: 6 });
    const inflate = zlib.createInflateRaw({ chunkSize: INFLATE_CHUNK_BYTES });
    inflate.setMaxListeners(0);
    this.#deflate = deflate;
    this.#inflate = inflate;
    deflate.on('data', (chunk: Buffer) => {
      if (!socket.destroyed && !socket.writableEnded) socket.write(chunk);
    });
    deflate.on('error', () => socket.destroy());
    inflate.on('data', (chunk: Buffer) => this.#onData(chunk));
    inflate.on('error', () => socket.destroy());
    // A full inflater stops the socket; it resumes when the inflater has room again.
    inflate.on('drain', () => {
      if (!this.#paused && !this.#closing) socket.resume();
    });
    socket.off('data', this.#onData);
    socket.on('data', (chunk: Buffer) => {
      if (!inflate.write(chunk)) socket.pause();
    });
    if (pending.length > 0 && !inflate.write(pending)) socket.pause();
  }

  /** Small responses are gathered and written together (one syscall for many FETCH lines). */
  write(data: Buffer): void {
    if (this.#socket.destroyed || this.#socket.writableEnded) return;
    this.#out.push(data);
    this.#outBytes += data.length;
    if (this.#outBytes >= WRITE_BATCH_BYTES) this.#flush();
    else if (!this.#flushQueued) {
      this.#flushQueued = true;
      // Compressed: gather a whole turn of the event loop (a FETCH writes one response per
      // message) so each Z_SYNC_FLUSH closes a batch, not every line (RFC 4978 §4 asks only that
      // nothing a client waits for stays in the compressor).
      if (this.#deflate) setImmediate(this.#flushSoon);
      else process.nextTick(this.#flushSoon);
    }
  }

  #flushSoon = (): void => {
    this.#flushQueued = false;
    this.#flush();
  };

  #flush(): void {
    if (this.#out.length === 0) return;
    const data = this.#out.length === 1 ? this.#out[0]! : Buffer.concat(this.#out, this.#outBytes);
    this.#out = [];
    this.#outBytes = 0;
    if (this.#socket.destroyed || this.#socket.writableEnded) return;
    if (this.#deflate) {
      this.#deflate.write(data);
      this.#deflate.flush(zlib.constants.Z_SYNC_FLUSH);
    } else this.#socket.write(data);
  }

  async drain(): Promise<void> {
    this.#flush();
    const deflate = this.#deflate;
    if (deflate && !this.#socket.destroyed && (deflate.writableLength > 0 || deflate.readableLength > 0)) {
      await new Promise<void>((resolve) => deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve()));
    }
    const s = this.#socket;
    if (s.destroyed || s.writableLength === 0 || !s.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        s.off('drain', done);
        s.off('close', done);
        resolve();
      };
      s.on('drain', done);
      s.on('close', done);
    });
  }

  pause(): void {
    this.#paused = true;
    this.#socket.pause();
    this.#inflate?.pause();
  }
  resume(): void {
    if (this.#closing) return;
    this.#paused = false;
    this.#inflate?.resume();
    if (!this.#inflate?.writableNeedDrain) this.#socket.resume();
  }

  async startTls(): Promise<void> {
    this.#flush();
    const plain = this.#socket;
    plain.pause();
    plain.off('close', this.#onGone);
    plain.removeAllListeners('error');
    plain.on('error', () => plain.destroy());
    this.#canStartTls = false;
    const secure = await upgradeToTls(plain, this.#tls.secureContext(), { timeoutMs: TLS_HANDSHAKE_TIMEOUT_MS }).catch((err: unknown) => {
      plain.destroy();
      this.#onGone();
      throw err;
    });
    this.#socket = secure;
    this.#secure = true;
    this.#bind(secure);
  }

  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#flush();
    const s = this.#socket;
    const deflate = this.#deflate;
    if (deflate && !s.destroyed) {
      // End the deflate stream first so the last responses (BYE) reach the client.
      deflate.once('end', () => s.end());
      deflate.end();
    } else s.end();
    const t = setTimeout(() => s.destroy(), CLOSE_GRACE_MS);
    t.unref();
    s.once('close', () => clearTimeout(t));
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

export interface ImapListener {
  server: net.Server;
  name: 'imap' | 'imaps';
  secure: boolean;
}

/** Tracks live sessions of every listener, and the per-address connection bound. */
export class SessionRegistry {
  readonly sessions = new Set<Session>();
  readonly transports = new Map<Session, SocketTransport>();
  #perAddress: ConnectionCounter;
  #deps: SessionDeps;
  #tls: TlsProvider;
  #logger: Logger;

  constructor(deps: SessionDeps, options: { tls: TlsProvider; maxPerAddress: number }) {
    this.#deps = deps;
    this.#tls = options.tls;
    this.#logger = deps.logger;
    this.#perAddress = new ConnectionCounter(options.maxPerAddress);
  }

  /** Make a server for one listener. */
  createServer(options: { secure: boolean }): net.Server {
    const onSocket = (socket: net.Socket): void => this.accept(socket, options.secure);
    if (!options.secure) return net.createServer({ pauseOnConnect: false }, onSocket);
    const server = tls.createServer({ ...this.#tls.serverOptions(), handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, onSocket);
    this.#tls.attach(server);
    server.on('tlsClientError', (err) => this.#logger.debug({ err: errorMessage(err) }, 'imaps handshake failed'));
    return server;
  }

  accept(socket: net.Socket, secure: boolean): void {
    const address = remoteAddressOf(socket);
    const release = this.#perAddress.acquire(address);
    if (!release) {
      socket.on('error', () => undefined);
      socket.end('* BYE Too many connections from your address\r\n');
      return;
    }
    let session: Session | null = null;
    const transport = new SocketTransport(socket, {
      secure,
      tls: this.#tls,
      onData: (chunk) => session?.onData(chunk),
      onGone: () => session?.close(),
    });
    session = new Session(transport, this.#deps);
    const s = session;
    this.sessions.add(s);
    this.transports.set(s, transport);
    s.onClose(() => {
      release();
      this.sessions.delete(s);
      this.transports.delete(s);
    });
    s.greet();
  }

  /** Say BYE to every session (after its command in flight) and wait up to timeoutMs. */
  async shutdown(timeoutMs: number): Promise<void> {
    const open = [...this.sessions];
    const closed = open.map((s) => new Promise<void>((resolve) => (s.closed ? resolve() : s.onClose(resolve))));
    for (const s of open) s.shutdown();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(closed), new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    for (const s of open) {
      s.close();
      this.transports.get(s)?.destroy();
    }
  }
}
