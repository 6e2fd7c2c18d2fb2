// Random identifiers on hot paths (one per message or connection): cut from a pooled buffer so
// that each id costs a slice, not a call into the system's random source.
import { randomBytes } from 'node:crypto';

const poolSize = 4096;
let pool = Buffer.alloc(0);
let at = 0;

/** `bytes` (at most 256) fresh random bytes encoded as `encoding`; never the same bytes twice. */
export function randomText(bytes: number, encoding: 'hex' | 'base64url'): string {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 256) throw new RangeError('randomText: 1 to 256 bytes');
  if (at + bytes > pool.length) {
    pool = randomBytes(poolSize);
    at = 0;
  }
  at += bytes;
  return pool.toString(encoding, at - bytes, at);
}
