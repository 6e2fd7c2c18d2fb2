// Failed-login throttling, shared by IMAP, POP3, SMTP AUTH, HTTP and push.
//
// Two counters per attempt: the remote address (IPv4 as is, IPv6 by its /64, IPv4-mapped IPv6 as
// IPv4) and the account name (lower-cased). After a failure the caller waits a progressive delay,
// failure_delay_ms · 2^(n-1) capped at max_failure_delay_ms, where n is the larger of the two
// counts. At lockout_failures failures on either key that key is locked for lockout_seconds.
// Failures older than lockout_seconds are forgotten. A success resets the address's counter
// (the account's counter is left to decay, so a user logging in does not reset a distributed
// guesser's count).
//
// Invariants: memory is bounded (at most maxKeys entries per kind, least recently touched evicted
// first); time comes from a Clock, so tests move time instead of sleeping.
import ipaddr from 'ipaddr.js';
import type { Config } from '../config/schema.js';
import { systemClock, type Clock } from '../shared/clock.js';

export const DEFAULT_MAX_TRACKED_KEYS = 50_000;

export type ThrottleSettings = Pick<Config['auth'], 'failure_delay_ms' | 'max_failure_delay_ms' | 'lockout_failures' | 'lockout_seconds'>;

export interface ThrottleOptions {
  auth: ThrottleSettings;
  clock?: Clock;
  /** Bound on tracked addresses and on tracked account names (each). */
  maxKeys?: number;
}

export type ThrottleCheck = { locked: false } | { locked: true; retryAfterSeconds: number; by: 'address' | 'account' };

export interface FailureOutcome {
  /** How long the caller should wait before answering the failure. */
  delayMs: number;
  /** Whether this failure started a lockout (on the address or the account). */
  locked: boolean;
  /** Failures counted for the address and for the account, this one included. */
  addressFailures: number;
  accountFailures: number;
}

interface Entry {
  failures: number;
  lastFailureAt: number;
  lockedUntil: number;
}

/** The key an address is counted under: IPv6 by /64, IPv4-mapped as IPv4, junk as itself (bounded). */
export function addressKey(remoteAddress: string): string {
  try {
    const ip = ipaddr.process(remoteAddress.replace(/%.*$/, ''));
    if (ip.kind() === 'ipv4') return ip.toString();
    const bytes = ip.toByteArray().slice(0, 8);
    return `${Buffer.from(bytes).toString('hex').replace(/(.{4})(?!$)/g, '$1:')}::/64`;
  } catch {
    return `other:${remoteAddress.slice(0, 64)}`;
  }
}

/** The key an account name is counted under. */
export function accountKey(username: string): string {
  return username.trim().toLowerCase().slice(0, 320);
}

class BoundedCounter {
  readonly #entries = new Map<string, Entry>();
  readonly #max: number;
  constructor(max: number) {
    this.#max = max;
  }

  /** The live entry for key (expired windows and lockouts cleared), without touching recency. */
  get(key: string, now: number, windowMs: number): Entry | undefined {
    const e = this.#entries.get(key);
    if (!e) return undefined;
    const lockExpired = e.lockedUntil !== 0 && e.lockedUntil <= now;
    const windowExpired = e.lockedUntil === 0 && now - e.lastFailureAt >= windowMs;
    if (lockExpired || windowExpired) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }

  fail(key: string, now: number, windowMs: number): Entry {
    const e = this.get(key, now, windowMs) ?? { failures: 0, lastFailureAt: now, lockedUntil: 0 };
    e.failures += 1;
    e.lastFailureAt = now;
    this.#entries.delete(key);
    this.#entries.set(key, e);
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
    return e;
  }

  reset(key: string): void {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}

export class LoginThrottle {
  readonly #auth: ThrottleSettings;
  readonly #clock: Clock;
  readonly #addresses: BoundedCounter;
  readonly #accounts: BoundedCounter;

  constructor(options: ThrottleOptions) {
    this.#auth = options.auth;
    this.#clock = options.clock ?? systemClock;
    const max = Math.max(1, options.maxKeys ?? DEFAULT_MAX_TRACKED_KEYS);
    this.#addresses = new BoundedCounter(max);
    this.#accounts = new BoundedCounter(max);
  }

  get #windowMs(): number {
    return this.#auth.lockout_seconds * 1000;
  }

  /** Whether an attempt from this address for this account is refused right now. */
  check(remoteAddress: string, username: string): ThrottleCheck {
    const now = this.#clock.now();
    const byAddress = this.#addresses.get(addressKey(remoteAddress), now, this.#windowMs);
    const byAccount = this.#accounts.get(accountKey(username), now, this.#windowMs);
    const until = Math.max(byAddress?.lockedUntil ?? 0, byAccount?.lockedUntil ?? 0);
    if (until <= now) return { locked: false };
    const by = (byAddress?.lockedUntil ?? 0) === until ? 'address' : 'account';
    return { locked: true, retryAfterSeconds: Math.max(1, Math.ceil((until - now) / 1000)), by };
  }

  /** Count a failed attempt; returns the delay to apply and whether a lockout began. */
  recordFailure(remoteAddress: string, username: string): FailureOutcome {
    const now = this.#clock.now();
    const a = this.#addresses.fail(addressKey(remoteAddress), now, this.#windowMs);
    const u = this.#accounts.fail(accountKey(username), now, this.#windowMs);
    let locked = false;
    for (const e of [a, u]) {
      if (e.failures >= this.#auth.lockout_failures && e.lockedUntil === 0) {
        e.lockedUntil = now + this.#windowMs;
        locked = true;
      }
    }
    return { delayMs: this.delayFor(Math.max(a.failures, u.failures)), locked, addressFailures: a.failures, accountFailures: u.failures };
  }

  /** A successful login: the address starts afresh. */
  recordSuccess(remoteAddress: string, _username: string): void {
    this.#addresses.reset(addressKey(remoteAddress));
  }

  /** The delay after the n-th consecutive failure (n ≥ 1). */
  delayFor(failures: number): number {
    const base = this.#auth.failure_delay_ms;
    const max = this.#auth.max_failure_delay_ms;
    if (base <= 0 || failures <= 0) return 0;
    const exp = Math.min(failures - 1, 30);
    return Math.min(max, base * 2 ** exp);
  }

  /** Tracked keys (addresses, accounts): for metrics and tests of the memory bound. */
  get trackedKeys(): { addresses: number; accounts: number } {
    return { addresses: this.#addresses.size, accounts: this.#accounts.size };
  }
}
