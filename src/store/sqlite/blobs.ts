// Content-addressed blobs (SHA-256 hex) inside the SQLite database, in 256 KiB chunks.
//
// Why in the database rather than as files beside it: a blob then commits in the very transaction
// that references it, so there is no window where a file exists without its row (or a row without
// its file), no orphan sweeping, and no race between one process dropping the last reference
// (and unlinking) while another process re-adds the same content. One fsync (the WAL commit) makes
// message and bytes durable together, which is also faster than temp-file + fsync + rename + fsync
// of the directory per message. Backups are one file (`sqlite3 pigeon.db .backup`).
// Chunking keeps memory bounded: `read(hash, range)` loads only the chunks overlapping the range,
// so a client streaming a 50 MB message in partial FETCHes never pulls the whole blob per call.
//
// Invariant: blobs.refcount = number of messages rows + queue_messages rows with that hash; a blob
// whose count reaches 0 is deleted with its chunks in the same transaction.
// All methods are synchronous and must run inside the caller's write transaction (except read).
import { createHash } from 'node:crypto';
import type { Database, Statement } from 'better-sqlite3';
import { BadCommand, Refused } from '../../shared/errors.js';

export const blobChunkSize = 256 * 1024;
const hashRe = /^[0-9a-f]{64}$/;

export function blobHash(raw: Buffer): string {
  return createHash('sha256').update(raw).digest('hex');
}

interface BlobRow {
  size: number;
  refcount: number;
}

export class SqliteBlobs {
  #get: Statement<[string], BlobRow>;
  #insert: Statement<[string, number, number]>;
  #insertChunk: Statement<[string, number, Buffer]>;
  #addRef: Statement<[number, string]>;
  #dropRef: Statement<[number, string]>;
  #deleteChunks: Statement<[string]>;
  #deleteBlob: Statement<[string]>;
  #chunks: Statement<[string, number, number], { seq: number; data: Buffer }>;

  constructor(db: Database) {
    this.#get = db.prepare('SELECT size, refcount FROM blobs WHERE hash = ?');
    this.#insert = db.prepare('INSERT INTO blobs (hash, size, refcount, created_at) VALUES (?, ?, 1, ?)');
    this.#insertChunk = db.prepare('INSERT INTO blob_chunks (hash, seq, data) VALUES (?, ?, ?)');
    this.#addRef = db.prepare('UPDATE blobs SET refcount = refcount + ? WHERE hash = ?');
    this.#dropRef = db.prepare('UPDATE blobs SET refcount = refcount - ? WHERE hash = ?');
    this.#deleteChunks = db.prepare('DELETE FROM blob_chunks WHERE hash = ?');
    this.#deleteBlob = db.prepare('DELETE FROM blobs WHERE hash = ?');
    this.#chunks = db.prepare('SELECT seq, data FROM blob_chunks WHERE hash = ? AND seq BETWEEN ? AND ? ORDER BY seq');
  }

  /** Stores the bytes (or takes one more reference to identical bytes already stored). */
  add(hash: string, raw: Buffer, now: number): void {
    const row = this.#get.get(hash);
    if (row) {
      this.#addRef.run(1, hash);
      return;
    }
    this.#insert.run(hash, raw.length, now);
    for (let seq = 0, off = 0; off < raw.length; seq++, off += blobChunkSize) {
      this.#insertChunk.run(hash, seq, raw.subarray(off, Math.min(off + blobChunkSize, raw.length)));
    }
  }

  /** One more reference to a blob known to exist (copy). */
  addRef(hash: string, count = 1): void {
    this.#addRef.run(count, hash);
  }

  /** Drops references; the blob and its chunks go when none is left. */
  release(hash: string, count = 1): void {
    this.#dropRef.run(count, hash);
    const row = this.#get.get(hash);
    if (row && row.refcount <= 0) {
      this.#deleteChunks.run(hash);
      this.#deleteBlob.run(hash);
    }
  }

  size(hash: string): number | undefined {
    return this.#get.get(hash)?.size;
  }

  /** The bytes, or the byte range [start, end) clamped to the blob. */
  read(hash: string, range?: { start: number; end: number }): Buffer {
    if (typeof hash !== 'string' || !hashRe.test(hash)) throw new BadCommand('invalid blob hash');
    const row = this.#get.get(hash);
    if (!row) throw new Refused(`blob ${hash} not found`, 'NONEXISTENT');
    let start = 0;
    let end = row.size;
    if (range) {
      if (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.end < range.start) {
        throw new BadCommand('invalid byte range');
      }
      start = Math.min(range.start, row.size);
      end = Math.min(range.end, row.size);
    }
    if (end <= start) return Buffer.alloc(0);
    const first = Math.floor(start / blobChunkSize);
    const last = Math.floor((end - 1) / blobChunkSize);
    const parts = this.#chunks.all(hash, first, last).map((c) => c.data);
    const joined = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    const offset = start - first * blobChunkSize;
    return joined.subarray(offset, offset + (end - start));
  }
}
