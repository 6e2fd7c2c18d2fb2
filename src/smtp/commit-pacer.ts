// Pacing of durable hand-offs, so concurrent SMTP sessions share fsyncs.
//
// The SQLite store commits (and fsyncs) every write issued in one event-loop turn together, but
// better-sqlite3 fsyncs on the main thread: while a commit runs (≈8–10 ms on a plain disk) no
// session makes progress. Left alone, each message arrives in its own turn, commits alone, and
// back-to-back commits starve the SMTP dialogues (measured: ~100 msg/s). The pacer releases the
// waiting deliveries together, in one turn (one group commit), and after a commit it waits about
// as long as that commit took before the next one, so sessions advance in between and the next
// batch is bigger. An idle server releases at once (no added latency at low load).
//
// Invariant: the pacer only decides *when* a delivery starts; each caller still awaits its own
// durable commit before replying.
import { performance } from 'node:perf_hooks';

export interface CommitPacerOptions {
  /** Longest wait added before a batch (bounds the latency the pacing adds). */
  maxWaitMs?: number;
}

export class CommitPacer {
  #queue: Array<() => void> = [];
  #inFlight = 0;
  #nextAt = 0;
  #timer: NodeJS.Timeout | null = null;
  #scheduled = false;
  readonly maxWaitMs: number;

  constructor(options: CommitPacerOptions = {}) {
    this.maxWaitMs = options.maxWaitMs ?? 20;
  }

  /** Run fn (which ends in a store commit) in the next batch; resolves with its result. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    await new Promise<void>((resolve) => {
      this.#queue.push(resolve);
      this.#schedule();
    });
    try {
      return await fn();
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0) this.#batchDone();
    }
  }

  #batchStartedAt = 0;

  #schedule(): void {
    if (this.#scheduled || this.#inFlight > 0 || this.#queue.length === 0) return;
    this.#scheduled = true;
    const wait = this.#nextAt - performance.now();
    const release = () => {
      this.#scheduled = false;
      this.#timer = null;
      this.#release();
    };
    // setImmediate still gathers the deliveries that end in this same turn.
    if (wait <= 0) setImmediate(release);
    else this.#timer = setTimeout(release, Math.min(wait, this.maxWaitMs));
  }

  #release(): void {
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) return;
    this.#inFlight = batch.length;
    this.#batchStartedAt = performance.now();
    for (const resolve of batch) resolve();
  }

  #batchDone(): void {
    const now = performance.now();
    this.#nextAt = now + Math.min(now - this.#batchStartedAt, this.maxWaitMs);
    this.#schedule();
  }

  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#scheduled = false;
    this.#release();
  }
}
