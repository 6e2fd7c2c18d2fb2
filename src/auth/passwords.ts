// Password hashing and verification, shared by every protocol and the admin tools.
//
// New passwords: scrypt (memory-hard, node:crypto), stored as a PHC-like string
//   $scrypt$ln=15,r=8,p=1$<salt base64>$<hash base64>
// Imported hashes (Dovecot, /etc/shadow) are verified too, with or without their {SCHEME} prefix:
//   {SHA512-CRYPT}$6$…  (Drepper's SHA-crypt, sha-crypt.ts)
//   {BLF-CRYPT}$2y$… / $2a$ / $2b$  (bcrypt, bcryptjs)
//   {CRYPT}$6$… / {CRYPT}$2y$…  (Dovecot's system-crypt scheme, when the inner format is one of ours)
// and `needsRehash` says when the caller should store a fresh scrypt hash after a good login.
//
// Invariants: comparisons are constant-time; an unknown or malformed stored hash never verifies
// (false, no throw); every cost parameter read from a stored hash is bounded, so a hostile import
// cannot make one login eat seconds of CPU or gigabytes of memory; passwords longer than
// MAX_PASSWORD_BYTES never verify (and cannot be set).
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { MAX_SHA_CRYPT_ROUNDS, parseShaCrypt, sha512Crypt } from './sha-crypt.js';

/** Longest password accepted, in UTF-8 bytes. */
export const MAX_PASSWORD_BYTES = 1024;

/** Our current scrypt cost: N = 2^15, r = 8, p = 1 (32 MiB, ~50-100 ms). */
export const SCRYPT_PARAMS = { ln: 15, r: 8, p: 1 } as const;
const SCRYPT_SALT_BYTES = 16;
const SCRYPT_HASH_BYTES = 32;
// Bounds on parameters read back from storage.
const SCRYPT_LN_RANGE = [10, 20] as const;
const SCRYPT_R_RANGE = [1, 32] as const;
const SCRYPT_P_RANGE = [1, 16] as const;
/** bcrypt cost bound (2^cost rounds) for imported hashes. */
const BCRYPT_MAX_COST = 15;

export type PasswordScheme = 'scrypt' | 'sha512-crypt' | 'bcrypt';

interface ScryptHash {
  scheme: 'scrypt';
  ln: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}
interface CryptHash {
  scheme: 'sha512-crypt' | 'bcrypt';
  /** The crypt string without any {SCHEME} prefix. */
  value: string;
}
type ParsedHash = ScryptHash | CryptHash;

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;
const SCRYPT_FORMAT = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;
const BCRYPT_FORMAT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;
const PREFIX = /^\{([A-Za-z0-9.-]{1,32})\}/;

function decodeB64(text: string): Buffer | null {
  if (!B64.test(text)) return null;
  const buf = Buffer.from(text, 'base64');
  // Canonical only (padding optional): re-encoding must give back the same characters.
  return buf.toString('base64').replace(/=+$/, '') === text.replace(/=+$/, '') ? buf : null;
}

const inRange = (value: number, [min, max]: readonly [number, number]): boolean => value >= min && value <= max;

function parseScrypt(text: string): ScryptHash | null {
  const m = SCRYPT_FORMAT.exec(text);
  if (!m) return null;
  const ln = Number(m[1]);
  const r = Number(m[2]);
  const p = Number(m[3]);
  if (!inRange(ln, SCRYPT_LN_RANGE) || !inRange(r, SCRYPT_R_RANGE) || !inRange(p, SCRYPT_P_RANGE)) return null;
  const salt = decodeB64(m[4] ?? '');
  const hash = decodeB64(m[5] ?? '');
  if (!salt || !hash || salt.length < 8 || salt.length > 64 || hash.length < 16 || hash.length > 64) return null;
  return { scheme: 'scrypt', ln, r, p, salt, hash };
}

function parseCrypt(text: string): CryptHash | null {
  if (text.startsWith('$6$')) {
    const parts = parseShaCrypt(text);
    if (!parts || parts.hash === '' || (parts.rounds ?? 0) > MAX_SHA_CRYPT_ROUNDS) return null;
    return { scheme: 'sha512-crypt', value: text };
  }
  const m = BCRYPT_FORMAT.exec(text);
  if (m) {
    const cost = Number(m[1]);
    if (cost < 4 || cost > BCRYPT_MAX_COST) return null;
    return { scheme: 'bcrypt', value: text };
  }
  return null;
}

