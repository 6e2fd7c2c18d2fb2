// Every bound the IMAP wire layer enforces, in one place (imapflow's limits.ts). The parser never
// buffers more than these allow; anything larger is refused with BAD / NO [TOOBIG] before the
// bytes are read (synchronising literals), or skipped without buffering (non-synchronising ones).

import type { Config } from '../../config/schema.js';

/** RFC 7888 §4: with LITERAL-, a non-synchronising literal may hold at most 4096 octets. */
export const LITERAL_MINUS_MAX = 4096;

export interface WireLimits {
  /** Longest line segment of a command (the text between CRLFs), bytes. Config.limits.max_line_length. */
  maxLineLength: number;
  /** Largest message literal in APPEND / CATENATE TEXT, bytes. Config.limits.max_message_size. */
  maxMessageSize: number;
  /** Largest literal anywhere else (passwords, search strings, metadata values), bytes. */
  maxLiteralSize: number;
  /** Largest whole command, lines and literals together (bounds a MULTIAPPEND), bytes. */
  maxCommandSize: number;
  /** Bytes of one command that are not message data: its lines and its other literals. */
  maxCommandText: number;
  /** Literals in one command (MULTIAPPEND messages, CATENATE parts, …). */
  maxLiterals: number;
  /**
   * Largest non-synchronising literal `{n+}` accepted: LITERAL_MINUS_MAX when the server
   * advertises LITERAL-, up to maxMessageSize with LITERAL+ (RFC 7888 §§3–4).
   */
  maxNonSyncLiteral: number;
  /** Nesting depth of parentheses and of NOT / OR search keys. */
  maxDepth: number;
  /** Elements of one list (flags, fetch items, sequence-set ranges, search keys, …). */
  maxItems: number;
}

const KB = 1024;
const MB = 1024 * KB;

export const DEFAULT_LIMITS: Readonly<WireLimits> = Object.freeze({
  maxLineLength: 64 * KB,
  maxMessageSize: 50 * MB,
  maxLiteralSize: 64 * KB,
  maxCommandSize: 100 * MB,
  maxCommandText: 1 * MB,
  maxLiterals: 1000,
  maxNonSyncLiteral: LITERAL_MINUS_MAX,
  maxDepth: 32,
  maxItems: 10_000,
});

/**
 * The wire limits for a server built from the config. A MULTIAPPEND may carry up to two
 * maximum-size messages; `overrides` replaces single values (tests, LITERAL+ servers).
 */
export function limitsFromConfig(config: Pick<Config, 'limits'>, overrides: Partial<WireLimits> = {}): WireLimits {
  const maxMessageSize = config.limits.max_message_size;
  const maxLineLength = config.limits.max_line_length;
  return {
    ...DEFAULT_LIMITS,
    maxLineLength,
    maxMessageSize,
    maxLiteralSize: Math.max(DEFAULT_LIMITS.maxLiteralSize, maxLineLength),
    maxCommandSize: 2 * maxMessageSize + MB,
    maxCommandText: Math.max(DEFAULT_LIMITS.maxCommandText, 4 * maxLineLength),
    ...overrides,
  };
}
