// A whole Pigeon in-process for tests: every listener on 127.0.0.1 with an ephemeral port, a temp
// data folder, timing knobs at zero. `ports.imap`, `ports.smtp`, … give where each listens.
// Store engine: SQLite in the data folder by default; PostgreSQL with `{ store: { driver:
// 'postgres', url } }`, or `{ store: { driver: 'postgres' } }` / PIGEON_TEST_STORE=postgres for a
// fresh database of its own, dropped by close() (test/harness/engines.ts).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { startPigeon, type Pigeon } from '../../src/main.js';
import { silentLogger } from '../../src/shared/logger.js';
import { hashPassword } from '../../src/auth/passwords.js';
import { createTestDatabase, type TestDatabase } from './postgres-db.js';

export interface TestPigeon extends Pigeon {
  dir: string;
  ports: Record<string, number>;
  /** Add a domain (if new) and an account with this password. */
  addUser(email: string, password: string, options?: { quota?: number }): Promise<void>;
}

export async function startTestPigeon(overrides: Record<string, unknown> = {}): Promise<TestPigeon> {
  const dir = mkdtempSync(join(tmpdir(), 'pigeon-test-'));
  const listen: Record<string, string> = {};
  for (const k of ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http', 'https']) listen[k] = '127.0.0.1:0';
  const raw: Record<string, unknown> = {
    hostname: 'mail.example.test',
    data_dir: dir,
    listen: { ...listen, ...((overrides['listen'] as object | undefined) ?? {}) },
    auth: { failure_delay_ms: 0, max_failure_delay_ms: 0, ...((overrides['auth'] as object | undefined) ?? {}) },
    log: { level: 'silent' },
  };
  for (const [k, v] of Object.entries(overrides)) if (!(k in raw)) raw[k] = v;
  const store = { ...((raw['store'] as Record<string, unknown> | undefined) ?? {}) };
  if (raw['store'] === undefined && process.env['PIGEON_TEST_STORE'] === 'postgres') store['driver'] = 'postgres';
  let database: TestDatabase | undefined;
  if (store['driver'] === 'postgres' && !store['url']) {
    database = await createTestDatabase();
    store['url'] = database.url;
  }
  if (Object.keys(store).length > 0) raw['store'] = store;
  const config: Config = buildConfig(raw, { env: {} });
  let pigeon: Pigeon;
  try {
    pigeon = await startPigeon(config, { logger: silentLogger() });
  } catch (err) {
    await database?.drop();
    throw err;
  }
  if (database) {
    const close = pigeon.close.bind(pigeon);
    const db = database;
    pigeon.close = async (options) => {
      try {
        await close(options);
      } finally {
        await db.drop();
      }
    };
  }
  const ports: Record<string, number> = {};
  for (const s of pigeon.services) for (const l of s.listening) ports[l.listener] = l.port;
  return Object.assign(pigeon, {
    dir,
    ports,
    async addUser(email: string, password: string, options: { quota?: number } = {}) {
      const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
      if (!(await pigeon.store.getDomain(domain))) await pigeon.store.addDomain(domain);
      await pigeon.store.createAccount({ email, passwordHash: await hashPassword(password), ...(options.quota !== undefined ? { quota: options.quota } : {}) });
    },
  });
}
