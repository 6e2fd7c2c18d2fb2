// Pigeon nodes in child processes for the multi-node benchmarks (`--store postgres`): each node is
// its own process with its own store on the shared PostgreSQL database (its own connection pool
// and LISTEN pigeon_changes connection), as on separate machines. The benchmark process talks to
// a node over the IPC channel: the node answers `ready` with its SMTP port, reports its CPU time,
// kicks its push worker, and closes on `close`. A node whose parent goes away (a benchmark that
// crashed or was interrupted) closes and exits by itself, so no node outlives its benchmark.
//
// Kinds:
//   smtp    the SMTP service only (as bench/smtp.ts runs one node in-process): no push, no queue
//   pigeon  a whole Pigeon (startPigeon) with SMTP only listening: notifier, push worker, queue
//
// run.ts skips files starting with "_", so this file is not a benchmark of its own.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { buildConfig } from '../src/config/load.js';
import { openStore } from '../src/store/open.js';
import { startPigeon } from '../src/main.js';
import { Authenticator } from '../src/auth/authenticator.js';
import { createTlsProvider } from '../src/tls/provider.js';
import { silentLogger } from '../src/shared/logger.js';
import { startSmtpServer } from '../src/smtp/server.js';

export type NodeKind = 'smtp' | 'pigeon';

export interface NodeOptions {
  kind: NodeKind;
  /** The shared PostgreSQL database. */
  url: string;
  /** pigeon: `[push] coalesce_ms`. */
  coalesceMs?: number;
  /** smtp: the commit pacer (default on, as in bench/smtp.ts). */
  commitPacing?: boolean;
}

export interface BenchNode {
  readonly name: string;
  /** Where the node's SMTP (port 25 role) listener is, on 127.0.0.1. */
  readonly port: number;
  /** CPU time the node's process used so far (µs). */
  cpu(): Promise<NodeJS.CpuUsage>;
  /** pigeon: work the push outbox now. */
  kick(): void;
  /** Close the node (gracefully, then SIGKILL after a few seconds). Safe to call twice. */
  stop(): Promise<void>;
}

type ToNode = { op: 'cpu' } | { op: 'kick' } | { op: 'close' };
type FromNode = { op: 'ready'; port: number } | { op: 'failed'; error: string } | { op: 'cpu'; usage: NodeJS.CpuUsage };

const startTimeoutMs = 30_000;
const stopTimeoutMs = 5_000;

function nextMessage<T extends FromNode['op']>(child: ChildProcess, op: T, timeoutMs: number): Promise<Extract<FromNode, { op: T }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`node: no "${op}" within ${timeoutMs} ms`)), timeoutMs);
    const onMessage = (m: FromNode) => {
      if (m.op === op) done(undefined, m as Extract<FromNode, { op: T }>);
      else if (m.op === 'failed') done(new Error(`node failed: ${m.error}`));
    };
    const onExit = (code: number | null, signal: string | null) => done(new Error(`node exited (${signal ?? code}) before "${op}"`));
    const done = (err?: Error, m?: Extract<FromNode, { op: T }>) => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(m!);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
  });
}

async function startNode(name: string, options: NodeOptions): Promise<BenchNode> {
  const child = fork(fileURLToPath(import.meta.url), ['--bench-node', JSON.stringify(options)], { execArgv: process.execArgv });
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      if (child.connected) child.send({ op: 'close' } satisfies ToNode);
      else child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
      await exited;
      clearTimeout(timer);
    })());
  try {
    const { port } = await nextMessage(child, 'ready', startTimeoutMs);
    return {
      name,
      port,
      async cpu() {
        const reply = nextMessage(child, 'cpu', 5_000);
        child.send({ op: 'cpu' } satisfies ToNode);
        return (await reply).usage;
      },
      kick() {
        if (child.connected) child.send({ op: 'kick' } satisfies ToNode);
      },
      stop,
    };
  } catch (err) {
    child.kill('SIGKILL');
    await stop();
    throw err;
  }
}

/** Start `count` nodes on one database; if one fails to start, the others are stopped again. */
export async function startNodes(count: number, options: NodeOptions): Promise<BenchNode[]> {
  const started = await Promise.allSettled(Array.from({ length: count }, (_, i) => startNode(`node ${String.fromCharCode(65 + i)}`, options)));
  const nodes = started.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) {
    await stopNodes(nodes);
    throw failed.reason;
  }
  return nodes;
}

