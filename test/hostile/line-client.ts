// A raw line client for the hostile, crash and shutdown tests: connect (optionally from another
// loopback source address, or over TLS), read CRLF lines as they arrive, wait for a matching line
// with a deadline, and notice when the server closes. No fixed sleeps: every wait is on data, on
// close, or fails at its deadline.
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

export interface LineClientOptions {
  host?: string;
  /** Local source address (127.0.0.2 … to look like another client). */
  localAddress?: string;
  tls?: ConnectionOptions;
  timeoutMs?: number;
}

export class LineClient {
  readonly socket: Socket;
  readonly lines: string[] = [];
  #buf = '';
  #waiters: Array<() => void> = [];
  #closed = false;
  readonly #timeoutMs: number;
  /** Index of the next line `next()` hands out. */
  #read = 0;

  private constructor(socket: Socket, timeoutMs: number) {
    this.socket = socket;
    this.#timeoutMs = timeoutMs;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.#buf += d;
      let i: number;
      while ((i = this.#buf.indexOf('\n')) >= 0) {
        this.lines.push(this.#buf.slice(0, i).replace(/\r$/, ''));
        this.#buf = this.#buf.slice(i + 1);
      }
      this.#wake();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
  }

  static connect(port: number, options: LineClientOptions = {}): Promise<LineClient> {
    const host = options.host ?? '127.0.0.1';
    return new Promise((resolve, reject) => {
      const socket: Socket = options.tls
        ? tlsConnect({ host, port, rejectUnauthorized: false, ...(options.localAddress ? { localAddress: options.localAddress } : {}), ...options.tls })
        : netConnect({ host, port, ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
      const onError = (err: Error) => reject(err);
      socket.once('error', onError);
      socket.once(options.tls ? 'secureConnect' : 'connect', () => {
        socket.off('error', onError);
        resolve(new LineClient(socket, options.timeoutMs ?? 10_000));
      });
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  #changed(deadline: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; last lines: ${JSON.stringify(this.lines.slice(-5))}`)), Math.max(0, deadline - Date.now()));
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  write(text: string | Buffer): void {
    this.socket.write(text);
  }

  /** The next unread line; rejects if the connection closes first or at the deadline. */
  async next(timeoutMs = this.#timeoutMs): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.#read >= this.lines.length) {
      if (this.#closed) throw new Error(`connection closed; last lines: ${JSON.stringify(this.lines.slice(-5))}`);
      await this.#changed(deadline);
    }
    return this.lines[this.#read++] as string;
  }

  /** Read lines until one matches; returns it (the lines before it are in `lines`). */
  async until(match: RegExp | ((line: string) => boolean), timeoutMs = this.#timeoutMs): Promise<string> {
    const test = typeof match === 'function' ? match : (l: string) => match.test(l);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const line = await this.next(Math.max(1, deadline - Date.now()));
      if (test(line)) return line;
    }
  }

  /** Send an IMAP command and wait for its tagged completion; returns [untagged lines, completion]. */
  async imap(tag: string, command: string, timeoutMs = this.#timeoutMs): Promise<{ lines: string[]; done: string }> {
    const start = this.#read;
    this.write(`${tag} ${command}\r\n`);
    const done = await this.until((l) => l.startsWith(`${tag} `), timeoutMs);
    return { lines: this.lines.slice(start, this.#read - 1), done };
  }

  /** Send an SMTP command line and read the (multi-line) reply; returns the last line. */
  async smtp(command: string | null, timeoutMs = this.#timeoutMs): Promise<string> {
    if (command !== null) this.write(`${command}\r\n`);
    return this.until((l) => /^\d{3} /.test(l), timeoutMs);
  }

  /** Resolves when the server closes the connection (or rejects at the deadline). */
  async waitClosed(timeoutMs = this.#timeoutMs): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#closed) await this.#changed(deadline);
  }

  close(): void {
    this.socket.destroy();
  }
}
