// The dashboard's "recent failures": a bounded ring of the last failures main.ts reports (failed
// logins, push notification failures, delivery failures). In memory, per process; newest first.
import { systemClock, type Clock } from '../shared/clock.js';

export interface FailureEntry {
  /** ISO time. */
  at: string;
  kind: 'login' | 'push' | 'delivery' | 'queue' | 'other';
  /** The domain it concerns, when known (domain admins see only theirs). */
  domain: string | null;
  message: string;
}

export class RecentFailures {
  readonly #entries: FailureEntry[] = [];
  readonly #max: number;
  readonly #clock: Clock;

  constructor(options: { max?: number; clock?: Clock } = {}) {
    this.#max = Math.max(1, options.max ?? 100);
    this.#clock = options.clock ?? systemClock;
  }

  add(kind: FailureEntry['kind'], message: string, domain: string | null = null): void {
    this.#entries.unshift({ at: new Date(this.#clock.now()).toISOString(), kind, domain: domain === null ? null : domain.toLowerCase().slice(0, 255), message: message.slice(0, 500) });
    if (this.#entries.length > this.#max) this.#entries.length = this.#max;
  }

  /** Newest first; only this domain's when given. */
  list(options: { domain?: string; limit?: number } = {}): FailureEntry[] {
    const d = options.domain?.toLowerCase();
    return this.#entries.filter((e) => d === undefined || e.domain === d).slice(0, options.limit ?? 20);
  }
}