/** Parse a stored hash, honouring an optional Dovecot-style {SCHEME} prefix. */
function parseStored(stored: string): ParsedHash | null {
  if (typeof stored !== 'string' || stored.length > 512) return null;
  const prefix = PREFIX.exec(stored);
  if (!prefix) return stored.startsWith('$scrypt$') ? parseScrypt(stored) : parseCrypt(stored);
  const scheme = (prefix[1] ?? '').toUpperCase();
  const rest = stored.slice(prefix[0].length);
  const inner = parseCrypt(rest);
  if (!inner) return null;
  switch (scheme) {
    case 'SHA512-CRYPT':
      return inner.scheme === 'sha512-crypt' ? inner : null;
    case 'BLF-CRYPT':
      return inner.scheme === 'bcrypt' ? inner : null;
    case 'CRYPT':
      return inner;
    default:
      return null;
  }
}

function scryptAsync(password: Buffer, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

function scryptOptions(ln: number, r: number, p: number): ScryptOptions {
  const N = 2 ** ln;
  // Node needs 128·N·r bytes (plus a little); allow twice that.
  return { N, r, p, maxmem: 256 * N * r + 1024 * 1024 };
}

/** Hash a new password with scrypt. Throws (RangeError) for an empty or over-long password. */
export async function hashPassword(password: string): Promise<string> {
  const bytes = Buffer.from(password, 'utf8');
  if (bytes.length === 0) throw new RangeError('password must not be empty');
  if (bytes.length > MAX_PASSWORD_BYTES) throw new RangeError(`password longer than ${MAX_PASSWORD_BYTES} bytes`);
  const { ln, r, p } = SCRYPT_PARAMS;
  const salt = randomBytes(SCRYPT_SALT_BYTES);
  const hash = await scryptAsync(bytes, salt, SCRYPT_HASH_BYTES, scryptOptions(ln, r, p));
  return `$scrypt$ln=${ln},r=${r},p=${p}$${salt.toString('base64').replace(/=+$/, '')}$${hash.toString('base64').replace(/=+$/, '')}`;
}

function equalConstantTime(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) return false;
  return timingSafeEqual(a, b);
}

/**
 * Whether `password` matches `stored` (ours or an imported scheme). Never throws: an unknown
 * scheme, a malformed hash or an over-long password gives false.
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  if (typeof password !== 'string') return false;
  const bytes = Buffer.from(password, 'utf8');
  if (bytes.length > MAX_PASSWORD_BYTES) return false;
  const parsed = parseStored(stored);
  if (!parsed) return false;
  try {
    switch (parsed.scheme) {
      case 'scrypt': {
        const key = await scryptAsync(bytes, parsed.salt, parsed.hash.length, scryptOptions(parsed.ln, parsed.r, parsed.p));
        return equalConstantTime(key, parsed.hash);
      }
      case 'sha512-crypt': {
        // Compare the hash fields only: a stored `rounds=10` is recomputed as `rounds=1000`.
        const computed = await sha512Crypt(bytes, parsed.value);
        const tail = (s: string): Buffer => Buffer.from(s.slice(s.lastIndexOf('$') + 1));
        return equalConstantTime(tail(computed), tail(parsed.value));
      }
      case 'bcrypt': {
        // bcryptjs handles $2a$/$2b$/$2y$; its compare is constant-time over the encoded hash.
        return await bcrypt.compare(password, parsed.value);
      }
    }
  } catch {
    return false;
  }
}

/** Which scheme a stored hash uses, or null when it is not one we can verify. */
export function passwordScheme(stored: string): PasswordScheme | null {
  return parseStored(stored)?.scheme ?? null;
}

/** Whether a string looks like a stored hash we can verify (for `pigeon import`). */
export function isPasswordHash(s: string): boolean {
  return parseStored(s) !== null;
}

/**
 * Whether the caller should replace `stored` with hashPassword(password) after a successful
 * login: imported schemes, weaker scrypt parameters, and anything unrecognised.
 */
export function needsRehash(stored: string): boolean {
  const parsed = parseStored(stored);
  if (!parsed || parsed.scheme !== 'scrypt') return true;
  return parsed.ln < SCRYPT_PARAMS.ln || parsed.r < SCRYPT_PARAMS.r || parsed.hash.length < SCRYPT_HASH_BYTES;
}
