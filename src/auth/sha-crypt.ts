// SHA-512 crypt ("$6$"), as specified in Ulrich Drepper's public "Unix crypt using SHA-256 and
// SHA-512" (https://www.akkadia.org/drepper/SHA-crypt.txt). Only verification of imported hashes
// (Dovecot {SHA512-CRYPT}, /etc/shadow) uses it; new passwords get scrypt (passwords.ts).
//
// Bounds: salt ≤ 16 characters (the spec truncates), rounds clamped to [1000, 999999999] as the
// spec says, but callers refuse stored hashes above MAX_SHA_CRYPT_ROUNDS so an imported hash
// cannot pin a CPU. The rounds loop yields to the event loop every YIELD_EVERY rounds.
import { createHash } from 'node:crypto';

export const SHA_CRYPT_DEFAULT_ROUNDS = 5000;
export const SHA_CRYPT_MIN_ROUNDS = 1000;
export const SHA_CRYPT_MAX_ROUNDS = 999_999_999;
/** Our own bound for verification: higher-round stored hashes are refused (not verified). */
export const MAX_SHA_CRYPT_ROUNDS = 2_000_000;
const SALT_MAX = 16;
const YIELD_EVERY = 20_000;

const ALPHABET = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

// The spec's byte order for the final SHA-512 encoding: 21 groups of 3 bytes, then byte 63.
const ORDER: Array<[number, number, number]> = [];
for (let i = 0; i < 21; i++) {
  // Each group is (a, a+21, a+42) rotated by i mod 3: (0,21,42), (22,43,1), (44,2,23), (3,24,45)…
  const a = i;
  const b = i + 21;
  const c = i + 42;
  const rot = i % 3;
  ORDER.push(rot === 0 ? [a, b, c] : rot === 1 ? [b, c, a] : [c, a, b]);
}

function b64From24(out: string[], b2: number, b1: number, b0: number, n: number): void {
  let w = (b2 << 16) | (b1 << 8) | b0;
  for (let i = 0; i < n; i++) {
    out.push(ALPHABET[w & 0x3f] as string);
    w >>>= 6;
  }
}

function encode(digest: Buffer): string {
  const out: string[] = [];
  for (const [x, y, z] of ORDER) b64From24(out, digest[x] ?? 0, digest[y] ?? 0, digest[z] ?? 0, 4);
  b64From24(out, 0, 0, digest[63] ?? 0, 2);
  return out.join('');
}

function repeatTo(source: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0; i < length; i += source.length) source.copy(out, i, 0, Math.min(source.length, length - i));
  return out;
}

const sha512 = (...parts: Buffer[]): Buffer => {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return h.digest();
};

export interface ShaCryptParts {
  /** Rounds as used (clamped), or null when the string had no `rounds=` field. */
  rounds: number | null;
  salt: string;
  /** The 86-character encoded hash, or '' when only a setting was given. */
  hash: string;
}

const SHA512_CRYPT = /^\$6\$(?:rounds=([0-9]{1,10})\$)?([^$\n:]{0,16})[^$\n:]*(?:\$([./0-9A-Za-z]{86}))?$/;

/** Split a `$6$[rounds=N$]salt[$hash]` string; null when it is not one. */
export function parseShaCrypt(text: string): ShaCryptParts | null {
  if (text.length > 200) return null;
  const m = SHA512_CRYPT.exec(text);
  if (!m) return null;
  const roundsText = m[1];
  let rounds: number | null = null;
  if (roundsText !== undefined) {
    rounds = Math.min(SHA_CRYPT_MAX_ROUNDS, Math.max(SHA_CRYPT_MIN_ROUNDS, Number(roundsText)));
  }
  return { rounds, salt: m[2] ?? '', hash: m[3] ?? '' };
}

/**
 * SHA-512 crypt of `password` with `setting` (`$6$[rounds=N$]salt…`), returning the full string
 * `$6$[rounds=N$]salt$hash` exactly as glibc's crypt(3) would. Throws on a malformed setting.
 */
export async function sha512Crypt(password: string | Buffer, setting: string): Promise<string> {
  const parts = parseShaCrypt(setting);
  if (!parts) throw new Error('not a SHA-512 crypt setting');
  const rounds = parts.rounds ?? SHA_CRYPT_DEFAULT_ROUNDS;
  const P = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  const S = Buffer.from(parts.salt.slice(0, SALT_MAX), 'utf8');

  // Steps 4-8: digest B = SHA512(P S P).
  const B = sha512(P, S, P);
  // Steps 1-3, 9-12: digest A.
  const a = createHash('sha512');
  a.update(P);
  a.update(S);
  a.update(repeatTo(B, P.length));
  for (let n = P.length; n > 0; n >>>= 1) a.update((n & 1) !== 0 ? B : P);
  const A = a.digest();
  // Steps 13-16: P sequence.
  const dp = createHash('sha512');
  for (let i = 0; i < P.length; i++) dp.update(P);
  const Pseq = repeatTo(dp.digest(), P.length);
  // Steps 17-20: S sequence.
  const ds = createHash('sha512');
  for (let i = 0; i < 16 + (A[0] ?? 0); i++) ds.update(S);
  const Sseq = repeatTo(ds.digest(), S.length);
  // Step 21: the rounds.
  let C = A;
  for (let i = 0; i < rounds; i++) {
    const h = createHash('sha512');
    h.update((i & 1) !== 0 ? Pseq : C);
    if (i % 3 !== 0) h.update(Sseq);
    if (i % 7 !== 0) h.update(Pseq);
    h.update((i & 1) !== 0 ? C : Pseq);
    C = h.digest();
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  const prefix = parts.rounds === null ? '$6$' : `$6$rounds=${rounds}$`;
  return `${prefix}${S.toString('utf8')}$${encode(C)}`;
}
