// SMTP benchmark (prints numbers, not pass/fail): 4 KB messages accepted and durably delivered
// per second over port 25, each message on a new connection, with 10 and 50 concurrent clients;
// p50/p99 time from the end of DATA (the final ".") to the 250 reply. Every message has its own
// Message-ID; at the end the store is read back to check that every accepted message is stored
// exactly once.
//
// With `--store postgres` the same runs go to one node on a fresh database, then to two Pigeon
// nodes on one database (two processes, bench/_node.ts, each with its own store, pool and change
// feed listener), the load generator spreading its connections over both.
//
//   node --import tsx bench/smtp.ts [messagesPerRun] [--store postgres]
// PIGEON_BENCH_DIR=/dev/shm puts the store on tmpfs (fsync is free there): the difference to a run
// on disk is what synchronous commits cost. PIGEON_BENCH_MAILBOXES=50 spreads the messages over 50
// accounts (default: all to one INBOX, where every delivery waits for the one before it).
// A run stops starting messages after runBudgetMs, so a slow machine still finishes in bounded time.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildConfig } from '../src/config/load.js';
import { openStore } from '../src/store/open.js';
import type { Store } from '../src/store/store.js';
import { storeFromArgs } from '../test/harness/postgres-db.js';
import { Authenticator } from '../src/auth/authenticator.js';
import { hashPassword } from '../src/auth/passwords.js';
import { createTlsProvider } from '../src/tls/provider.js';
import { silentLogger } from '../src/shared/logger.js';
import { startSmtpServer } from '../src/smtp/server.js';
import { cleanUpOnInterrupt, nodesCpuMs, startNodes, stopNodes, type BenchNode } from './_node.js';

/** A run starts no new message after this long (and reports the messages it did send). */
const runBudgetMs = 30_000;
/** A run that has not finished by then is stopped (the load generator is killed). */
const runTimeoutMs = 120_000;
/** One SMTP conversation that stalls this long fails the run. */
const socketTimeoutMs = 30_000;
const warmUp = 200;
/** Recipients: message i goes to recipient(i). */
const mailboxes = Math.max(1, Number(process.env['PIGEON_BENCH_MAILBOXES'] ?? 1) || 1);
const recipient = (i: number) => (mailboxes === 1 ? 'user@bench.test' : `user${i % mailboxes}@bench.test`);

const offline = async (): Promise<never> => {
  throw Object.assign(new Error('no such name'), { code: 'ENOTFOUND' });
};

function body4k(messageId: string): string {
  const head = `From: sender@remote.test\r\nTo: user@bench.test\r\nSubject: bench\r\nMessage-ID: ${messageId}\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n`;
  const line = 'The quick brown fox jumps over the lazy dog, again and again and again.\r\n';
  let text = head;
  while (text.length + line.length <= 4096 - 2) text += line;
  return text.padEnd(4096 - 2, 'x') + '\r\n';
}

/**
 * One message on one new connection; resolves with ms from "." to 250. `pipelining`: MAIL, RCPT
 * and DATA go in one write, as Postfix's client does with PIPELINING (RFC 2920); otherwise
 * every command waits for its reply (lock-step).
 */
function sendOne(port: number, rcpt: string, msg: string, pipelining: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.setNoDelay(true);
    s.setTimeout(socketTimeoutMs, () => {
      s.destroy();
      reject(new Error(`no reply within ${socketTimeoutMs} ms`));
    });
    let buf = '';
    let stage = 0;
    let t0 = 0;
    const expect = [220, 250, 250, 250, 354, 250];
    const send: Array<string | null> = pipelining
      ? ['EHLO bench.client\r\n', `MAIL FROM:<sender@remote.test>\r\nRCPT TO:<${rcpt}>\r\nDATA\r\n`, null, null, 'MSG']
      : ['EHLO bench.client\r\n', 'MAIL FROM:<sender@remote.test>\r\n', `RCPT TO:<${rcpt}>\r\n`, 'DATA\r\n', 'MSG'];
    s.setEncoding('latin1');
    s.on('error', reject);
    s.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const l = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (l[3] === '-' || stage > 5) continue;
        const code = Number(l.slice(0, 3));
        if (code !== expect[stage]) {
          s.destroy();
          return reject(new Error(`stage ${stage}: ${l}`));
        }
        if (stage === 5) {
          const dt = performance.now() - t0;
          s.setTimeout(0);
          s.end('QUIT\r\n');
          resolve(dt);
        } else {
          const w = send[stage];
          if (w === 'MSG') {
            s.write(msg);
            t0 = performance.now();
            s.write('.\r\n');
          } else if (w) s.write(w);
        }
        stage++;
      }
    });
  });
}

