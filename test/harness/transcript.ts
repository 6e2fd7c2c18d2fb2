// Scripted IMAP transcripts (STYLE.md "Tests"), and the in-process server the IMAP tests start.
//
// A transcript is a plain-text file:
//   # comment                      ignored, as are blank lines
//   C: a1 LOGIN user@example.com pass    a line the client sends (CRLF added)
//   S: a1 OK [...] LOGIN completed       the next line the server must send
//   @2                              switch to connection 2 (opened on first use)
//   !deliver simple.eml user@example.com [mailbox]   deliver fixtures/simple.eml via deliverMessage
//   !close                          the current connection closes its socket
//   !eof                            the server must have closed the current connection
//   !config section.key=value       (before any connection) a config setting for this transcript
// In S: lines `<*>` matches any text and `<n>` any number; `<n:name>` matches a number and keeps it
// as `name`, which later C: lines use as `${name}` (a UIDVALIDITY for QRESYNC). Tags are normalised: the tag of every
// C: line is replaced by a fresh one on the wire and mapped back in the server's lines, so a
// response answers the command that carried its tag. A leftover server line fails the test.
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import { buildConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { silentLogger, type Logger } from '../../src/shared/logger.js';
import type { Store } from '../../src/store/store.js';
import { openStore } from '../../src/store/open.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { createTlsProvider, type TlsProvider } from '../../src/tls/provider.js';
import { deliverMessage } from '../../src/delivery/deliver.js';
import { startImapServer, type ImapService } from '../../src/imap/server.js';
import { storeOverrides, type Engine } from './engines.js';

/** The repository root (works from test/harness/ and from the compiled dist/test/harness/). */
export function repoRoot(): string {
  let dir = import.meta.dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + import.meta.dirname);
    dir = up;
  }
  return dir;
}

export const TRANSCRIPTS = path.join(repoRoot(), 'test/transcripts/imap');
export const FIXTURES = path.join(TRANSCRIPTS, 'fixtures');

export interface TestServer {
  config: Config;
  store: Store;
  tls: TlsProvider;
  service: ImapService;
  authenticator: Authenticator;
  dir: string;
  /** Plain (STARTTLS) port. */
  port: number;
  /** Implicit TLS port. */
  tlsPort: number;
  deliver(raw: Buffer | string, recipient: string, mailbox?: string): Promise<void>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** Raw config sections merged over the test defaults. */
  config?: Record<string, Record<string, unknown>>;
  logger?: Logger;
  /** Let failed logins really wait auth.failure_delay_ms (default: no waiting). */
  authDelays?: boolean;
  /** Store engine (default sqlite); postgres gets a fresh database (test/harness/engines.ts). */
  engine?: Engine;
}

let passHash: Promise<string> | undefined;
let tlsDir: string | undefined;

