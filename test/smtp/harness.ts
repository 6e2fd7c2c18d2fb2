// Test harness for the SMTP service: a started server over a fresh store in its own temp folder
// (ephemeral ports on 127.0.0.1), and a small line-level SMTP client that parses replies.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { buildConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { openTestStore } from '../harness/engines.js';
import type { Store } from '../../src/store/store.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { createTlsProvider, type TlsProvider } from '../../src/tls/provider.js';
import { silentLogger } from '../../src/shared/logger.js';
import type { RunningService } from '../../src/shared/service.js';
import { startSmtpServer } from '../../src/smtp/server.js';
import { parseReplyLines, type Reply } from '../../src/smtp/wire/reply.js';
import type { DNSResolver } from '../../src/smtp/inbound.js';

/** A resolver with no records at all: SPF "none", DKIM "none", DMARC "none", offline. */
export const offlineResolver: DNSResolver = async () => {
  const err = new Error('no such name') as Error & { code: string };
  err.code = 'ENOTFOUND';
  throw err;
};

export interface TestServer {
  dir: string;
  store: Store;
  config: Config;
  service: RunningService;
  tls: TlsProvider;
  authenticator: Authenticator;
  port: (listener: 'smtp' | 'submission' | 'submissions' | 'lmtp') => number;
  close(): Promise<void>;
}

// Hashing is deliberately slow (scrypt); compute the test password's hash once per process.
let pwHash: Promise<string> | undefined;
export const PASSWORD = 'correct horse';

