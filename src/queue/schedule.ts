// Retry timing of the outbound queue, from [queue] in the config: the backoff schedule, how long
// a message may stay (RFC 5321 §4.5.4.1: give up after 4-5 days) and when the delay notice goes.
import type { Config } from '../config/schema.js';

export interface QueueTiming {
  /** Delay after the 1st, 2nd… failed attempt; the last repeats. */
  retryScheduleMs: number[];
  maxAgeMs: number;
  /** 0 = no delay notices. */
  delayNoticeMs: number;
}

const minute = 60_000;
const hour = 60 * minute;

export function timingFromConfig(queue: Config['queue']): QueueTiming {
  const schedule = queue.retry_schedule_minutes.split(',').map((v) => Number(v.trim()) * minute).filter((v) => Number.isFinite(v) && v > 0);
  return { retryScheduleMs: schedule.length > 0 ? schedule : [minute], maxAgeMs: queue.max_age_hours * hour, delayNoticeMs: queue.delay_notice_hours * hour };
}

/** The delay before the next attempt, after `attempts` attempts (≥ 1) have failed. */
export function retryDelay(timing: QueueTiming, attempts: number): number {
  const s = timing.retryScheduleMs;
  return s[Math.min(Math.max(attempts, 1), s.length) - 1]!;
}
