// Every bound the SMTP layer applies, in one place. Values that operators tune come from
// config.limits; the rest are protocol limits (RFC 5321 §4.5.3.1) or defences.

/** RFC 5321 §4.5.3.1.1: local part at most 64 octets. */
export const MAX_LOCAL_PART = 64;
/** RFC 5321 §4.5.3.1.2: domain at most 255 octets. */
export const MAX_DOMAIN = 255;
/** RFC 5321 §4.5.3.1.3: a path, with its angle brackets, at most 256 octets. */
export const MAX_PATH = 256;
/** A SASL response line (RFC 4954 §4: 12288 octets is the usual bound). */
export const MAX_AUTH_LINE = 12_288;
/** ENVID (RFC 3461 §4.4: 100 characters) and ORCPT (§4.2: 500 characters). */
export const MAX_ENVID = 100;
export const MAX_ORCPT = 500;
/** ESMTP parameters per MAIL or RCPT command. */
export const MAX_PARAMS = 16;
/** Bytes a client may pipeline ahead of our replies before we stop reading its socket. */
export const MAX_PIPELINED_BYTES = 256 * 1024;
/** TLS handshake bound. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 30_000;
/** RFC 5321 §4.5.3.2.7: the server timeout is at least 5 minutes. */
export const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000;
/** After we close, a peer that does not close its side within this is cut off. */
export const CLOSE_GRACE_MS = 5_000;
/** Failed AUTH attempts in one session before it ends (besides the shared throttling). */
export const MAX_AUTH_FAILURES = 3;

export interface SmtpLimits {
  maxMessageSize: number;
  maxLineLength: number;
  maxRecipients: number;
  maxBadCommands: number;
  maxCommandsBeforeMail: number;
  maxConnectionsPerAddress: number;
  idleTimeoutMs: number;
}
