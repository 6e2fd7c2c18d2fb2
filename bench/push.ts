// Push benchmark (prints numbers, not pass/fail): notification latency from the SMTP 250 reply to
// the relay receiving the MailboxChange, p50/p99, with 1,000 active subscriptions (one per account)
// on a full Pigeon. Messages go to distinct accounts at a steady rate; run once with the default
// coalescing window and once with none, and report the time beyond the window (target: p99 < 50 ms).
// Each account gets one message, so each subscription must be notified exactly once: the relay
// counts every further MailboxChange as a duplicate.
//
// With `--store postgres` the same two runs follow on two Pigeon nodes (two processes,
// bench/_node.ts) sharing one fresh database: messages go alternately through each node's SMTP,
// and both nodes' notifiers (fed by LISTEN/NOTIFY for the other node's deliveries) and push
// workers run.
//
//   node --import tsx bench/push.ts [subscriptions] [messages] [--store postgres]
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
import { openStore } from '../src/store/open.js';
import type { Store } from '../src/store/store.js';
import { storeFromArgs } from '../test/harness/postgres-db.js';
import { silentLogger } from '../src/shared/logger.js';
import { credentialFingerprint } from '../src/push/relay.js';
import { cleanUpOnInterrupt, startNodes, stopNodes, type BenchNode } from './_node.js';

// The numbers on the command line (`--store postgres` is not one of them).
const positional = process.argv.slice(2).filter((a) => /^\d+$/.test(a));
const subscriptions = Number(positional[0] ?? 1000);
const messages = Math.min(subscriptions, Number(positional[1] ?? 400));
const ratePerSecond = 100;
/** Setup writes in flight at once. */
const setupConcurrency = 8;
/** Notifications still missing this long after the last 250 are counted as lost. */
const arrivalTimeoutMs = 30_000;
/** After the last notification: how long a late duplicate is still waited for (on top of coalesce_ms). */
const duplicateGraceMs = 1000;

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The relay: records when each subscription's first notification with new mail arrives, and counts the rest. */
interface Relay {
  url: string;
  /** ms (performance.now) of each subscription's first MailboxChange with new messages. */
  firstArrival: Map<string, number>;
  /** MailboxChange requests per subscription. */
  changes: Map<string, number>;
  onArrival: (id: string) => void;
  close(): Promise<void>;
}