/** Start a store with example.com, user@example.com / "pass" (alias alias@example.com) and
 *  other@example.com / "pass", and an IMAP server on 127.0.0.1 ephemeral ports. */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pigeon-'));
  const raw: Record<string, unknown> = {
    data_dir: dir,
    hostname: 'mail.example.com',
    listen: { imap: '127.0.0.1:0', imaps: '127.0.0.1:0', ...(options.config?.['listen'] ?? {}) },
    auth: { allow_plaintext: true, failure_delay_ms: 0, max_failure_delay_ms: 0, ...(options.config?.['auth'] ?? {}) },
  };
  for (const [k, v] of Object.entries(options.config ?? {})) if (k !== 'listen' && k !== 'auth') raw[k] = v;
  const config = buildConfig(raw, { env: {} });
  const logger = options.logger ?? silentLogger();
  const engine = await storeOverrides(options.engine ?? 'sqlite');
  const storeConfig = (engine.overrides['store'] ?? {}) as { driver?: 'postgres'; url?: string };
  const store = await openStore({ driver: storeConfig.driver ?? 'sqlite', url: storeConfig.url ?? '', dataDir: dir, logger });
  await store.addDomain('example.com');
  passHash ??= hashPassword('pass');
  const hash = await passHash;
  await store.createAccount({ email: 'user@example.com', passwordHash: hash });
  await store.createAccount({ email: 'other@example.com', passwordHash: hash });
  await store.addAlias('alias@example.com', ['user@example.com']);
  // One self-signed certificate per test process (key generation is the slow part of a start).
  tlsDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'pigeon-tls-'));
  const tls = await createTlsProvider({ dataDir: tlsDir, hostname: 'mail.example.com', cert: '', key: '' });
  const authenticator = new Authenticator(store, options.authDelays ? { auth: config.auth, logger } : { auth: config.auth, logger, sleep: async () => undefined });
  const service = await startImapServer({ config, store, authenticator, tls, logger });
  const port = service.listening.find((l) => l.listener === 'imap')?.port ?? 0;
  const tlsPort = service.listening.find((l) => l.listener === 'imaps')?.port ?? 0;
  return {
    config,
    store,
    tls,
    service,
    authenticator,
    dir,
    port,
    tlsPort,
    async deliver(message, recipient, mailbox) {
      const rawMsg = typeof message === 'string' ? Buffer.from(message.replace(/\r?\n/g, '\r\n')) : message;
      const results = await deliverMessage(store, { raw: rawMsg, recipients: [recipient], ...(mailbox ? { mailbox } : {}) });
      const failed = results.filter((r) => r.status !== 'delivered');
      if (failed.length) throw new Error(`delivery failed: ${failed.map((f) => `${f.recipient}: ${f.status} ${f.message}`).join('; ')}`);
    },
    async close() {
      await service.close({ timeoutMs: 0 });
      tls.close();
      await store.close();
      await engine.cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A line-oriented client socket for tests: reads CRLF lines, fails on timeouts with what it saw. */
export class LineClient {
  #socket: net.Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #lines: string[] = [];
  #waiters: Array<() => void> = [];
  #closed = false;
  readonly received: string[] = [];

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    this.#bind(socket);
  }

  #bind(socket: net.Socket): void {
    socket.on('data', (chunk: Buffer) => {
      // Lines are decoded as UTF-8 (mailbox names after UTF8=ACCEPT); bytes are split on CRLF first.
      this.#buffer = this.#buffer.length ? Buffer.concat([this.#buffer, chunk]) : chunk;
      let start = 0;
      let i: number;
      while ((i = this.#buffer.indexOf('\r\n', start)) >= 0) {
        const line = this.#buffer.toString('utf8', start, i);
        start = i + 2;
        this.#lines.push(line);
        this.received.push(line);
      }
      this.#buffer = start ? this.#buffer.subarray(start) : this.#buffer;
      this.#wake();
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#wake();
    });
    socket.on('error', () => undefined);
  }

  static connectTls(port: number): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(new LineClient(s)));
      s.once('error', reject);
    });
  }

  /** STARTTLS from the client side, once the server said OK. */
  upgrade(): Promise<void> {
    const plain = this.#socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    return new Promise((resolve, reject) => {
      const secure = tls.connect({ socket: plain, rejectUnauthorized: false }, () => resolve());
      secure.once('error', reject);
      this.#socket = secure;
      this.#bind(secure);
    });
  }

  /** Bytes received from the server so far. */
  get bytesRead(): number {
    return this.#socket.bytesRead;
  }

  /** Stop or resume reading from the socket (backpressure tests). */
  pause(): void {
    this.#socket.pause();
  }
  resume(): void {
    this.#socket.resume();
  }

  static connect(port: number): Promise<LineClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(new LineClient(s)));
      s.once('error', reject);
    });
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  get closed(): boolean {
    return this.#closed;
  }
  /** Lines received and not read yet. */
  pending(): string[] {
    return this.#lines.slice();
  }

  send(line: string | Buffer): void {
    this.#socket.write(typeof line === 'string' ? Buffer.from(line + '\r\n', 'utf8') : line);
  }

  async readLine(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.#lines.length === 0) {
      if (this.#closed) throw new Error('connection closed by the server');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no line from the server within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.#lines.shift()!;
  }

  /** Read lines until the tagged completion for `tag`; returns every line including it. */
  async readUntilTagged(tag: string, timeoutMs = 5000): Promise<string[]> {
    const out: string[] = [];
    for (;;) {
      const line = await this.readLine(timeoutMs);
      out.push(line);
      if (line.startsWith(tag + ' ')) return out;
    }
  }

  /** Send a command and read its response lines. */
  async command(tag: string, text: string): Promise<string[]> {
    this.send(`${tag} ${text}`);
    return this.readUntilTagged(tag);
  }

  waitClosed(timeoutMs = 5000): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('the server did not close the connection')), timeoutMs);
      this.#socket.once('close', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  close(): void {
    this.#socket.destroy();
  }
}

