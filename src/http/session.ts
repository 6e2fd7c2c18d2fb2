// Admin sessions of the console and API.
//
// - Sign-in goes through the shared Authenticator (protocol 'http'), so failures count in the same
//   throttle as IMAP/POP3/SMTP logins. Only accounts with isAdmin get a session.
// - The cookie carries a random 256-bit token; the store keeps only its SHA-256. Cookie attributes:
//   `__Host-` prefix, Secure, HttpOnly, SameSite=Strict, Path=/ (RFC 6265bis §4.1.3.2).
// - Idle expiry: a session unused for `idleMs` (8 h) ends; each use moves the expiry forward
//   (written at most once a minute).
// - CSRF: every non-GET API call needs `X-CSRF-Token`, derived from the cookie token (SHA-256 of
//   "csrf:" + token): never stored, and not computable without the HttpOnly cookie. A request
//   whose Origin (or Sec-Fetch-Site) shows another site is refused as well.
// - Scopes: an admin with scope 'server' administers everything; scope 'domain' only its own
//   domain (its accounts, aliases, push subscriptions, queue entries of its senders), never
//   server-wide settings (domains list changes, My Networks).
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Account, AdminScope, Store } from '../store/store.js';
import { systemClock, type Clock } from '../shared/clock.js';

export const sessionCookieName = '__Host-pigeon_session';
export const defaultIdleMs = 8 * 3600 * 1000;
const touchEveryMs = 60_000;
const maxCookieHeader = 8192;

export interface Principal {
  account: Account;
  scope: AdminScope;
  /** The admin's own domain. */
  domain: string;
  token: string;
  tokenHash: string;
  csrfToken: string;
  expiresAt: number;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

export function csrfTokenFor(token: string): string {
  return createHash('sha256').update(`csrf:${token}`).digest('base64url');
}

export function domainOf(email: string): string {
  return email.slice(email.lastIndexOf('@') + 1).toLowerCase();
}

/** The value of one cookie in a Cookie header (RFC 6265 §5.4), or undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header || header.length > maxCookieHeader) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export function sessionCookie(token: string): string {
  return `${sessionCookieName}=${token}; Secure; HttpOnly; SameSite=Strict; Path=/`;
}

export function clearedSessionCookie(): string {
  return `${sessionCookieName}=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`;
}

/** Constant-time comparison of two strings. */
export function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class AdminSessions {
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #idleMs: number;

  constructor(store: Store, options: { clock?: Clock; idleMs?: number } = {}) {
    this.#store = store;
    this.#clock = options.clock ?? systemClock;
    this.#idleMs = options.idleMs ?? defaultIdleMs;
  }

  /** A new session for an admin account (the caller checked isAdmin). */
  async create(account: Account, context: { remoteAddress: string; userAgent: string }): Promise<Principal> {
    const token = randomBytes(32).toString('base64url');
    const now = this.#clock.now();
    const tokenHash = sha256(token);
    const expiresAt = now + this.#idleMs;
    await this.#store.adminSessions.create({ tokenHash, accountId: account.id, createdAt: now, lastSeenAt: now, expiresAt, ...context });
    return this.#principal(account, token, tokenHash, expiresAt);
  }

  /** The signed-in admin of this cookie token, or undefined (expired, unknown, no longer admin). */
  async resume(token: string | undefined): Promise<Principal | undefined> {
    if (token === undefined || !/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
    const now = this.#clock.now();
    const tokenHash = sha256(token);
    const session = await this.#store.adminSessions.get(tokenHash, now);
    if (!session) return undefined;
    const account = await this.#store.getAccount(session.accountId);
    if (!account || !account.isAdmin) {
      await this.#store.adminSessions.delete(tokenHash);
      return undefined;
    }
    let expiresAt = session.expiresAt;
    if (now - session.lastSeenAt >= touchEveryMs) {
      expiresAt = now + this.#idleMs;
      await this.#store.adminSessions.touch(tokenHash, now, expiresAt);
    }
    return this.#principal(account, token, tokenHash, expiresAt);
  }

  async end(principal: Principal): Promise<void> {
    await this.#store.adminSessions.delete(principal.tokenHash);
  }

  /** Drop expired sessions (called now and then). */
  async sweep(): Promise<number> {
    return this.#store.adminSessions.deleteExpired(this.#clock.now());
  }

  #principal(account: Account, token: string, tokenHash: string, expiresAt: number): Principal {
    return { account, scope: account.adminScope, domain: domainOf(account.email), token, tokenHash, csrfToken: csrfTokenFor(token), expiresAt };
  }
}

/** May this admin act on this domain? */
export function mayAdminister(principal: Principal, domain: string): boolean {
  return principal.scope === 'server' || principal.domain === domain.toLowerCase();
}
