// Every bound the POP3 server applies, in one place (STYLE.md: "All size limits live in one
// limits.ts"). The command-line length itself comes from config.limits.max_line_length.
import { MAX_SASL_RESPONSE_LENGTH } from '../auth/sasl.js';

/** RFC 1939 §3: keywords are 3 or 4 characters. */
export const MAX_KEYWORD_LENGTH = 4;
/** RFC 1939 §3 allows 40-character arguments; user names and passwords get more room. */
export const MAX_ARGUMENT_LENGTH = 255;
/** RFC 5034 §4: an AUTH initial response (base64) may be longer than other arguments. */
export const MAX_INITIAL_RESPONSE_LENGTH = MAX_SASL_RESPONSE_LENGTH;
/** RFC 2449 §4 allows command lines of 255 octets; we accept at least this, and the config's
 * max_line_length (bounded) above it, so long SASL responses fit. */
export const MIN_LINE_LENGTH = 255;
/** Largest message number we parse (the session rejects numbers beyond its maildrop anyway). */
export const MAX_MESSAGE_NUMBER = 2 ** 31 - 1;
/** RFC 1939 §7 TOP: lines of body; anything larger means "all of it". */
export const MAX_TOP_LINES = 2 ** 31 - 1;
/** Bytes read from the blob store per range while streaming RETR/TOP. */
export const BLOB_CHUNK_BYTES = 256 * 1024;
/** getMessageMeta batch size when taking the maildrop snapshot. */
export const META_BATCH = 500;
/** RFC 1939 §3: the autologout timer is at least 10 minutes. */
export const DEFAULT_IDLE_TIMEOUT_MS = 10 * 60 * 1000;
/** STLS handshake must complete within this. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 30 * 1000;
/** Pipelined commands buffered before the listener stops reading from the socket. */
export const MAX_QUEUED_LINES = 64;
