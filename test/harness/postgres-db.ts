// Fresh PostgreSQL databases for tests, on the server named by PIGEON_TEST_POSTGRES (default
// postgres://postgres@127.0.0.1:5432/postgres). No probing here (engines.ts decides whether
// PostgreSQL runs at all), so importing this file costs nothing.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const postgresAdminUrl = process.env['PIGEON_TEST_POSTGRES'] || 'postgres://postgres@127.0.0.1:5432/postgres';

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

let swept = false;

/** Drops test databases left by killed runs on this machine (their process no longer exists). */
async function sweepStale(admin: pg.Client): Promise<void> {
  if (swept) return;
  swept = true;
  const host = new URL(postgresAdminUrl).hostname;
  if (!['127.0.0.1', 'localhost', '::1', '[::1]', ''].includes(host)) return;
  const found = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname ~ '^pigeon_test_[0-9]+_[0-9a-f]+$'`);
  for (const { datname } of found.rows) {
    const pid = Number(datname.split('_')[2]);
    try {
      process.kill(pid, 0);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') continue; // alive, another user's
      await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`).catch(() => undefined);
    }
  }
}

/** A fresh, empty database on the test server. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `pigeon_test_${process.pid}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: postgresAdminUrl });
  await admin.connect();
  try {
    await sweepStale(admin);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  let dropped = false;
  return {
    name,
    url: withDatabase(postgresAdminUrl, name),
    async drop() {
      if (dropped) return;
      dropped = true;
      const c = new pg.Client({ connectionString: postgresAdminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}


/**
 * The store a benchmark (or any one-off run) should use: PostgreSQL on a fresh database when the
 * command line has `--store postgres` / `--store=postgres` or PIGEON_STORE=postgres, else SQLite
 * (an empty slice: the data folder's pigeon.db). Merge `store` into the raw config; call cleanup()
 * after closing Pigeon to drop the database.
 */
export async function storeFromArgs(argv: readonly string[] = process.argv, env: NodeJS.ProcessEnv = process.env): Promise<{ store: Record<string, string>; cleanup(): Promise<void> }> {
  const at = argv.indexOf('--store');
  const flag = at >= 0 ? argv[at + 1] : argv.find((a) => a.startsWith('--store='))?.slice('--store='.length);
  const engine = flag ?? env['PIGEON_STORE'] ?? 'sqlite';
  if (engine === 'sqlite') return { store: {}, cleanup: async () => undefined };
  if (engine !== 'postgres') throw new Error(`--store must be sqlite or postgres, not ${JSON.stringify(engine)}`);
  const db = await createTestDatabase();
  return { store: { driver: 'postgres', url: db.url }, cleanup: () => db.drop() };
}
