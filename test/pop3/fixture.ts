// A POP3 server on the real store, authenticator and TLS provider, with ephemeral ports on
// 127.0.0.1 and its own temp folder; plus a small line client that reads structured replies.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { buildConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { openTestStore } from '../harness/engines.js';
import type { Account, Mailbox, Store } from '../../src/store/store.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { createTlsProvider, type TlsProvider } from '../../src/tls/provider.js';
import { indexMessage } from '../../src/mail/parse.js';
import { silentLogger } from '../../src/shared/logger.js';
import type { RunningService } from '../../src/shared/service.js';
import { startPop3Server } from '../../src/pop3/server.js';

export const USER = 'alice@example.com';
export const PASSWORD = 'correct horse';

export interface FixtureOptions {
  allowPlaintext?: boolean;
  idleTimeoutMs?: number;
  limits?: Record<string, number>;
  auth?: Record<string, number | boolean>;
  /** Wrap the store the server sees (e.g. to record readBlob calls); the fixture keeps the real one. */
  wrapStore?: (store: Store) => Store;
}

export interface Pop3Fixture {
  dir: string;
  config: Config;
  store: Store;
  tls: TlsProvider;
  authenticator: Authenticator;
  service: RunningService;
  /** Plain (STLS) port and implicit-TLS port. */
  port: number;
  tlsPort: number;
  account: Account;
  inbox: Mailbox;
  append(raw: string | Buffer, mailbox?: number): Promise<number>;
  /** Open the same store again (same engine and database), as a restarted server would. */
  reopenStore(): Promise<Store>;
  close(): Promise<void>;
}

let sharedHash: Promise<string> | undefined;

