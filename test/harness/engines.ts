// Which store engines the suites run on: always SQLite; PostgreSQL when reachable.
//
// - The server used to create per-run databases is PIGEON_TEST_POSTGRES, default
//   postgres://postgres@127.0.0.1:5432/postgres (needs CREATEDB).
// - In CI (CI=true) PostgreSQL is required: an unreachable server fails the run.
// - Elsewhere an unreachable server skips the PostgreSQL runs with one line on stderr (printed once
//   per `node --test` run, not once per file).
// - Each test gets its own database `pigeon_test_<pid>_<random>` (createTestDatabase), dropped
//   (WITH (FORCE)) by its cleanup.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createTestDatabase, postgresAdminUrl } from './postgres-db.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import type { Logger } from '../../src/shared/logger.js';

export { createTestDatabase, postgresAdminUrl, type TestDatabase } from './postgres-db.js';

export type Engine = 'sqlite' | 'postgres';

async function probe(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: postgresAdminUrl, connectionTimeoutMillis: 3000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

function where(): string {
  try {
    const u = new URL(postgresAdminUrl);
    return `${u.hostname}:${u.port || '5432'}`;
  } catch {
    return postgresAdminUrl;
  }
}

async function detect(): Promise<Engine[]> {
  const problem = await probe();
  if (problem === undefined) return ['sqlite', 'postgres'];
  if (process.env['CI'] === 'true') {
    throw new Error(`postgres tests are required in CI but cannot reach ${where()}: ${problem} (set PIGEON_TEST_POSTGRES=postgres://…)`);
  }
  // One line per test run: the first file of this runner (same parent process) prints it.
  const marker = path.join(os.tmpdir(), `pigeon-pg-skip-${process.ppid}`);
  try {
    fs.writeFileSync(marker, '', { flag: 'wx' });
    process.stderr.write(`postgres tests skipped: cannot reach ${where()} (set PIGEON_TEST_POSTGRES=postgres://… or start PostgreSQL)\n`);
  } catch {
    // already said by another file of this run
  }
  return ['sqlite'];
}

/** The engines to run on, decided once per process. */
export const engines: readonly Engine[] = await detect();

export const hasPostgres = engines.includes('postgres');

/** Why PostgreSQL runs are skipped (for `test(..., { skip })`), or false. */
export const postgresSkip: string | false = hasPostgres ? false : 'PostgreSQL not reachable';

/** startTestPigeon overrides for this engine: PostgreSQL gets a fresh database, dropped by close(). */
export function engineOverrides(engine: Engine): Record<string, unknown> {
  return engine === 'postgres' ? { store: { driver: 'postgres' } } : {};
}

/** Store config for this engine when a harness opens the store itself (a fresh database for
 *  postgres); call cleanup() after closing the store to drop it. */
export async function storeOverrides(engine: Engine): Promise<{ overrides: Record<string, unknown>; cleanup(): Promise<void> }> {
  if (engine === 'sqlite') return { overrides: {}, cleanup: async () => undefined };
  const db = await createTestDatabase();
  return { overrides: { store: { driver: 'postgres', url: db.url } }, cleanup: () => db.drop() };
}

/** The engine a whole suite runs on when it is run again for PostgreSQL: `PIGEON_TEST_STORE=postgres`
 *  (scripts/run-tests.js re-runs the POP3 and SMTP suites that way). */
export const suiteEngine: Engine = process.env['PIGEON_TEST_STORE'] === 'postgres' ? 'postgres' : 'sqlite';

/** Open a store for a test harness on `suiteEngine` (a fresh database for postgres); `cleanup()`
 *  drops that database after the store is closed. */
export async function openTestStore(dataDir: string, logger?: Logger): Promise<{ store: Store; reopen(): Promise<Store>; cleanup(): Promise<void> }> {
  const { overrides, cleanup } = await storeOverrides(suiteEngine);
  const s = (overrides['store'] ?? {}) as { driver?: 'postgres'; url?: string };
  const open = () => openStore({ driver: s.driver ?? 'sqlite', url: s.url ?? '', dataDir, ...(logger ? { logger } : {}) });
  return { store: await open(), reopen: open, cleanup };
}
