// Push without the mail listeners: a real SQLite store in a temp folder, the Authenticator, the
// push service and the HTTPS app (driven with app.inject()), with a clock the test may move.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { Authenticator } from '../../src/auth/authenticator.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { buildHttpsApp } from '../../src/http/app.js';
import { startPushService, type PushService } from '../../src/push/service.js';
import type { PushTransport } from '../../src/push/callback.js';
import { silentLogger } from '../../src/shared/logger.js';
import type { Clock } from '../../src/shared/clock.js';

export interface PushHarness {
  dir: string;
  config: Config;
  store: Store;
  push: PushService;
  app: FastifyInstance;
  addUser(email: string, password: string): Promise<void>;
  /** app.inject with HTTP Basic and a JSON body. */
  call(method: 'POST' | 'DELETE', url: string, options?: { auth?: [string, string]; body?: unknown; raw?: string; remoteAddress?: string }): Promise<{ status: number; json: Record<string, unknown> | undefined; headers: Record<string, unknown> }>;
  close(): Promise<void>;
}

export async function startPushHarness(options: { push?: Record<string, unknown>; clock?: Clock; fetch?: PushTransport } = {}): Promise<PushHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'pigeon-'));
  const config = buildConfig({
    hostname: 'mail.example.test', data_dir: dir, log: { level: 'silent' },
    auth: { failure_delay_ms: 0, max_failure_delay_ms: 0 },
    push: { coalesce_ms: 10, retry_initial_ms: 10, ...(options.push ?? {}) },
  }, { env: {} });
  const logger = silentLogger();
  const store = await openStore({ driver: 'sqlite', url: '', dataDir: dir, logger, ...(options.clock ? { clock: options.clock } : {}) });
  const authenticator = new Authenticator(store, { auth: config.auth, logger, ...(options.clock ? { clock: options.clock } : {}) });
  const push = await startPushService({ config, store, logger, ...(options.clock ? { clock: options.clock } : {}), ...(options.fetch ? { fetch: options.fetch } : {}) });
  const app = await buildHttpsApp({ config, store, logger, authenticator, push });
  await app.ready();
  return {
    dir, config, store, push, app,
    async addUser(email, password) {
      const domain = email.slice(email.lastIndexOf('@') + 1);
      if (!(await store.getDomain(domain))) await store.addDomain(domain);
      await store.createAccount({ email, passwordHash: await hashPassword(password) });
    },
    async call(method, url, o = {}) {
      const headers: Record<string, string> = {};
      if (o.auth) headers['authorization'] = 'Basic ' + Buffer.from(`${o.auth[0]}:${o.auth[1]}`).toString('base64');
      const payload = o.raw ?? (o.body === undefined ? undefined : JSON.stringify(o.body));
      if (payload !== undefined) headers['content-type'] = 'application/json';
      const res = await app.inject({ method, url, headers, ...(payload !== undefined ? { payload } : {}), remoteAddress: o.remoteAddress ?? '192.0.2.1' });
      return { status: res.statusCode, json: res.body ? (JSON.parse(res.body) as Record<string, unknown>) : undefined, headers: res.headers };
    },
    async close() {
      await app.close();
      await push.close();
      await store.close();
    },
  };
}
