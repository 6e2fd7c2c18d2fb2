// SMTP benchmark (prints numbers, not pass/fail): 4 KB messages accepted and durably delivered
// per second over port 25, each message on a new connection, with 10 and 50 concurrent clients;
// p50/p99 time from the end of DATA (the final ".") to the 250 reply. At the end the store is
// read back to check every accepted message is there.
//
//   node --import tsx bench/smtp.ts [messagesPerRun]
// PIGEON_BENCH_DIR=/dev/shm puts the store on tmpfs (fsync is free there): the difference to a run
// on disk is what synchronous commits cost.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { buildConfig } from '../src/config/load.js';
import { openStore } from '../src/store/open.js';
import { storeFromArgs } from '../test/harness/postgres-db.js';
import { Authenticator } from '../src/auth/authenticator.js';
import { hashPassword } from '../src/auth/passwords.js';
import { createTlsProvider } from '../src/tls/provider.js';
import { silentLogger } from '../src/shared/logger.js';
import { startSmtpServer } from '../src/smtp/server.js';

const offline = async (): Promise<never> => {
  throw Object.assign(new Error('no such name'), { code: 'ENOTFOUND' });
};

function body4k(i: number): string {
  const head = `From: sender@remote.test\r\nTo: user@bench.test\r\nSubject: bench ${i}\r\nMessage-ID: <bench-${i}-${Date.now()}@remote.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n`;
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
function sendOne(port: number, msg: string, pipelining: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.setNoDelay(true);
    let buf = '';
    let stage = 0;
    let t0 = 0;
    const expect = [220, 250, 250, 250, 354, 250];
    const send: Array<string | null> = pipelining
      ? ['EHLO bench.client\r\n', 'MAIL FROM:<sender@remote.test>\r\nRCPT TO:<user@bench.test>\r\nDATA\r\n', null, null, 'MSG']
      : ['EHLO bench.client\r\n', 'MAIL FROM:<sender@remote.test>\r\n', 'RCPT TO:<user@bench.test>\r\n', 'DATA\r\n', 'MSG'];
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
}

/** The load runs in a child process, so the server's event loop (and its fsyncs) do not slow the clients. */
function runInChild(port: number, clients: number, total: number, pipelining: boolean): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), ['--client', String(port), String(clients), String(total), pipelining ? 'pipelining' : 'lockstep'], { execArgv: process.execArgv });
    child.once('message', (m) => resolve(m as RunResult));
    child.once('error', reject);
    child.once('exit', (code) => code !== 0 && reject(new Error(`load generator exited ${code}`)));
  });
}

async function run(port: number, clients: number, total: number, pipelining: boolean): Promise<RunResult> {
  const msg = body4k(1);
  let next = 0;
  const lat: number[] = [];
  const t = performance.now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) {
        next++;
        lat.push(await sendOne(port, msg, pipelining));
      }
    }),
  );
  const secs = (performance.now() - t) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (p: number) => lat[Math.min(lat.length - 1, Math.floor(lat.length * p))]!;
  return { rate: lat.length / secs, p50: pct(0.5), p99: pct(0.99), sent: lat.length };
}

export async function benchSmtp(total = 3000): Promise<void> {
  const dir = fs.mkdtempSync(path.join(process.env['PIGEON_BENCH_DIR'] ?? os.tmpdir(), 'pigeon-bench-'));
  const logger = silentLogger();
  // `--store postgres`: a fresh PostgreSQL database for this run (dropped at the end).
  const engine = await storeFromArgs();
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
  console.log(`store: ${config.store.driver}`);
  const store = await openStore({ driver: config.store.driver as 'sqlite' | 'postgres', url: config.store.url, dataDir: dir, logger });
  await store.addDomain('bench.test');
  await store.createAccount({ email: 'user@bench.test', passwordHash: await hashPassword('x') });
  const tls = await createTlsProvider({ dataDir: dir, hostname: 'mx.bench.test', cert: '', key: '' });
  // PIGEON_BENCH_PACING=0 turns the commit pacer off (to measure what it brings).
  const commitPacing = process.env['PIGEON_BENCH_PACING'] !== '0';
  const service = await startSmtpServer({ config, store, authenticator: new Authenticator(store, { auth: config.auth, logger }), tls, logger, resolver: offline, commitPacing });
  const port = service.listening[0]!.port;
  try {
    console.log(`smtp: store in ${dir}, commit pacing ${commitPacing ? 'on' : 'off'}`);
    await runInChild(port, 10, 200, true); // warm-up
    let sent = 200;
    for (const pipelining of [true, false]) {
      for (const clients of [10, 50]) {
        const cpu0 = process.cpuUsage();
        const r = await runInChild(port, clients, total, pipelining);
        const cpu = process.cpuUsage(cpu0);
        sent += r.sent;
        console.log(
          `smtp: ${clients} clients, ${pipelining ? 'PIPELINING' : 'lock-step'}, 4 KB, new connection per message: ${r.rate.toFixed(0)} msg/s; ` +
            `end-of-DATA→250 p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms; server CPU ${((cpu.user + cpu.system) / 1000 / r.sent).toFixed(2)} ms/msg (${r.sent} messages)`,
        );
      }
    }
    const account = await store.getAccountByEmail('user@bench.test');
    const box = await store.getMailbox(account!.id, 'INBOX');
    console.log(`smtp: messages in the store afterwards: ${box!.messageCount} (expected ${sent})`);
  } finally {
    await service.close({ timeoutMs: 1000 });
    tls.close();
    await store.close();
    await engine.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--client') {
  const [port, clients, total] = process.argv.slice(3, 6).map(Number) as [number, number, number];
  process.send!(await run(port, clients, total, process.argv[6] === 'pipelining'));
  process.exit(0);
} else if (import.meta.url === `file://${process.argv[1]}`) {
  await benchSmtp(Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 3000));
}
