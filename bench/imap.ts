// IMAP benchmark (prints numbers, not pass/fail): push latency with 1,000 other idle connections,
// server memory per idle connection at 1,000 and 10,000 connections, and FETCH of headers for
// 10,000 messages. Targets (issue 3): p99 push < 20 ms, < 20 KB per idle connection.
//
// The server runs in a child process (so its RSS is its own), on 127.0.0.1 only, with the
// connection limits raised. Logins use a memoising Authenticator: the bench measures IMAP, not
// scrypt (10,000 scrypt verifications would take most of an hour on 2 cores).
//
//   node --import tsx bench/imap.ts            (or the compiled dist/bench/imap.js)
//   BENCH_IMAP_CONNECTIONS=2000 … to scale the large run down.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ImapFlow } from 'imapflow';
import { buildConfig } from '../src/config/load.js';
import { silentLogger } from '../src/shared/logger.js';
import { openStore } from '../src/store/open.js';
import type { Store } from '../src/store/store.js';
import { Authenticator, type AuthRequest, type AuthResult } from '../src/auth/authenticator.js';
import { hashPassword } from '../src/auth/passwords.js';
import { createTlsProvider } from '../src/tls/provider.js';
import { deliverMessage } from '../src/delivery/deliver.js';
import { indexMessage } from '../src/mail/parse.js';
import { startImapServer } from '../src/imap/server.js';

const PASSWORD = 'bench-password';
const LATENCY_SAMPLES = 200;
const now = (): number => performance.timeOrigin + performance.now();

type Request = { id: number; cmd: 'deliver' } | { id: number; cmd: 'rss' } | { id: number; cmd: 'fill'; count: number } | { id: number; cmd: 'stop' };
type Reply = { id: number; committedAt?: number; rss?: number; heap?: number; filled?: number };

/** Remembers logins (in flight too) so connection storms do not measure scrypt. */
class MemoAuthenticator extends Authenticator {
  #memo = new Map<string, Promise<AuthResult>>();
  override authenticate(request: AuthRequest): Promise<AuthResult> {
    const key = `${request.username}\u0000${request.password}`;
    let result = this.#memo.get(key);
    if (!result) this.#memo.set(key, (result = super.authenticate(request)));
    return result;
  }
}

function message(i: number): Buffer {
  return Buffer.from(
    `From: Sender ${i} <sender${i}@example.org>\r\nTo: fetch@example.com\r\nSubject: Message number ${i}\r\n` +
      `Date: Mon, 02 Nov 2026 10:00:00 +0000\r\nMessage-ID: <bench-${i}@example.org>\r\n\r\n${'Some body text. '.repeat(20)}\r\n`,
  );
}

async function fill(store: Store, count: number): Promise<number> {
  const account = (await store.getAccountByEmail('fetch@example.com'))!;
  const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
  let have = (await store.getMailboxById(inbox.id))!.messageCount;
  for (let i = have; i < Math.min(count, 100); i++) {
    const raw = message(i);
    await store.appendMessage(inbox.id, { raw, index: indexMessage(raw) });
  }
  // Double by copying within the mailbox (one transaction each) until there are enough.
  for (;;) {
    const states = await store.listMessageStates(inbox.id);
    have = states.length;
    if (have >= count) return have;
    await store.copyMessages(inbox.id, states.slice(0, Math.min(have, count - have)).map((s) => s.uid), inbox.id);
  }
}

