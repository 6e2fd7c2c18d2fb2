// Shared set-up of the queue tests: a fresh SQLite store with a local domain and account, a
// config with [queue] overrides, an offline resolver that sends every remote domain's MX to the
// test's SMTP sink on 127.0.0.1, and a manual clock.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { buildConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { ManualClock } from '../../src/shared/clock.js';
import { silentLogger } from '../../src/shared/logger.js';
import type { QueueResolver } from '../../src/queue/mx.js';
import { startQueueWorker, type QueueWorker, type QueueWorkerDeps } from '../../src/queue/worker.js';

export interface Fixture {
  dir: string;
  store: Store;
  config: Config;
  clock: ManualClock;
  resolver: QueueResolver;
  /** MX records the resolver answers, by domain (default: "mx.<domain>" for any domain). */
  mx: Map<string, Array<{ exchange: string; priority: number }>>;
  reopen(): Promise<Store>;
  worker(port: number, extra?: Partial<QueueWorkerDeps>): Promise<QueueWorker>;
}

export function dnsError(code: string): Error {
  return Object.assign(new Error(`queryMx ${code}`), { code });
}

export async function fixture(queue: Record<string, unknown> = {}): Promise<Fixture> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pigeon-'));
  const config = buildConfig({ hostname: 'mail.example.com', data_dir: dir, queue: { connect_timeout_seconds: 5, ...queue } }, { env: {} });
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const mx = new Map<string, Array<{ exchange: string; priority: number }>>();
  const resolver: QueueResolver = {
    async resolveMx(domain) {
      return mx.get(domain) ?? [{ exchange: `mx.${domain}`, priority: 10 }];
    },
    async resolve4(host) {
      if (host.startsWith('mx.') || host === 'localhost') return ['127.0.0.1'];
      throw dnsError('ENOTFOUND');
    },
    async resolve6() {
      throw dnsError('ENODATA');
    },
  };
  const open = () => openStore({ driver: 'sqlite', url: '', dataDir: dir, clock });
  const f: Fixture = {
    dir, config, clock, resolver, mx,
    store: await open(),
    async reopen() {
      f.store = await open();
      return f.store;
    },
    worker(port, extra = {}) {
      return startQueueWorker({ config, store: f.store, logger: silentLogger(), clock, resolver, mxPort: port, ...extra });
    },
  };
  await f.store.addDomain('example.com');
  await f.store.createAccount({ email: 'alice@example.com', passwordHash: 'x' });
  return f;
}

export function message(options: { from?: string; to?: string; subject?: string; body?: string; id?: string } = {}): Buffer {
  return Buffer.from(
    `From: ${options.from ?? 'Alice <alice@example.com>'}\r\nTo: ${options.to ?? 'bob@remote.test'}\r\nSubject: ${options.subject ?? 'Hello'}\r\n` +
      `Date: Mon, 1 Jun 2026 10:00:00 +0000\r\nMessage-ID: <${options.id ?? Math.random().toString(36).slice(2)}@example.com>\r\nMIME-Version: 1.0\r\n` +
      `Content-Type: text/plain; charset=utf-8\r\n\r\n${options.body ?? 'Hello Bob,\r\nhow are you?\r\n'}`,
  );
}
