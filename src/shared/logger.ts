// Structured logging: one JSON object per line (pino). Passwords never reach a log call;
// `redact` removes the usual credential keys in case one slips into an object.
import { pino, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export interface LoggerOptions {
  level?: string;
  /** Write to this file descriptor instead of stdout (2 = stderr). */
  fd?: number;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env['PIGEON_LOG_LEVEL'] ?? 'info',
      base: { service: 'pigeon' },
      redact: { paths: ['password', '*.password', 'pass', '*.pass', 'secret', '*.secret'], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: options.fd ?? 1, sync: false }),
  );
}

/** A logger that drops everything (tests, CLI one-shots). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