interface RunResult {
  rate: number;
  p50: number;
  p99: number;
  sent: number;
  /** Message-IDs answered 250. */
  accepted: string[];
  /** Messages per port, in the order given. */
  perPort: number[];
}

/** The load runs in a child process, so the server's event loop (and its fsyncs) do not slow the clients. */
function runInChild(ports: number[], clients: number, total: number, pipelining: boolean, tag: string): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--client', ports.join(','), String(clients), String(total), pipelining ? 'pipelining' : 'lockstep', tag], { execArgv: process.execArgv });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`load generator: no result within ${runTimeoutMs / 1000} s`));
    }, runTimeoutMs);
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve(m as RunResult);
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`load generator exited ${code}`));
    });
  });
}

/** Client k connects to ports[k % ports.length]: with two nodes, half the clients go to each. */
async function run(ports: number[], clients: number, total: number, pipelining: boolean, tag: string): Promise<RunResult> {
  let next = 0;
  const lat: number[] = [];
  const accepted: string[] = [];
  const perPort = ports.map(() => 0);
  const t = performance.now();
  const stopAt = t + runBudgetMs;
  await Promise.all(
    Array.from({ length: clients }, async (_, k) => {
      const at = k % ports.length;
      while (next < total && performance.now() < stopAt) {
        const i = next++;
        const id = `<bench-${tag}-${String(i).padStart(6, '0')}@remote.test>`;
        lat.push(await sendOne(ports[at]!, recipient(i), body4k(id), pipelining));
        accepted.push(id);
        perPort[at]!++;
      }
    }),
  );
  const secs = (performance.now() - t) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))]!;
  return { rate: lat.length / secs, p50: pct(0.5), p99: pct(0.99), sent: lat.length, accepted, perPort };
}

/** Reads the INBOXes back: every accepted Message-ID must be there exactly once, and nothing else. */
async function checkStored(store: Store, accepted: readonly string[], label: string): Promise<void> {
  const stored = new Map<string, number>();
  let count = 0;
  for (let k = 0; k < mailboxes; k++) {
    const account = await store.getAccountByEmail(recipient(k));
    const box = (await store.getMailbox(account!.id, 'INBOX'))!;
    const uids = (await store.listMessageStates(box.id)).map((s) => s.uid);
    count += uids.length;
    for (let i = 0; i < uids.length; i += 500) {
      for (const m of await store.getMessages(box.id, uids.slice(i, i + 500), { index: true })) {
        const id = m.index.envelope.messageId ?? '';
        stored.set(id, (stored.get(id) ?? 0) + 1);
      }
    }
  }
  let missing = 0;
  let duplicated = 0;
  for (const id of accepted) {
    const n = stored.get(id) ?? 0;
    if (n === 0) missing++;
    else if (n > 1) duplicated++;
  }
  const acceptedIds = new Set(accepted);
  let unaccepted = 0;
  for (const [id, n] of stored) if (!acceptedIds.has(id)) unaccepted += n;
  const verdict = missing + duplicated + unaccepted === 0 ? 'each exactly once' : `PROBLEM: ${missing} missing, ${duplicated} stored more than once, ${unaccepted} stored but never accepted`;
  console.log(`${label}: ${accepted.length} messages accepted, ${count} in the store: ${verdict}`);
}

function report(label: string, r: RunResult, cpuMs: number, options: { nodes: number; total: number }): void {
  console.log(`${label}: ${r.rate.toFixed(0)} msg/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`);
  const split = options.nodes > 1 ? ` (${r.perPort.join(' + ')} by node)` : '';
  const cut = r.sent < options.total ? `, stopped at the ${runBudgetMs / 1000} s budget` : '';
  const spread = mailboxes > 1 ? `to ${mailboxes} mailboxes` : 'to one mailbox';
  console.log(
    `  4 KB, new connection per message, ${spread}, end-of-DATA→250; server CPU ${(cpuMs / r.sent).toFixed(2)} ms/msg${options.nodes > 1 ? ' (all nodes)' : ''}; ` +
      `${r.sent} messages${split}${cut}; load average ${os.loadavg()[0]!.toFixed(1)}`,
  );
}

async function addBenchUsers(store: Store): Promise<void> {
  await store.addDomain('bench.test');
  const passwordHash = await hashPassword('x');
  for (let k = 0; k < mailboxes; k++) await store.createAccount({ email: recipient(k), passwordHash });
}

