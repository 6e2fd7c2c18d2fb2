// Outbound queue benchmark (prints numbers, not pass/fail):
// 1. throughput: N messages of 10 KB queued, then delivered by the worker to a local SMTP sink
//    (one recipient each, spread over 10 destination domains; [queue] concurrency 10,
//    per_domain_concurrency 2, connections reused per domain) — messages/s until the queue is empty;
// 2. pick-up latency: from the moment enqueueMessage resolves (when SMTP answers 250) to the
//    sink seeing MAIL FROM (the first delivery attempt), with the worker idle and woken by kick().
//
//   node --import tsx bench/queue.ts [messages]
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';
import { buildConfig } from '../src/config/load.js';
import { openStore } from '../src/store/open.js';
import { silentLogger } from '../src/shared/logger.js';
import { startQueueWorker } from '../src/queue/worker.js';
import type { QueueResolver } from '../src/queue/mx.js';
import { SmtpSink } from '../test/harness/smtp-sink.js';

const total = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 2000);

function body10k(i: number): Buffer {
  const head = `From: sender@example.com\r\nTo: user${i}@d${i % 10}.test\r\nSubject: bench ${i}\r\nMessage-ID: <q-${i}@example.com>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0000\r\n\r\n`;
  const line = 'The quick brown fox jumps over the lazy dog, again and again and again.\r\n';
  let text = head;
  while (text.length + line.length <= 10 * 1024) text += line;
  return Buffer.from(text);
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

const dir = fs.mkdtempSync(path.join(process.env['PIGEON_BENCH_DIR'] ?? os.tmpdir(), 'pigeon-bench-'));
const config = buildConfig({ hostname: 'bench.example.com', data_dir: dir, queue: { concurrency: 10, per_domain_concurrency: 2 } }, { env: {} });
const store = await openStore({ driver: 'sqlite', url: '', dataDir: dir });
const sink = await SmtpSink.start();
const resolver: QueueResolver = { resolveMx: async (d) => [{ exchange: `mx.${d}`, priority: 10 }], resolve4: async () => ['127.0.0.1'], resolve6: async () => [] };

// 1. Throughput.
for (let i = 0; i < total; i += 100) {
  await Promise.all(Array.from({ length: Math.min(100, total - i) }, (_, k) => store.enqueueMessage({
    sender: 'sender@example.com', recipients: [{ address: `user${i + k}@d${(i + k) % 10}.test`, notify: [], orcpt: null }],
    raw: body10k(i + k), dsnRet: null, dsnEnvid: null, accountId: null,
  })));
}
const t0 = performance.now();
const worker = await startQueueWorker({ config, store, logger: silentLogger(), resolver, mxPort: sink.port });
await sink.waitForMessages(total);
await worker.idle();
const seconds = (performance.now() - t0) / 1000;
const left = (await store.listQueue()).length;
console.log(`throughput: ${total} messages of 10 KB in ${seconds.toFixed(2)} s = ${Math.round(total / seconds)} messages/s (queue left: ${left})`);

// 2. Pick-up latency.
const rounds = 200;
const latencies: number[] = [];
for (let i = 0; i < rounds; i++) {
  await store.enqueueMessage({ sender: 'sender@example.com', recipients: [{ address: `late${i}@d${i % 10}.test`, notify: [], orcpt: null }], raw: body10k(i), dsnRet: null, dsnEnvid: null, accountId: null });
  const accepted = performance.now();
  const attempt = once(sink, 'mail');
  worker.kick();
  await attempt;
  latencies.push(performance.now() - accepted);
  await worker.idle();
}
latencies.sort((a, b) => a - b);
console.log(`pick-up latency (250 → first attempt's MAIL FROM), ${rounds} messages: p50 ${pct(latencies, 50).toFixed(2)} ms, p99 ${pct(latencies, 99).toFixed(2)} ms, max ${latencies[latencies.length - 1]!.toFixed(2)} ms`);

await worker.close();
await sink.close();
await store.close();
fs.rmSync(dir, { recursive: true, force: true });