export async function stopNodes(nodes: readonly BenchNode[]): Promise<void> {
  await Promise.allSettled(nodes.map((n) => n.stop()));
}

/** Total CPU time of these nodes, in ms. */
export async function nodesCpuMs(nodes: readonly BenchNode[]): Promise<number> {
  let us = 0;
  for (const n of nodes) {
    const c = await n.cpu();
    us += c.user + c.system;
  }
  return us / 1000;
}

const onInterrupt = new Set<() => Promise<void>>();
let interrupted = false;
let installed = false;

/**
 * Runs `cleanup` if the benchmark is interrupted (SIGINT, SIGTERM) before the returned function is
 * called; the benchmark's own `finally` does it otherwise. A benchmark killed outright leaves its
 * database behind, to be dropped by the next run's sweep (test/harness/postgres-db.ts).
 */
export function cleanUpOnInterrupt(cleanup: () => Promise<void>): () => void {
  if (!installed) {
    installed = true;
    process.once('SIGINT', () => void interrupt(130));
    process.once('SIGTERM', () => void interrupt(143));
  }
  onInterrupt.add(cleanup);
  return () => onInterrupt.delete(cleanup);
}

async function interrupt(code: number): Promise<void> {
  if (interrupted) return;
  interrupted = true;
  const timer = setTimeout(() => process.exit(code), 10_000);
  await Promise.allSettled([...onInterrupt].map((c) => c()));
  clearTimeout(timer);
  process.exit(code);
}

// ---- the node process ----

const offline = async (): Promise<never> => {
  throw Object.assign(new Error('no such name'), { code: 'ENOTFOUND' });
};

async function runNode(options: NodeOptions): Promise<void> {
  const send = (m: FromNode) => process.send!(m);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pigeon-bench-node-'));
  const logger = silentLogger();
  const listen: Record<string, string> = {};
  for (const k of ['submission', 'submissions', 'lmtp', 'imap', 'imaps', 'pop3', 'pop3s', 'http', 'https']) listen[k] = '';
  listen['smtp'] = '127.0.0.1:0';
  const config = buildConfig(
    {
      hostname: 'mx.bench.test',
      data_dir: dir,
      listen,
      log: { level: 'silent' },
      limits: { max_connections_per_address: 1000 },
      store: { driver: 'postgres', url: options.url },
      ...(options.coalesceMs !== undefined ? { push: { coalesce_ms: options.coalesceMs } } : {}),
    },
    { env: {} },
  );
  const closers: Array<() => Promise<void> | void> = [];
  const closeAll = async () => {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => undefined);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  let kick = () => {};
  let closing: Promise<void> | undefined;
  const shutdown = (code: number) => {
    closing ??= closeAll().finally(() => process.exit(code));
  };
  process.on('disconnect', () => shutdown(1));
  process.on('SIGTERM', () => shutdown(1));
  process.on('message', (m: ToNode) => {
    if (m.op === 'cpu') send({ op: 'cpu', usage: process.cpuUsage() });
    else if (m.op === 'kick') kick();
    else if (m.op === 'close') shutdown(0);
  });
  try {
    let port: number;
    if (options.kind === 'pigeon') {
      const pigeon = await startPigeon(config, { logger });
      closers.push(() => pigeon.close({ timeoutMs: 1000 }));
      kick = () => pigeon.push.kick();
      port = pigeon.services.flatMap((s) => s.listening).find((l) => l.listener === 'smtp')!.port;
    } else {
      // Like bench/smtp.ts's one node, but listening for the other node's changes as a serving node does.
      const store = await openStore({ driver: 'postgres', url: options.url, dataDir: dir, logger, listen: true });
      closers.push(() => store.close());
      const tls = await createTlsProvider({ dataDir: dir, hostname: config.hostname, cert: '', key: '' });
      closers.push(() => tls.close());
      const service = await startSmtpServer({
        config, store, authenticator: new Authenticator(store, { auth: config.auth, logger }), tls, logger, resolver: offline,
        commitPacing: options.commitPacing ?? true,
      });
      closers.push(() => service.close({ timeoutMs: 1000 }));
      port = service.listening[0]!.port;
    }
    send({ op: 'ready', port });
  } catch (err) {
    send({ op: 'failed', error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    shutdown(1);
  }
}

if (process.argv[2] === '--bench-node' && import.meta.url === pathToFileURL(process.argv[1]!).href) {
  await runNode(JSON.parse(process.argv[3]!) as NodeOptions);
}
