// Push benchmark (prints numbers, not pass/fail): notification latency from the SMTP 250 reply to
// the relay receiving the MailboxChange, p50/p99, with 1,000 active subscriptions (one per account)
// on a full Pigeon. Messages go to distinct accounts at a steady rate; run once with the default
// coalescing window and once with none, and report the time beyond the window (target: p99 < 50 ms).
//
//   node --import tsx bench/push.ts [subscriptions] [messages]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { AddressInfo } from 'node:net';
import nodemailer from 'nodemailer';
import { buildConfig } from '../src/config/load.js';
import { startPigeon } from '../src/main.js';
import { storeFromArgs } from '../test/harness/postgres-db.js';
import { silentLogger } from '../src/shared/logger.js';
import { credentialFingerprint } from '../src/push/relay.js';

const subscriptions = Number(process.argv[2] ?? 1000);
const messages = Math.min(subscriptions, Number(process.argv[3] ?? 400));
const ratePerSecond = 100;

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

async function run(coalesceMs: number): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pigeon-bench-push-'));
  const listen: Record<string, string> = {};
  for (const k of ['submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http', 'https']) listen[k] = '';
  listen['smtp'] = '127.0.0.1:0';
  // `--store postgres`: a fresh PostgreSQL database for this run (dropped at the end).
  const engine = await storeFromArgs();
  const config = buildConfig({ hostname: 'mail.bench.test', data_dir: dir, listen, log: { level: 'silent' }, push: { coalesce_ms: coalesceMs }, store: engine.store }, { env: {} });
  console.log(`store: ${config.store.driver}`);
  const pigeon = await startPigeon(config, { logger: silentLogger() });
  const smtpPort = pigeon.services.flatMap((s) => s.listening).find((l) => l.listener === 'smtp')!.port;

  // The relay: records when each subscription's notification arrives.
  const arrived = new Map<string, number>();
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => (done = resolve));
  const settle = (id: string) => {
    const a = arrived.get(id);
    const s = sentAt.get(id);
    if (a === undefined || s === undefined) return;
    latencies.push(a - s);
    if (latencies.length === messages) done();
  };
  const relay = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const t = performance.now();
      res.writeHead(200).end();
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string; subscriptionId: string; newMessages?: unknown[] };
      if (body.type === 'MailboxChange' && (body.newMessages?.length ?? 0) > 0 && !arrived.has(body.subscriptionId)) {
        arrived.set(body.subscriptionId, t);
        settle(body.subscriptionId);
      }
    });
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const relayUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}/n`;

  // 1,000 accounts with one active subscription each (set up through the store: no password hashing).
  const { store } = pigeon;
  await store.addDomain('bench.test');
  await store.updateDomainSettings('bench.test', { pushEnabled: true, pushDetails: true, pushAllowedHosts: ['127.0.0.1'] });
  const subIds: string[] = [];
  const t0 = performance.now();
  for (let i = 0; i < subscriptions; i++) {
    const account = await store.createAccount({ email: `user${i}@bench.test`, passwordHash: `$bench$${i}` });
    const id = `ps_bench_${i}_${randomBytes(4).toString('hex')}`;
    await store.push.createSubscription({
      id, accountId: account.id, deviceId: 'phone', deviceName: 'Bench phone', callbackUrl: relayUrl, relayHost: '127.0.0.1', keys: null,
      mailboxes: ['INBOX'], secret: randomBytes(32).toString('base64url'), codeHash: 'x', credentialFingerprint: credentialFingerprint(account),
      remoteAddress: '127.0.0.1', createdAt: Date.now(), expiresAt: Date.now() + 86_400_000, verificationPayload: '{}',
    }, { maxPerAccount: 20 });
    const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
    await store.push.activate(id, { now: Date.now(), mailboxes: [{ mailboxId: inbox.id, notifiedModseq: inbox.highestModseq, uidNext: inbox.uidNext }] });
    subIds.push(id);
  }
  // Let the verifications (queued with each subscription; ignored by the relay) drain first.
  pigeon.push.kick();
  while ((await store.push.nextDueAt()) !== null) await new Promise((r) => setTimeout(r, 50));
  const setupMs = performance.now() - t0;

  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: smtpPort, secure: false, pool: true, maxConnections: 10, maxMessages: Infinity, tls: { rejectUnauthorized: false } });
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const started = performance.now();
  const sends: Array<Promise<void>> = [];
  for (let i = 0; i < messages; i++) {
    const due = started + (i * 1000) / ratePerSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const id = subIds[i]!;
    sends.push(
      transport.sendMail({ from: 'sender@remote.test', to: `user${i}@bench.test`, subject: `bench ${i}`, text: 'Hello from the benchmark.\n' }).then(() => {
        sentAt.set(id, performance.now());
        settle(id);
      }),
    );
  }
  await Promise.all(sends);
  const timeout = setTimeout(() => done(), 30_000);
  await all;
  clearTimeout(timeout);
  loop.disable();
  transport.close();

  const sorted = [...latencies].sort((a, b) => a - b);
  const beyond = sorted.map((x) => x - coalesceMs);
  console.log(`coalesce_ms = ${coalesceMs}: ${subscriptions} active subscriptions (set up in ${(setupMs / 1000).toFixed(1)} s), ${messages} messages at ${ratePerSecond}/s over SMTP`);
  console.log(`  received ${latencies.length}/${messages} notifications`);
  if (sorted.length > 0) {
    console.log(`  SMTP 250 → relay:          p50 ${pct(sorted, 50).toFixed(1)} ms   p99 ${pct(sorted, 99).toFixed(1)} ms   max ${sorted.at(-1)!.toFixed(1)} ms`);
    console.log(`  beyond the coalescing window: p50 ${pct(beyond, 50).toFixed(1)} ms   p99 ${pct(beyond, 99).toFixed(1)} ms   (target p99 < 50 ms)`);
    console.log(`  event-loop delay meanwhile:   p50 ${(loop.percentile(50) / 1e6).toFixed(1)} ms   p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms   max ${(loop.max / 1e6).toFixed(1)} ms   (load average ${os.loadavg()[0]!.toFixed(1)})`);
  }
  await pigeon.close({ timeoutMs: 1000 });
  await engine.cleanup();
  await new Promise<void>((resolve) => relay.close(() => resolve()));
  fs.rmSync(dir, { recursive: true, force: true });
}

await run(1000);
await run(0);