async function serverMain(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pigeon-bench-'));
  const config = buildConfig(
    {
      data_dir: dir,
      hostname: 'bench.example.com',
      listen: { imap: '127.0.0.1:0', imaps: '' },
      auth: { allow_plaintext: true },
      limits: { max_connections_per_address: 20_000, max_connections_per_account: 20_000, max_commands_before_login: 1000 },
    },
    { env: {} },
  );
  const logger = silentLogger();
  const store = await openStore({ driver: 'sqlite', url: '', dataDir: dir, logger });
  await store.addDomain('example.com');
  const hash = await hashPassword(PASSWORD);
  for (const email of ['push@example.com', 'idle@example.com', 'fetch@example.com']) await store.createAccount({ email, passwordHash: hash });
  const push = (await store.getAccountByEmail('push@example.com'))!;
  let committedAt = 0;
  store.feed.subscribe(push.id, (changes) => {
    if (changes.some((c) => c.kind === 'message-added')) committedAt = now();
  });
  const tls = await createTlsProvider({ dataDir: dir, hostname: 'bench.example.com', cert: '', key: '' });
  const authenticator = new MemoAuthenticator(store, { auth: config.auth, logger });
  const service = await startImapServer({ config, store, authenticator, tls, logger });
  const send = (m: Reply | { ready: number }): void => void process.send!(m);
  process.on('message', (msg: Request) => {
    void (async () => {
      switch (msg.cmd) {
        case 'deliver':
          await deliverMessage(store, { raw: message(0), recipients: ['push@example.com'] });
          send({ id: msg.id, committedAt });
          break;
        case 'rss': {
          const gc = (globalThis as { gc?: () => void }).gc;
          gc?.();
          gc?.();
          const m = process.memoryUsage();
          send({ id: msg.id, rss: m.rss, heap: m.heapUsed });
          break;
        }
        case 'fill':
          send({ id: msg.id, filled: await fill(store, msg.count) });
          break;
        case 'stop':
          await service.close({ timeoutMs: 0 });
          tls.close();
          await store.close();
          fs.rmSync(dir, { recursive: true, force: true });
          send({ id: msg.id });
          process.exit(0);
      }
    })();
  });
  send({ ready: service.listening[0]!.port });
}

class Child {
  #child: ChildProcess;
  #next = 1;
  #waiting = new Map<number, (r: Reply) => void>();
  port: Promise<number>;
  constructor() {
    this.#child = fork(import.meta.filename, ['--server'], { execArgv: [...process.execArgv, '--expose-gc'], stdio: 'inherit' });
    const child = this.#child;
    process.once('exit', () => child.kill());
    this.port = new Promise((resolve) => {
      this.#child.on('message', (m: Reply | { ready: number }) => {
        if ('ready' in m) resolve(m.ready);
        else this.#waiting.get(m.id)?.(m);
      });
    });
  }
  call(request: Request extends infer R ? (R extends Request ? Omit<R, 'id'> : never) : never): Promise<Reply> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#waiting.set(id, resolve);
      this.#child.send({ ...request, id });
    });
  }
}

/** Open n raw connections that log in, select INBOX and IDLE. */
async function openIdle(port: number, n: number, sockets: net.Socket[]): Promise<void> {
  const batch = 250;
  for (let i = 0; i < n; i += batch) {
    const wave: Array<Promise<void>> = [];
    for (let j = i; j < Math.min(n, i + batch); j++) {
      wave.push(
        new Promise((resolve, reject) => {
          const s = net.connect({ host: '127.0.0.1', port }, () => {
            s.write(`a LOGIN idle@example.com ${PASSWORD}\r\nb SELECT INBOX\r\nc IDLE\r\n`);
          });
          let seen = '';
          s.setEncoding('latin1');
          s.on('data', (d: string) => {
            seen += d;
            if (seen.includes('+ idling')) {
              seen = '';
              s.removeAllListeners('data');
              s.on('data', () => undefined);
              resolve();
            } else if (/\r\n[abc] (NO|BAD)/.test(seen) || seen.includes('* BYE')) reject(new Error(`idle connection failed: ${seen.slice(-200)}`));
          });
          s.on('error', reject);
          sockets.push(s);
        }),
      );
    }
    await Promise.all(wave);
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function fetchHeaders(port: number, count: number): Promise<number> {
  const s = net.connect({ host: '127.0.0.1', port });
  s.setEncoding('latin1');
  let buf = '';
  const waitFor = (marker: string): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (buf.includes(marker)) {
          s.off('data', onData);
          buf = '';
          resolve();
        }
      };
      const onData = (d: string): void => {
        buf = buf.length > 64 ? buf.slice(-64) + d : buf + d;
        check();
      };
      s.on('data', onData);
      check();
    });
  s.write(`a LOGIN fetch@example.com ${PASSWORD}\r\nb SELECT INBOX\r\n`);
  await waitFor('\r\nb OK');
  const t0 = performance.now();
  s.write('f FETCH 1:* (UID BODY.PEEK[HEADER])\r\n');
  await waitFor('\r\nf OK');
  const seconds = (performance.now() - t0) / 1000;
  s.destroy();
  return count / seconds;
}