async function startRelay(): Promise<Relay> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const t = performance.now();
      res.writeHead(200).end();
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { type: string; subscriptionId: string; newMessages?: unknown[] };
      if (body.type !== 'MailboxChange') return; // the verifications sent at SUBSCRIBE
      relay.changes.set(body.subscriptionId, (relay.changes.get(body.subscriptionId) ?? 0) + 1);
      if ((body.newMessages?.length ?? 0) > 0 && !relay.firstArrival.has(body.subscriptionId)) {
        relay.firstArrival.set(body.subscriptionId, t);
        relay.onArrival(body.subscriptionId);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const relay: Relay = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/n`,
    firstArrival: new Map(),
    changes: new Map(),
    onArrival: () => {},
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
  return relay;
}

/** The bench domain and `subscriptions` accounts with one active subscription each (through the store: no password hashing). */
async function createSubscriptions(store: Store, relayUrl: string): Promise<string[]> {
  await store.addDomain('bench.test');
  await store.updateDomainSettings('bench.test', { pushEnabled: true, pushDetails: true, pushAllowedHosts: ['127.0.0.1'] });
  const subIds: string[] = new Array(subscriptions);
  let next = 0;
  await Promise.all(
    Array.from({ length: setupConcurrency }, async () => {
      while (next < subscriptions) {
        const i = next++;
        const account = await store.createAccount({ email: `user${i}@bench.test`, passwordHash: `$bench$${i}` });
        const id = `ps_bench_${i}_${randomBytes(4).toString('hex')}`;
        await store.push.createSubscription({
          id, accountId: account.id, deviceId: 'phone', deviceName: 'Bench phone', callbackUrl: relayUrl, relayHost: '127.0.0.1', keys: null,
          mailboxes: ['INBOX'], secret: randomBytes(32).toString('base64url'), codeHash: 'x', credentialFingerprint: credentialFingerprint(account),
          remoteAddress: '127.0.0.1', createdAt: Date.now(), expiresAt: Date.now() + 86_400_000, verificationPayload: '{}',
        }, { maxPerAccount: 20 });
        const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
        await store.push.activate(id, { now: Date.now(), mailboxes: [{ mailboxId: inbox.id, notifiedModseq: inbox.highestModseq, uidNext: inbox.uidNext }] });
        subIds[i] = id;
      }
    }),
  );
  return subIds;
}

/** Waits until the push outbox is empty (the verifications queued with each subscription, ignored by the relay). */
async function drainOutbox(store: Store, kick: () => void): Promise<void> {
  kick();
  const deadline = Date.now() + 60_000;
  while ((await store.push.nextDueAt()) !== null) {
    if (Date.now() > deadline) throw new Error('push outbox not drained within 60 s');
    await sleep(50);
  }
}

interface Measured {
  latencies: number[];
  duplicates: number;
  /** Subscriptions notified more than once. */
  duplicatedSubscriptions: number;
}

/**
 * Sends `messages` messages at `ratePerSecond`, message i to user i through ports[i % ports.length]
 * (pooled nodemailer transports, 10 connections in all), and waits for the notifications.
 */
async function sendAndMeasure(relay: Relay, subIds: string[], ports: number[], options: { coalesceMs: number; outboxEmpty: () => Promise<boolean> }): Promise<Measured> {
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  let done: () => void = () => {};
  const all = new Promise<void>((resolve) => (done = resolve));
  const settle = (id: string) => {
    const a = relay.firstArrival.get(id);
    const s = sentAt.get(id);
    if (a === undefined || s === undefined) return;
    latencies.push(a - s);
    if (latencies.length === messages) done();
  };
  relay.onArrival = settle;
  const transports = ports.map((port) =>
    nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, pool: true, maxConnections: Math.ceil(10 / ports.length), maxMessages: Infinity, tls: { rejectUnauthorized: false } }),
  );
  try {
    const started = performance.now();
    const sends: Array<Promise<void>> = [];
    for (let i = 0; i < messages; i++) {
      const due = started + (i * 1000) / ratePerSecond;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const id = subIds[i]!;
      sends.push(
        transports[i % transports.length]!.sendMail({ from: 'sender@remote.test', to: `user${i}@bench.test`, subject: `bench ${i}`, text: 'Hello from the benchmark.\n' }).then(() => {
          sentAt.set(id, performance.now());
          settle(id);
        }),
      );
    }
    await Promise.all(sends);
    const timeout = setTimeout(() => done(), arrivalTimeoutMs);
    await all;
    clearTimeout(timeout);
    // A duplicate comes from a notifier that fired after the first notification: give every
    // notifier its window and the outbox time to empty before counting.
    await sleep(options.coalesceMs + duplicateGraceMs);
    const deadline = Date.now() + 10_000;
    while (!(await options.outboxEmpty()) && Date.now() < deadline) await sleep(50);
  } finally {
    for (const t of transports) t.close();
  }
  let duplicates = 0;
  let duplicatedSubscriptions = 0;
  for (const n of relay.changes.values()) {
    if (n > 1) {
      duplicates += n - 1;
      duplicatedSubscriptions++;
    }
  }
  return { latencies, duplicates, duplicatedSubscriptions };
}

function report(label: string, m: Measured, coalesceMs: number, setupMs: number): void {
  const sorted = [...m.latencies].sort((a, b) => a - b);
  const dups = `${m.duplicates} duplicate${m.duplicates === 1 ? '' : 's'}${m.duplicates > 0 ? ` (${m.duplicatedSubscriptions} subscriptions notified more than once)` : ''}`;
  const latency = sorted.length > 0 ? `p50 ${pct(sorted, 50).toFixed(1)} ms, p99 ${pct(sorted, 99).toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms` : 'no notification';
  console.log(`${label}: SMTP 250 → relay ${latency}; ${sorted.length}/${messages} notified, ${dups}`);
  console.log(`  ${subscriptions} active subscriptions (set up in ${(setupMs / 1000).toFixed(1)} s), ${messages} messages at ${ratePerSecond}/s over SMTP, one per account`);
  if (sorted.length > 0) {
    const beyond = sorted.map((x) => x - coalesceMs);
    console.log(`  beyond the coalescing window: p50 ${pct(beyond, 50).toFixed(1)} ms, p99 ${pct(beyond, 99).toFixed(1)} ms (target p99 < 50 ms)`);
  }
}

/** One in-process Pigeon; returns the store engine it ran on. */
async function runOneNode(coalesceMs: number): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pigeon-bench-push-'));
  const listen: Record<string, string> = {};
  for (const k of ['submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http', 'https']) listen[k] = '';
  listen['smtp'] = '127.0.0.1:0';
  // `--store postgres`: a fresh PostgreSQL database for this run (dropped at the end).
  const engine = await storeFromArgs();
  const forget = cleanUpOnInterrupt(async () => {
    await engine.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  let relay: Relay | undefined;
  let pigeon: Awaited<ReturnType<typeof startPigeon>> | undefined;
  try {
    relay = await startRelay();
    const config = buildConfig({ hostname: 'mail.bench.test', data_dir: dir, listen, log: { level: 'silent' }, push: { coalesce_ms: coalesceMs }, store: engine.store }, { env: {} });
    pigeon = await startPigeon(config, { logger: silentLogger() });
    const smtpPort = pigeon.services.flatMap((s) => s.listening).find((l) => l.listener === 'smtp')!.port;
    const { store } = pigeon;
    const t0 = performance.now();
    const subIds = await createSubscriptions(store, relay.url);
    await drainOutbox(store, () => pigeon!.push.kick());
    const setupMs = performance.now() - t0;

    const loop = monitorEventLoopDelay({ resolution: 5 });
    loop.enable();
    const measured = await sendAndMeasure(relay, subIds, [smtpPort], { coalesceMs, outboxEmpty: async () => (await store.push.nextDueAt()) === null });
    loop.disable();
    report(`push, ${config.store.driver}, 1 node, coalesce_ms ${coalesceMs}`, measured, coalesceMs, setupMs);
    console.log(`  event-loop delay meanwhile: p50 ${(loop.percentile(50) / 1e6).toFixed(1)} ms, p99 ${(loop.percentile(99) / 1e6).toFixed(1)} ms, max ${(loop.max / 1e6).toFixed(1)} ms (load average ${os.loadavg()[0]!.toFixed(1)})`);
    return config.store.driver;
  } finally {
    await pigeon?.close({ timeoutMs: 1000 });
    await relay?.close();
    await engine.cleanup();
    forget();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Two Pigeon nodes (child processes) on one fresh PostgreSQL database. */
async function runTwoNodes(coalesceMs: number): Promise<void> {
  const engine = await storeFromArgs();
  const url = engine.store['url']!;
  let relay: Relay | undefined;
  let store: Store | undefined;
  let nodes: BenchNode[] = [];
  const forget = cleanUpOnInterrupt(async () => {
    await stopNodes(nodes);
    await engine.cleanup();
  });
  try {
    relay = await startRelay();
    // The benchmark's own store (no change feed listener) sets the subscriptions up before the nodes start.
    store = await openStore({ driver: 'postgres', url, dataDir: os.tmpdir(), logger: silentLogger() });
    const setupStore = store;
    const t0 = performance.now();
    const subIds = await createSubscriptions(setupStore, relay.url);
    const t1 = performance.now();
    nodes = await startNodes(2, { kind: 'pigeon', url, coalesceMs });
    const t2 = performance.now();
    await drainOutbox(setupStore, () => nodes.forEach((n) => n.kick()));
    const setupMs = t1 - t0 + (performance.now() - t2); // the nodes' start-up not counted
    const measured = await sendAndMeasure(relay, subIds, nodes.map((n) => n.port), { coalesceMs, outboxEmpty: async () => (await setupStore.push.nextDueAt()) === null });
    report(`push, postgres, 2 nodes, coalesce_ms ${coalesceMs}`, measured, coalesceMs, setupMs);
    console.log(`  messages alternately through each node's SMTP; both nodes' notifiers and push workers running (load average ${os.loadavg()[0]!.toFixed(1)})`);
  } finally {
    await stopNodes(nodes);
    await store?.close();
    await relay?.close();
    await engine.cleanup();
    forget();
  }
}

const driver = await runOneNode(1000);
await runOneNode(0);
if (driver === 'postgres') {
  await runTwoNodes(1000);
  await runTwoNodes(0);
}