export async function startFixture(options: FixtureOptions = {}): Promise<Pop3Fixture> {
  const dir = mkdtempSync(join(tmpdir(), 'pigeon-'));
  const config = buildConfig(
    {
      hostname: 'mail.example.test',
      data_dir: dir,
      listen: { pop3: '127.0.0.1:0', pop3s: '127.0.0.1:0' },
      auth: { failure_delay_ms: 0, max_failure_delay_ms: 0, allow_plaintext: options.allowPlaintext ?? false, ...options.auth },
      limits: { ...options.limits },
      log: { level: 'silent' },
    },
    { env: {} },
  );
  const logger = silentLogger();
  const { store, reopen, cleanup } = await openTestStore(dir, logger);
  const tls = await createTlsProvider({ dataDir: dir, hostname: config.hostname, cert: '', key: '', logger });
  const authenticator = new Authenticator(store, { auth: config.auth, logger, sleep: async () => {} });
  await store.addDomain('example.com');
  sharedHash ??= hashPassword(PASSWORD);
  const account = await store.createAccount({ email: USER, passwordHash: await sharedHash });
  const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
  const service = await startPop3Server({
    config,
    store: options.wrapStore ? options.wrapStore(store) : store,
    authenticator,
    tls,
    logger,
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
  });
  const port = service.listening.find((l) => l.listener === 'pop3')!.port;
  const tlsPort = service.listening.find((l) => l.listener === 'pop3s')!.port;
  return {
    dir,
    config,
    store,
    tls,
    authenticator,
    service,
    port,
    tlsPort,
    account,
    inbox,
    async append(raw, mailbox = inbox.id) {
      const bytes = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
      const r = await store.appendMessage(mailbox, { raw: bytes, index: indexMessage(bytes) });
      return r.uid;
    },
    reopenStore: reopen,
    async close() {
      await service.close({ timeoutMs: 1000 });
      tls.close();
      await store.close();
      await cleanup();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function addAccount(f: Pop3Fixture, email: string): Promise<Account> {
  sharedHash ??= hashPassword(PASSWORD);
  return f.store.createAccount({ email, passwordHash: await sharedHash });
}

export function message(subject: string, body = 'Hello.\r\n'): string {
  return `From: Bob <bob@example.org>\r\nTo: ${USER}\r\nSubject: ${subject}\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '')}@example.org>\r\n\r\n${body}`;
}

/** A POP3 client for tests: reads status lines and multi-line bodies as values. */
export class Pop3Client {
  #socket: Socket | TLSSocket;
  #buffer = Buffer.alloc(0);
  #waiter: (() => void) | null = null;
  #ended = false;
  #error: Error | null = null;

  private constructor(socket: Socket | TLSSocket) {
    this.#socket = socket;
    this.#attach(socket);
  }

  #attach(socket: Socket | TLSSocket): void {
    socket.on('data', (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake();
    });
    socket.on('end', () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on('close', () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on('error', (err) => {
      this.#error = err;
      this.#wake();
    });
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }

  static async connect(port: number, options: { tls?: boolean } = {}): Promise<Pop3Client> {
    const socket = options.tls
      ? tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false })
      : netConnect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once(options.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new Pop3Client(socket);
  }

  get socket(): Socket {
    return this.#socket;
  }

  write(data: string | Buffer): void {
    this.#socket.write(data);
  }

  async #until<T>(take: () => T | undefined): Promise<T> {
    for (;;) {
      const got = take();
      if (got !== undefined) return got;
      if (this.#error) throw this.#error;
      if (this.#ended) throw new Error(`connection closed; unread: ${JSON.stringify(this.#buffer.toString('latin1').slice(0, 200))}`);
      await new Promise<void>((resolve) => (this.#waiter = resolve));
    }
  }

  /** One response line, without CRLF. */
  readLine(): Promise<string> {
    return this.#until(() => {
      const i = this.#buffer.indexOf('\r\n');
      if (i === -1) return undefined;
      const line = this.#buffer.subarray(0, i).toString('utf8');
      this.#buffer = this.#buffer.subarray(i + 2);
      return line;
    });
  }

  /** The rest of a multi-line response, unstuffed, as raw bytes (lines joined with CRLF). */
  readBody(): Promise<Buffer> {
    return this.#until(() => {
      const text = this.#buffer;
      let end = -1;
      if (text.subarray(0, 3).equals(Buffer.from('.\r\n'))) end = 0;
      else {
        const i = text.indexOf('\r\n.\r\n');
        if (i !== -1) end = i + 2;
      }
      if (end === -1) return undefined;
      const body = text.subarray(0, end);
      this.#buffer = text.subarray(end + 3);
      const lines = body.toString('latin1').split('\r\n');
      lines.pop();
      return Buffer.from(lines.map((l) => (l.startsWith('.') ? l.slice(1) : l)).join('\r\n') + (lines.length > 0 ? '\r\n' : ''), 'latin1');
    });
  }

  /** Send a command, return its status line. */
  async command(line: string): Promise<string> {
    this.write(`${line}\r\n`);
    return this.readLine();
  }

  /** Send a command expecting a multi-line answer: [status, body lines]. */
  async multi(line: string): Promise<[string, string[]]> {
    const status = await this.command(line);
    if (!status.startsWith('+OK')) return [status, []];
    const body = (await this.readBody()).toString('utf8');
    const lines = body.split('\r\n');
    lines.pop();
    return [status, lines];
  }

  async login(user = USER, password = PASSWORD): Promise<string> {
    const u = await this.command(`USER ${user}`);
    if (!u.startsWith('+OK')) return u;
    return this.command(`PASS ${password}`);
  }

  /** STLS, then the handshake on the same socket (RFC 2595 §4). */
  async startTls(): Promise<string> {
    const reply = await this.command('STLS');
    if (reply.startsWith('+OK')) await this.handshake();
    return reply;
  }

  /** The TLS handshake after a "+OK" to STLS; anything unread before it is dropped. */
  async handshake(): Promise<void> {
    const plain = this.#socket;
    plain.removeAllListeners('data');
    const secure = tlsConnect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.#socket = secure;
    this.#buffer = Buffer.alloc(0);
    this.#attach(secure);
  }

  /** Resolves when the server has closed the connection; returns what it sent meanwhile. */
  async closed(): Promise<string> {
    await this.#until(() => (this.#ended ? true : undefined)).catch(() => undefined);
    return this.#buffer.toString('utf8');
  }

  get isClosed(): boolean {
    return this.#ended;
  }

  destroy(): void {
    this.#socket.destroy();
  }
}