export async function runImapBench(): Promise<Record<string, number>> {
  const large = Number(process.env['BENCH_IMAP_CONNECTIONS'] ?? 10_000);
  const child = new Child();
  const port = await child.port;
  const results: Record<string, number> = {};
  const sockets: net.Socket[] = [];
  // Warm up the code paths (and the allocator) so the baseline is not the cold process.
  const warm: net.Socket[] = [];
  await openIdle(port, 100, warm);
  for (const s of warm) s.destroy();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const base = await child.call({ cmd: 'rss' });
  await openIdle(port, 1000, sockets);
  const at1000 = await child.call({ cmd: 'rss' });
  results['idle_kb_per_connection_1000'] = (at1000.rss! - base.rss!) / 1000 / 1024;
  results['idle_heap_kb_per_connection_1000'] = (at1000.heap! - base.heap!) / 1000 / 1024;

  const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user: 'push@example.com', pass: PASSWORD }, tls: { rejectUnauthorized: false }, logger: false, disableAutoIdle: true });
  await client.connect();
  await client.mailboxOpen('INBOX');
  let existsAt = 0;
  let onExists: (() => void) | null = null;
  client.on('exists', () => {
    existsAt = now();
    onExists?.();
  });
  const idling = client.idle();
  const latencies: number[] = [];
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const seen = new Promise<void>((resolve) => (onExists = resolve));
    const reply = await child.call({ cmd: 'deliver' });
    await seen;
    latencies.push(existsAt - reply.committedAt!);
  }
  latencies.sort((a, b) => a - b);
  results['push_latency_p50_ms'] = percentile(latencies, 50);
  results['push_latency_p99_ms'] = percentile(latencies, 99);
  await client.noop();
  await idling;
  await client.logout();

  if (large > 1000) {
    await openIdle(port, large - 1000, sockets);
    const atLarge = await child.call({ cmd: 'rss' });
    results[`idle_kb_per_connection_${large}`] = (atLarge.rss! - base.rss!) / large / 1024;
    results[`idle_heap_kb_per_connection_${large}`] = (atLarge.heap! - base.heap!) / large / 1024;
    // The slope between the two sizes leaves out one-off growth (V8 young generation, code).
    results['idle_kb_per_connection_marginal'] = (atLarge.rss! - at1000.rss!) / (large - 1000) / 1024;
  }
  for (const s of sockets) s.destroy();

  const filled = (await child.call({ cmd: 'fill', count: 10_000 })).filled!;
  results['fetch_headers_messages_per_second'] = await fetchHeaders(port, filled);
  await child.call({ cmd: 'stop' });
  return results;
}

if (process.argv.includes('--server')) {
  void serverMain();
} else if (import.meta.filename === process.argv[1] || process.argv[1]?.endsWith('bench/imap.ts')) {
  const started = Date.now();
  runImapBench().then(
    (r) => {
      console.log('IMAP benchmark');
      for (const [k, v] of Object.entries(r)) console.log(`  ${k.padEnd(40)} ${v.toFixed(2)}`);
      console.log(`  (took ${((Date.now() - started) / 1000).toFixed(1)} s)`);
      process.exit(0);
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
