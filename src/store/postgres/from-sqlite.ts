// Moving an installation from SQLite to PostgreSQL (`pigeon migrate-store --to postgres://…`).
//
// The two schemas have the same tables and column names (migrations/postgres.ts), so the copy is
// generic: every table present in both, in foreign-key order, every column present in both, rows
// as they are — ids, UIDs, UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, modseqs, flags, dates, blob chunks,
// tombstones, subscriptions, the queue, push and admin tables alike. Identity sequences are then
// moved past the copied ids.
//
// Invariants:
// - The target must be empty (every table but schema_migrations); otherwise nothing is written.
// - All of it is one PostgreSQL transaction: a failed copy leaves the target empty.
// - The source is first brought to the current schema (opened once as a store), then read in one
//   read transaction, so it must not be written meanwhile: stop Pigeon first.
// - Memory is bounded: rows go in batches of at most `maxBatchRows` rows or `maxBatchBytes` bytes.
import BetterSqlite3 from 'better-sqlite3';
import type pg from 'pg';
import { Refused } from '../../shared/errors.js';
import { SqliteStore } from '../sqlite/sqlite-store.js';
import { createClient } from './pool.js';
import { migratePostgres } from './postgres-store.js';

const maxBatchRows = 500;
const maxBatchBytes = 8 * 1024 * 1024;
/** PostgreSQL allows 65535 parameters per statement. */
const maxParams = 60_000;

export interface CopyReport {
  /** Rows copied per table, in copy order. */
  tables: Array<{ table: string; rows: number }>;
}

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Tables of the target in an order where every referenced table comes first. */
async function tablesInOrder(c: pg.Client): Promise<string[]> {
  const tables = (await c.query<{ t: string }>(
    `SELECT table_name AS t FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`)).rows.map((r) => r.t);
  const deps = new Map<string, Set<string>>(tables.map((t) => [t, new Set<string>()]));
  for (const r of (await c.query<{ child: string; parent: string }>(
    `SELECT cl.relname AS child, pl.relname AS parent FROM pg_constraint k
       JOIN pg_class cl ON cl.oid = k.conrelid JOIN pg_class pl ON pl.oid = k.confrelid
       JOIN pg_namespace n ON n.oid = cl.relnamespace
     WHERE k.contype = 'f' AND n.nspname = current_schema()`)).rows) {
    if (r.child !== r.parent) deps.get(r.child)?.add(r.parent);
  }
  const out: string[] = [];
  const done = new Set<string>();
  const visit = (t: string, path: Set<string>) => {
    if (done.has(t) || path.has(t)) return;
    path.add(t);
    for (const p of deps.get(t) ?? []) visit(p, path);
    path.delete(t);
    done.add(t);
    out.push(t);
  };
  for (const t of tables) visit(t, new Set());
  return out;
}

/** Copies the SQLite database `file` into the (empty) PostgreSQL database at `url`. */
export async function copySqliteToPostgres(file: string, url: string): Promise<CopyReport> {
  // Bring the source to the current schema (a no-op when it is), then read it as it is.
  await (await SqliteStore.open({ file })).close();
  await migratePostgres(url);
  const src = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
  const c = createClient(url);
  await c.connect();
  const report: CopyReport = { tables: [] };
  try {
    await c.query('BEGIN');
    const order = (await tablesInOrder(c)).filter((t) => t !== 'schema_migrations');
    for (const t of order) {
      if ((await c.query(`SELECT 1 FROM ${quote(t)} LIMIT 1`)).rowCount) {
        throw new Refused(`the target database is not empty (table ${t} has rows); migrate into a new, empty database`, 'ALREADYEXISTS');
      }
    }
    const sourceTables = new Set((src.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as Array<{ name: string }>).map((r) => r.name));
    src.exec('BEGIN');
    for (const t of order) {
      if (!sourceTables.has(t)) continue;
      const targetCols = new Set((await c.query<{ c: string }>(
        'SELECT column_name AS c FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1', [t])).rows.map((r) => r.c));
      const cols = (src.prepare(`SELECT name FROM pragma_table_info(?)`).all(t) as Array<{ name: string }>).map((r) => r.name).filter((n) => targetCols.has(n));
      if (cols.length === 0) continue;
      const perBatch = Math.max(1, Math.min(maxBatchRows, Math.floor(maxParams / cols.length)));
      let batch: unknown[][] = [];
      let bytes = 0;
      let count = 0;
      const flush = async () => {
        if (batch.length === 0) return;
        const params: unknown[] = [];
        const values = batch.map((r) => `(${r.map((v) => {
          params.push(v);
          return `$${params.length}`;
        }).join(', ')})`).join(', ');
        await c.query(`INSERT INTO ${quote(t)} (${cols.map(quote).join(', ')}) VALUES ${values}`, params);
        count += batch.length;
        batch = [];
        bytes = 0;
      };
      const order = cols.includes('id') ? ' ORDER BY id' : '';
      for (const r of src.prepare(`SELECT ${cols.map(quote).join(', ')} FROM ${quote(t)}${order}`).raw().iterate() as IterableIterator<unknown[]>) {
        batch.push(r.map((v) => (typeof v === 'bigint' ? v.toString() : v)));
        for (const v of r) bytes += Buffer.isBuffer(v) ? v.length : typeof v === 'string' ? v.length : 8;
        if (batch.length >= perBatch || bytes >= maxBatchBytes) await flush();
      }
      await flush();
      const identity = (await c.query<{ c: string }>(
        `SELECT column_name AS c FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND is_identity = 'YES'`, [t])).rows;
      for (const { c: col } of identity) {
        await c.query(`SELECT setval(pg_get_serial_sequence($1, $2), COALESCE((SELECT MAX(${quote(col)}) FROM ${quote(t)}), 0) + 1, false)`, [t, col]);
      }
      report.tables.push({ table: t, rows: count });
    }
    src.exec('COMMIT');
    await c.query('COMMIT');
    return report;
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    if (src.inTransaction) src.exec('ROLLBACK');
    src.close();
    await c.end().catch(() => undefined);
  }
}