export async function benchSmtp(total = 3000): Promise<void> {
  const dir = fs.mkdtempSync(path.join(process.env['PIGEON_BENCH_DIR'] ?? os.tmpdir(), 'pigeon-bench-'));
  const logger = silentLogger();
  // `--store postgres`: a fresh PostgreSQL database for this run (dropped at the end).
  const engine = await storeFromArgs();
  const forget = cleanUpOnInterrupt(async () => {
    await engine.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  // PIGEON_BENCH_PACING=0 turns the commit pacer off (to measure what it brings).
  const commitPacing = process.env['PIGEON_BENCH_PACING'] !== '0';
  let driver = 'sqlite';
  try {
    const config = buildConfig(
      {
        hostname: 'mx.bench.test',
        data_dir: dir,
        listen: { smtp: '127.0.0.1:0', submission: '', submissions: '', lmtp: '', imap: '', imaps: '', pop3: '', pop3s: '', http: '', https: '' },
        limits: { max_connections_per_address: 1000 },
        store: engine.store,
      },
      { env: {} },
    );
    driver = config.store.driver;
    console.log(`store: ${driver}`);
    // Opened as `pigeon serve` opens it (listening for other processes' change notifications).
    const store = await openStore({ driver: driver as 'sqlite' | 'postgres', url: config.store.url, dataDir: dir, logger, listen: true });
    try {
      await addBenchUsers(store);
      const tls = await createTlsProvider({ dataDir: dir, hostname: 'mx.bench.test', cert: '', key: '' });
      const service = await startSmtpServer({ config, store, authenticator: new Authenticator(store, { auth: config.auth, logger }), tls, logger, resolver: offline, commitPacing });
      try {
        const port = service.listening[0]!.port;
        console.log(`smtp: store in ${dir}, commit pacing ${commitPacing ? 'on' : 'off'}`);
        const accepted: string[] = [];
        accepted.push(...(await runInChild([port], 10, warmUp, true, 'w')).accepted);
        let runs = 0;
        for (const pipelining of [true, false]) {
          for (const clients of [10, 50]) {
            const cpu0 = process.cpuUsage();
            const r = await runInChild([port], clients, total, pipelining, `r${runs++}`);
            const cpu = process.cpuUsage(cpu0);
            accepted.push(...r.accepted);
            report(`smtp, ${driver}, 1 node, ${clients} clients, ${pipelining ? 'PIPELINING' : 'lock-step'}`, r, (cpu.user + cpu.system) / 1000, { nodes: 1, total });
          }
        }
        await checkStored(store, accepted, `smtp, ${driver}, 1 node`);
      } finally {
        await service.close({ timeoutMs: 1000 });
        tls.close();
      }
    } finally {
      await store.close();
    }
  } finally {
    await engine.cleanup();
    forget();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  if (driver === 'postgres') await benchTwoNodes(total, commitPacing);
}

/** Two SMTP nodes (child processes) on one fresh database; the load generator uses both. */
async function benchTwoNodes(total: number, commitPacing: boolean): Promise<void> {
  const engine = await storeFromArgs();
  const url = engine.store['url']!;
  let nodes: BenchNode[] = [];
  let store: Store | undefined;
  const forget = cleanUpOnInterrupt(async () => {
    await stopNodes(nodes);
    await engine.cleanup();
  });
  try {
    // The parent's own store (no change feed listener): sets the account up, reads the messages back.
    store = await openStore({ driver: 'postgres', url, dataDir: os.tmpdir(), logger: silentLogger() });
    await addBenchUsers(store);
    nodes = await startNodes(2, { kind: 'smtp', url, commitPacing });
    const ports = nodes.map((n) => n.port);
    console.log(`smtp: 2 nodes (separate processes) on one PostgreSQL database, SMTP on ports ${ports.join(' and ')}, commit pacing ${commitPacing ? 'on' : 'off'}`);
    const accepted: string[] = [];
    accepted.push(...(await runInChild(ports, 10, warmUp, true, 'w2')).accepted);
    let runs = 0;
    for (const clients of [10, 50]) {
      const cpu0 = await nodesCpuMs(nodes);
      const r = await runInChild(ports, clients, total, true, `n2r${runs++}`);
      const cpuMs = (await nodesCpuMs(nodes)) - cpu0;
      accepted.push(...r.accepted);
      report(`smtp, postgres, 2 nodes, ${clients} clients, PIPELINING`, r, cpuMs, { nodes: nodes.length, total });
    }
    await checkStored(store, accepted, 'smtp, postgres, 2 nodes');
  } finally {
    await stopNodes(nodes);
    await store?.close();
    await engine.cleanup();
    forget();
  }
}

if (process.argv[2] === '--client') {
  process.on('disconnect', () => process.exit(1)); // the benchmark went away
  const ports = process.argv[3]!.split(',').map(Number);
  const [clients, total] = process.argv.slice(4, 6).map(Number) as [number, number];
  const result = await run(ports, clients, total, process.argv[6] === 'pipelining', process.argv[7]!);
  process.send!(result, () => process.exit(0));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  await benchSmtp(Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 3000));
}
