// Connection plumbing of the PostgreSQL engine: the pool, BIGINT as JS numbers, and `transaction`,
// the one way every write runs. Dialect-free callers (postgres-store.ts, push-store.ts, blobs.ts)
// pass SQL with $n parameters.
//
// Invariants:
// - Every connection runs with synchronous_commit = on, so a resolved write means the COMMIT is
//   flushed to the WAL on disk (ARCHITECTURE.md "Durability").
// - A transaction checks one client out of the pool, runs BEGIN … COMMIT on it and nothing else;
//   serialization failures (40001), deadlocks (40P01) and unique violations raced by another node
//   (23505) re-run the whole function, at most `maxAttempts` times, so the function must do all its
//   reads inside (it does: it gets the client).
// - Callers publish a transaction's changes only after `transaction` resolves (after COMMIT).
import pg from 'pg';

export type Sql = pg.Pool | pg.PoolClient;

/** Attempts of a transaction hit by serialization failures or deadlocks. */
export const maxAttempts = 8;
const retryCodes = new Set(['40001', '40P01', '23505']);

// BIGINT (20) columns as numbers: every value we store is below 2^53 (ids, ms, sizes, 2^32 UIDs, modseqs).
const int8 = (v: string): number => Number(v);
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20 ? int8 : pg.types.getTypeParser(oid, (format ?? 'text') as 'text')) as typeof pg.types.getTypeParser,
};

export function createPool(url: string, options: { max?: number } = {}): pg.Pool {
  return new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    options: '-c synchronous_commit=on -c statement_timeout=60000',
    types,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
  });
}

/** A lone client (LISTEN, migrations) with the same settings as the pool's. */
export function createClient(url: string): pg.Client {
  return new pg.Client({ connectionString: url, options: '-c synchronous_commit=on', types, connectionTimeoutMillis: 10_000 });
}

export async function rows<R>(db: Sql, sql: string, params: unknown[] = []): Promise<R[]> {
  return (await db.query(sql, params)).rows as R[];
}

export async function row<R>(db: Sql, sql: string, params: unknown[] = []): Promise<R | undefined> {
  return (await db.query(sql, params)).rows[0] as R | undefined;
}

/** Rows changed by an INSERT/UPDATE/DELETE. */
export async function run(db: Sql, sql: string, params: unknown[] = []): Promise<number> {
  return (await db.query(sql, params)).rowCount ?? 0;
}

function isRetryable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && retryCodes.has(code);
}

/**
 * Runs fn in one transaction on a checked-out client and resolves after COMMIT. `begin` may set the
 * isolation level ('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY' for consistent reads).
 */
export async function transaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, options: { begin?: string } = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect();
    let broken = false;
    try {
      await client.query(options.begin ?? 'BEGIN');
      const value = await fn(client);
      await client.query('COMMIT');
      return value;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
      if (attempt < maxAttempts && isRetryable(err)) {
        // A little jitter so two nodes in a deadlock do not meet again at once.
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 5 * attempt)));
        continue;
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }
}
