// App passwords: generated passwords an account holder gives one mail client or device instead
// of the account password, each revocable on its own (authenticator.ts accepts them for every
// protocol but the admin console; push subscriptions made with one end when it is revoked).
//
// - Pigeon makes them: 16 random lower-case letters (26^16 ≈ 2^75), shown once as four groups of
//   four ("abcd efgh ijkl mnop"); only an scrypt hash is stored. A login may type them with or
//   without the spaces, in either case.
// - Each is stored with a lookup key: the first 8 hex digits of SHA-256 over the account id and the
//   password. A login computes it and verifies only the hash stored under it, so a login costs one
//   scrypt for the app password and at most one more for the account password, however many app
//   passwords the account has. The key names one of 2^32 buckets: it tells an attacker who holds
//   the database nothing usable (2^75 SHA-256 computations to use it) and is unique per account
//   (a collision at creation draws another password).
// - At most MAX_APP_PASSWORDS_PER_ACCOUNT per account.
import { createHash, randomInt } from 'node:crypto';
import { Refused } from '../shared/errors.js';
import type { AppPassword, Store } from '../store/store.js';
import { hashPassword } from './passwords.js';

/** App passwords one account may hold. */
export const MAX_APP_PASSWORDS_PER_ACCOUNT = 20;
/** Longest name (label) of an app password. */
export const MAX_APP_PASSWORD_NAME_LENGTH = 100;

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const LENGTH = 16;
const SHAPE = /^[a-z]{16}$/;
/** Draws made before giving up on finding a lookup key not yet used by the account. */
const MAX_DRAWS = 5;

/** A new app password in its display form: four groups of four lower-case letters. */
export function generateAppPassword(): string {
  let s = '';
  for (let i = 0; i < LENGTH; i++) s += LETTERS[randomInt(LETTERS.length)];
  return s.replace(/(.{4})(?!$)/g, '$1 ');
}

/**
 * The canonical form of what a login typed, when it has the shape of an app password (16 letters,
 * spaces anywhere, any case); null otherwise, so other passwords are never looked up.
 */
export function normalizeAppPassword(typed: string): string | null {
  if (typeof typed !== 'string' || typed.length > 64) return null;
  const compact = typed.replace(/ /g, '').toLowerCase();
  return SHAPE.test(compact) ? compact : null;
}

/** The non-secret key an app password (canonical form) is stored under for this account. */
export function appPasswordLookup(accountId: number, canonical: string): string {
  return createHash('sha256').update(`pigeon-app-password\u0000${accountId}\u0000${canonical}`, 'utf8').digest('hex').slice(0, 8);
}

/** The label checked the way the store checks it, trimmed. */
export function checkAppPasswordName(name: unknown): string | null {
  if (typeof name !== 'string') return null;
  const trimmed = name.trim();
  if (trimmed.length < 1 || trimmed.length > MAX_APP_PASSWORD_NAME_LENGTH || /[\u0000-\u001f\u007f]/.test(trimmed)) return null;
  return trimmed;
}

/**
 * Makes an app password for the account and stores its hash. The password is returned here only:
 * show it once. Refused LIMIT at MAX_APP_PASSWORDS_PER_ACCOUNT, NONEXISTENT for a missing account.
 */
export async function createAppPassword(store: Store, accountId: number, name: string): Promise<{ appPassword: AppPassword; password: string }> {
  for (let draw = 1; ; draw++) {
    const password = generateAppPassword();
    const canonical = password.replace(/ /g, '');
    try {
      const appPassword = await store.createAppPassword(
        { accountId, name, lookup: appPasswordLookup(accountId, canonical), passwordHash: await hashPassword(canonical) },
        { maxPerAccount: MAX_APP_PASSWORDS_PER_ACCOUNT },
      );
      return { appPassword, password };
    } catch (err) {
      if (!(err instanceof Refused && err.code === 'ALREADYEXISTS') || draw >= MAX_DRAWS) throw err;
    }
  }
}