interface Step {
  line: number;
  kind: 'C' | 'S' | 'switch' | 'deliver' | 'close' | 'eof' | 'config';
  text: string;
}

export function parseTranscript(text: string): Step[] {
  const steps: Step[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '' || raw.startsWith('#')) return;
    if (raw.startsWith('C: ') || raw === 'C:') steps.push({ line, kind: 'C', text: raw.slice(3) });
    else if (raw.startsWith('S: ') || raw === 'S:') steps.push({ line, kind: 'S', text: raw.slice(3) });
    else if (/^@\d+$/.test(raw)) steps.push({ line, kind: 'switch', text: raw.slice(1) });
    else if (raw.startsWith('!deliver ')) steps.push({ line, kind: 'deliver', text: raw.slice(9).trim() });
    else if (raw.startsWith('!config ')) steps.push({ line, kind: 'config', text: raw.slice(8).trim() });
    else if (raw.trim() === '!close') steps.push({ line, kind: 'close', text: '' });
    else if (raw.trim() === '!eof') steps.push({ line, kind: 'eof', text: '' });
    else throw new Error(`transcript line ${line}: cannot read ${JSON.stringify(raw)}`);
  });
  return steps;
}

function lineMatches(expected: string, actual: string, vars: Map<string, string> = new Map()): boolean {
  if (!expected.includes('<*>') && !expected.includes('<n>') && !expected.includes('<n:')) return expected === actual;
  const names: string[] = [];
  const re = expected
    .split(/(<\*>|<n>|<n:\w+>)/)
    .map((part) => {
      if (part === '<*>') return '.*?';
      if (part === '<n>') return '\\d+';
      const named = /^<n:(\w+)>$/.exec(part);
      if (named) {
        names.push(named[1]!);
        return '(\\d+)';
      }
      return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('');
  const m = new RegExp(`^${re}$`, 's').exec(actual);
  if (!m) return false;
  names.forEach((name, i) => vars.set(name, m[i + 1]!));
  return true;
}

/** Run one transcript against a fresh server; throws an Error with a readable diff on mismatch. */
export async function runTranscript(file: string, options: TestServerOptions = {}): Promise<void> {
  const steps = parseTranscript(fs.readFileSync(file, 'utf8'));
  const config: Record<string, Record<string, unknown>> = { ...(options.config ?? {}) };
  for (const step of steps.filter((s) => s.kind === 'config')) {
    const m = /^(\w+)\.(\w+)=(.*)$/.exec(step.text);
    if (!m) throw new Error(`${path.basename(file)}:${step.line}: !config needs section.key=value`);
    const value: unknown = m[3] === 'true' ? true : m[3] === 'false' ? false : /^\d+$/.test(m[3]!) ? Number(m[3]) : m[3];
    config[m[1]!] = { ...(config[m[1]!] ?? {}), [m[2]!]: value };
  }
  const server = await startTestServer({ ...options, config });
  const clients = new Map<string, LineClient>();
  const log: string[] = [];
  let current = '1';
  let tagCounter = 0;
  const tagMap = new Map<string, string>(); // wire tag → transcript tag
  const vars = new Map<string, string>(); // <n:name> captures
  const client = async (): Promise<LineClient> => {
    let c = clients.get(current);
    if (!c) {
      c = await LineClient.connect(server.port);
      clients.set(current, c);
    }
    return c;
  };
  const fail = (step: Step, message: string): never => {
    const tail = log.slice(-25).join('\n');
    throw new Error(`${path.basename(file)}:${step.line}: ${message}\n--- transcript so far (last lines) ---\n${tail}`);
  };
  try {
    for (const step of steps) {
      if (step.kind === 'switch') {
        current = step.text;
        log.push(`@${current}`);
        await client();
      } else if (step.kind === 'C') {
        const c = await client();
        const text = step.text.replace(/\$\{(\w+)\}/g, (all, name: string) => vars.get(name) ?? all);
        const m = /^(\S+) (?=\S)/.exec(text);
        let wire = text;
        // Lines that are not commands (literal data, DONE, SASL responses) are sent as they are.
        if (m && /^[A-Za-z][A-Za-z0-9.]*$/.test(m[1]!) && !['DONE'].includes(m[1]!)) {
          const tag = m[1]!;
          const wireTag = `T${++tagCounter}`;
          tagMap.set(wireTag, tag);
          wire = wireTag + text.slice(tag.length);
        }
        log.push(`${current}C: ${step.text}`);
        c.send(wire);
      } else if (step.kind === 'S') {
        const c = await client();
        let actual: string;
        try {
          actual = await c.readLine();
        } catch (err) {
          return fail(step, `expected  S: ${step.text}\nbut ${(err as Error).message}`);
        }
        const m = /^(T\d+) /.exec(actual);
        if (m && tagMap.has(m[1]!)) actual = tagMap.get(m[1]!)! + actual.slice(m[1]!.length);
        actual = actual.replace(/\(TAG "(T\d+)"\)/, (all, t: string) => (tagMap.has(t) ? `(TAG "${tagMap.get(t)}")` : all));
        if (!lineMatches(step.text, actual, vars)) fail(step, `expected  S: ${step.text}\n   actual S: ${actual}`);
        log.push(`${current}S: ${actual}`);
      } else if (step.kind === 'deliver') {
        const [fixture, recipient, mailbox] = step.text.split(/\s+/);
        if (!fixture || !recipient) fail(step, '!deliver needs a fixture file and a recipient');
        await server.deliver(fs.readFileSync(path.join(FIXTURES, fixture!)), recipient!, mailbox);
        log.push(`!deliver ${step.text}`);
      } else if (step.kind === 'close') {
        (await client()).close();
        clients.delete(current);
      } else if (step.kind === 'config') {
        continue;
      } else if (step.kind === 'eof') {
        const c = await client();
        try {
          await c.waitClosed();
        } catch (err) {
          fail(step, (err as Error).message);
        }
        const left = c.pending();
        if (left.length) fail(step, `unexpected lines before close:\n${left.join('\n')}`);
        clients.delete(current);
      }
    }
    // Leftover untagged lines fail the test; give in-flight writes one round-trip to arrive.
    for (const [name, c] of clients) {
      if (c.closed) continue;
      const probe = `Z${++tagCounter}`;
      c.send(`${probe} NOOP`);
      const lines = await c.readUntilTagged(probe);
      const extra = lines.slice(0, -1);
      if (extra.length) throw new Error(`${path.basename(file)}: connection ${name} got lines the transcript does not expect:\n${extra.join('\n')}`);
    }
  } finally {
    for (const c of clients.values()) c.close();
    await server.close();
  }
}