export interface TestServerOptions {
  config?: Record<string, unknown>;
  idleTimeoutMs?: number;
  resolver?: DNSResolver;
  /** Listeners to start ('' disables); default all four on 127.0.0.1:0. */
  listeners?: Partial<Record<'smtp' | 'submission' | 'submissions' | 'lmtp', string>>;
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pigeon-'));
  const raw = options.config ?? {};
  const config = buildConfig(
    {
      hostname: 'mx.example.com',
      data_dir: dir,
      ...raw,
      listen: {
        smtp: '127.0.0.1:0',
        submission: '127.0.0.1:0',
        submissions: '127.0.0.1:0',
        lmtp: '127.0.0.1:0',
        imap: '',
        imaps: '',
        pop3: '',
        pop3s: '',
        http: '',
        https: '',
        ...options.listeners,
      },
      auth: { failure_delay_ms: 0, max_failure_delay_ms: 0, ...((raw['auth'] as object | undefined) ?? {}) },
    },
    { env: {} },
  );
  const logger = silentLogger();
  const { store, cleanup } = await openTestStore(dir, logger);
  pwHash ??= hashPassword(PASSWORD);
  const passwordHash = await pwHash;
  await store.addDomain('example.com');
  await store.addDomain('example.org');
  await store.createAccount({ email: 'alice@example.com', passwordHash });
  await store.createAccount({ email: 'bob@example.com', passwordHash });
  await store.createAccount({ email: 'carol@example.org', passwordHash });
  const tlsProvider = await createTlsProvider({ dataDir: dir, hostname: 'mx.example.com', cert: '', key: '' });
  const authenticator = new Authenticator(store, { auth: config.auth, logger, sleep: async () => {} });
  const service = await startSmtpServer({
    config,
    store,
    authenticator,
    tls: tlsProvider,
    logger,
    resolver: options.resolver ?? offlineResolver,
    ...(options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
  });
  return {
    dir,
    store,
    config,
    service,
    tls: tlsProvider,
    authenticator,
    port(listener) {
      const l = service.listening.find((x) => x.listener === listener);
      if (!l) throw new Error(`listener ${listener} not started`);
      return l.port;
    },
    async close() {
      await service.close({ timeoutMs: 1000 });
      tlsProvider.close();
      await store.close();
      await cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A raw SMTP client: send lines, read parsed replies, STARTTLS, see the connection close. */
export class SmtpClient {
  #socket: net.Socket;
  #buf = '';
  #lines: string[] = [];
  #waiters: Array<() => void> = [];
  #closed = false;
  readonly closed: Promise<void>;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    this.#attach(socket);
  }

  #attach(socket: net.Socket): void {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.#buf += d;
      let i: number;
      while ((i = this.#buf.indexOf('\r\n')) >= 0) {
        this.#lines.push(this.#buf.slice(0, i));
        this.#buf = this.#buf.slice(i + 2);
      }
      this.#wake();
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
    socket.on('error', () => {});
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  static async connect(port: number, options: { tls?: boolean } = {}): Promise<SmtpClient> {
    const socket = options.tls
      ? tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false })
      : net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once(options.tls ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new SmtpClient(socket);
  }

  get isClosed(): boolean {
    return this.#closed;
  }

  /** The next complete reply; null when the connection closed first. */
  async read(): Promise<Reply | null> {
    for (;;) {
      const end = this.#lines.findIndex((l) => l.length < 4 || l[3] === ' ');
      if (end >= 0) {
        const lines = this.#lines.splice(0, end + 1);
        return parseReplyLines(lines);
      }
      if (this.#closed) return null;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** The next raw line from the server; null when the connection closed first. */
  async readLine(): Promise<string | null> {
    for (;;) {
      const l = this.#lines.shift();
      if (l !== undefined) return l;
      if (this.#closed) return null;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** Raw reply lines of the next reply (for multi-line checks). */
  async readRaw(): Promise<string[]> {
    for (;;) {
      const end = this.#lines.findIndex((l) => l.length < 4 || l[3] === ' ');
      if (end >= 0) return this.#lines.splice(0, end + 1);
      if (this.#closed) return [];
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  write(data: string | Buffer): void {
    this.#socket.write(data);
  }

  async cmd(line: string): Promise<Reply | null> {
    this.write(`${line}\r\n`);
    return this.read();
  }

  /** EHLO and return the extension keywords (upper-case, with arguments). */
  async ehlo(name = 'client.test'): Promise<string[]> {
    this.write(`EHLO ${name}\r\n`);
    const r = await this.read();
    if (!r || r.code !== 250) throw new Error(`EHLO failed: ${JSON.stringify(r)}`);
    return r.lines.slice(1);
  }

  /** STARTTLS: send, expect 220, then handshake (optionally with bytes pipelined after the command). */
  async starttls(pipelined = ''): Promise<Reply | null> {
    this.write(`STARTTLS\r\n${pipelined}`);
    const r = await this.read();
    if (!r || r.code !== 220) return r;
    const plain = this.#socket;
    plain.removeAllListeners('data');
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      secure.once('secureConnect', () => resolve());
      secure.once('error', reject);
    });
    this.#socket = secure;
    this.#attach(secure);
    return r;
  }

  async authPlain(user: string, password: string): Promise<Reply | null> {
    return this.cmd(`AUTH PLAIN ${Buffer.from(`\0${user}\0${password}`).toString('base64')}`);
  }

  /** Send the last bytes and half-close (FIN); replies can still arrive. */
  end(data: string): void {
    this.#socket.end(data);
  }

  close(): void {
    this.#socket.destroy();
  }
}

export function message(subject: string, body = 'Hello.\r\n', extraHeaders = ''): string {
  return `From: alice@example.com\r\nTo: bob@example.com\r\nSubject: ${subject}\r\nMessage-ID: <${subject.replace(/\W/g, '')}@test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n${extraHeaders}\r\n${body}`;
}

/** The messages in an account's INBOX, raw. */
export async function inbox(store: Store, email: string): Promise<string[]> {
  const account = await store.getAccountByEmail(email);
  if (!account) throw new Error(`no account ${email}`);
  const box = await store.getMailbox(account.id, 'INBOX');
  const states = await store.listMessageStates(box!.id);
  const metas = await store.getMessageMeta(box!.id, states.map((s) => s.uid));
  const out: string[] = [];
  for (const m of metas) out.push((await store.readBlob(m.blobHash)).toString('utf8'));
  return out;
}

export async function withServer(options: TestServerOptions, fn: (s: TestServer) => Promise<void>): Promise<void> {
  const s = await startTestServer(options);
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

/** Compare a reply's code (and enhanced code when given). */
export function expectReply(r: Reply | null, code: number, enhanced?: string | null): void {
  if (!r) throw new Error(`expected ${code}, connection closed`);
  const got = enhanced === undefined ? { code: r.code } : { code: r.code, enhanced: r.enhanced };
  const want = enhanced === undefined ? { code } : { code, enhanced };
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Error(`expected ${JSON.stringify(want)}, got ${r.code} ${r.enhanced ?? ''} ${r.lines.join(' | ')}`);
  }
}

/** Connect, read the greeting, say EHLO. */
export async function ready(port: number, options: { tls?: boolean } = {}): Promise<SmtpClient> {
  const c = await SmtpClient.connect(port, options);
  expectReply(await c.read(), 220);
  await c.ehlo();
  return c;
}

/** Connect to 587, STARTTLS, EHLO, AUTH PLAIN as `user`. */
export async function submitter(s: TestServer, user = 'alice@example.com'): Promise<SmtpClient> {
  const c = await ready(s.port('submission'));
  expectReply(await c.starttls(), 220);
  await c.ehlo();
  expectReply(await c.authPlain(user, PASSWORD), 235, '2.7.0');
  return c;
}

/** MAIL, RCPTs, DATA, message; returns the final reply. */
export async function send(c: SmtpClient, from: string, to: string[], body: string): Promise<Reply | null> {
  expectReply(await c.cmd(`MAIL FROM:<${from}>`), 250);
  for (const t of to) expectReply(await c.cmd(`RCPT TO:<${t}>`), 250);
  expectReply(await c.cmd('DATA'), 354);
  c.write(`${body.replace(/^\./gm, '..')}.\r\n`);
  return c.read();
}
