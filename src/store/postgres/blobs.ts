// Content-addressed blobs (SHA-256 hex) inside PostgreSQL, in 256 KiB BYTEA chunks — the same
// layout as sqlite/blobs.ts (tables blobs and blob_chunks), for the same reasons: a blob commits in
// the very transaction that references it (no orphan files, no unlink race between nodes), every
// node sees every blob without a shared folder, and one backup (pg_dump / base backup + WAL)
// holds mail and metadata together. `read(hash, range)` selects only the chunks that overlap the
// range, so partial FETCHes of a 50 MB message never pull the whole blob.
//
// Invariant: blobs.refcount = messages rows + queue_messages rows with that hash; a blob whose count
// reaches 0 is deleted with its chunks in the same transaction.
// Concurrency across nodes: `add` is INSERT … ON CONFLICT DO UPDATE refcount + 1, so two nodes
// storing the same bytes at once serialise on the blobs row; the first inserts the chunks, the
// second only counts. `release` decrements with UPDATE … RETURNING, so the node that reaches 0 is
// the one that deletes (it holds the row lock until commit).
// All methods but read run on the caller's transaction client.
import { createHash } from 'node:crypto';
import { BadCommand, Refused } from '../../shared/errors.js';
import { row, rows, run, type Sql } from './pool.js';

export const blobChunkSize = 256 * 1024;
const hashRe = /^[0-9a-f]{64}$/;

export function blobHash(raw: Buffer): string {
  return createHash('sha256').update(raw).digest('hex');
}

export class PostgresBlobs {
  /** Stores the bytes (or takes one more reference to identical bytes already stored). */
  async add(db: Sql, hash: string, raw: Buffer, now: number): Promise<void> {
    const r = await row<{ inserted: boolean }>(db,
      `INSERT INTO blobs (hash, size, refcount, created_at) VALUES ($1, $2, 1, $3)
       ON CONFLICT (hash) DO UPDATE SET refcount = blobs.refcount + 1 RETURNING (xmax = 0) AS inserted`,
      [hash, raw.length, now]);
    if (!r?.inserted) return;
    for (let seq = 0, off = 0; off < raw.length; seq++, off += blobChunkSize) {
      await run(db, 'INSERT INTO blob_chunks (hash, seq, data) VALUES ($1, $2, $3)', [hash, seq, raw.subarray(off, Math.min(off + blobChunkSize, raw.length))]);
    }
  }

  /** More references to a blob known to exist (copy). */
  async addRef(db: Sql, hash: string, count = 1): Promise<void> {
    await run(db, 'UPDATE blobs SET refcount = refcount + $1 WHERE hash = $2', [count, hash]);
  }

  /** Drops references; the blob and its chunks go when none is left. */
  async release(db: Sql, hash: string, count = 1): Promise<void> {
    const r = await row<{ refcount: number }>(db, 'UPDATE blobs SET refcount = refcount - $1 WHERE hash = $2 RETURNING refcount', [count, hash]);
    if (r && r.refcount <= 0) {
      await run(db, 'DELETE FROM blob_chunks WHERE hash = $1', [hash]);
      await run(db, 'DELETE FROM blobs WHERE hash = $1', [hash]);
    }
  }

  /** The bytes, or the byte range [start, end) clamped to the blob. */
  async read(db: Sql, hash: string, range?: { start: number; end: number }): Promise<Buffer> {
    if (typeof hash !== 'string' || !hashRe.test(hash)) throw new BadCommand('invalid blob hash');
    let start = 0;
    let end = Number.MAX_SAFE_INTEGER;
    if (range) {
      if (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.end < range.start) {
        throw new BadCommand('invalid byte range');
      }
      start = range.start;
      end = range.end;
    }
    // One statement reads size and the needed chunks, so a concurrent release cannot split them.
    const first = Math.floor(start / blobChunkSize);
    const last = end === Number.MAX_SAFE_INTEGER ? 2 ** 31 - 1 : Math.floor(Math.max(end - 1, 0) / blobChunkSize);
    const found = await rows<{ size: number; seq: number | null; data: Buffer | null }>(db,
      `SELECT b.size, c.seq, c.data FROM blobs b LEFT JOIN blob_chunks c ON c.hash = b.hash AND c.seq BETWEEN $2 AND $3
       WHERE b.hash = $1 ORDER BY c.seq`, [hash, first, Math.min(last, 2 ** 31 - 1)]);
    if (found.length === 0) throw new Refused(`blob ${hash} not found`, 'NONEXISTENT');
    const size = found[0]!.size;
    start = Math.min(start, size);
    end = Math.min(end, size);
    if (end <= start) return Buffer.alloc(0);
    const parts = found.filter((c) => c.data !== null).map((c) => c.data!);
    const joined = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    const offset = start - first * blobChunkSize;
    return joined.subarray(offset, offset + (end - start));
  }
}
