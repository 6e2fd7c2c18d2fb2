// SASL for IMAP AUTHENTICATE (RFC 9051 §6.2.2), SMTP AUTH (RFC 4954) and POP3 AUTH (RFC 5034):
// strict base64, the PLAIN mechanism (RFC 4616) and the LOGIN mechanism
// (draft-murchison-sasl-login: prompts "Username:" / "Password:").
//
// The protocol layer owns the wire: it sends a challenge as `+ <b64>` (IMAP, POP3) or
// `334 <b64>` (SMTP), hands each client line to SaslExchange.respond(), and maps the outcome.
// Invariants: every decoded field is bounded (RFC 4616 §2: 255 octets each, we allow
// MAX_SASL_FIELD_BYTES), malformed input yields a 'fail' step, never a throw; the password is
// never part of an error message.

/** Longest base64 client response accepted (characters). */
export const MAX_SASL_RESPONSE_LENGTH = 4096;
/** Longest authzid / authcid / password (UTF-8 bytes). RFC 4616 §2 says 255; be a little generous. */
export const MAX_SASL_FIELD_BYTES = 1024;

/** "Username:" and "Password:" in base64: the LOGIN mechanism's prompts. */
export const LOGIN_USERNAME_CHALLENGE = 'VXNlcm5hbWU6';
export const LOGIN_PASSWORD_CHALLENGE = 'UGFzc3dvcmQ6';

export type SaslMechanism = 'PLAIN' | 'LOGIN';
export const SASL_MECHANISMS: readonly SaslMechanism[] = ['PLAIN', 'LOGIN'];

export interface PlainCredentials {
  authzid: string;
  authcid: string;
  password: string;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Strict base64 (RFC 4648 §4: padded, no whitespace, canonical). A lone "=" is the empty initial
 * response (RFC 4954 §4, RFC 9051 §6.2.2). Returns null when invalid or longer than maxLength.
 */
export function decodeBase64Strict(text: string, options: { maxLength?: number } = {}): Buffer | null {
  const max = options.maxLength ?? MAX_SASL_RESPONSE_LENGTH;
  if (typeof text !== 'string' || text.length > max) return null;
  if (text === '=') return Buffer.alloc(0);
  if (!BASE64.test(text)) return null;
  const buf = Buffer.from(text, 'base64');
  // Non-zero unused bits in the last quantum make the encoding non-canonical.
  return buf.toString('base64') === text ? buf : null;
}

export function encodeBase64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

function decodeUtf8(bytes: Buffer): string | null {
  if (bytes.length > MAX_SASL_FIELD_BYTES) return null;
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * PLAIN (RFC 4616 §2): base64 of `[authzid] NUL authcid NUL passwd`, UTF-8. Refused (null) when
 * malformed, when authcid or password is empty, or when authzid is neither empty nor equal to
 * authcid (we do not let one user act as another).
 */
export function decodePlain(base64: string): PlainCredentials | null {
  const bytes = decodeBase64Strict(base64);
  if (!bytes) return null;
  const first = bytes.indexOf(0);
  if (first < 0) return null;
  const second = bytes.indexOf(0, first + 1);
  if (second < 0 || bytes.indexOf(0, second + 1) >= 0) return null;
  const authzid = decodeUtf8(bytes.subarray(0, first));
  const authcid = decodeUtf8(bytes.subarray(first + 1, second));
  const password = decodeUtf8(bytes.subarray(second + 1));
  if (authzid === null || authcid === null || password === null) return null;
  if (authcid === '' || password === '') return null;
  if (authzid !== '' && authzid !== authcid) return null;
  return { authzid, authcid, password };
}

/** What the protocol does next. */
export type SaslStep =
  /** Send this base64 challenge ('' = empty challenge: IMAP "+ ", SMTP "334 "). */
  | { kind: 'challenge'; challenge: string }
  /** Credentials to hand to Authenticator.authenticate(). */
  | { kind: 'done'; username: string; password: string }
  /** 'cancelled': the client sent "*" (IMAP BAD, SMTP 501, POP3 -ERR); 'malformed': bad base64 or fields. */
  | { kind: 'fail'; reason: 'cancelled' | 'malformed' };

/** The mechanism `name` names (any case), or null when we do not offer it. */
export function parseSaslMechanism(name: string): SaslMechanism | null {
  const upper = name.toUpperCase();
  return SASL_MECHANISMS.find((m) => m === upper) ?? null;
}

/** Whether `name` (any case) is a mechanism we offer. */
export function isSaslMechanism(name: string): boolean {
  return parseSaslMechanism(name) !== null;
}

/**
 * One SASL exchange. `begin(initialResponse)` gives the first step; each client line goes to
 * `respond(line)`. After 'done' or 'fail' the exchange is over (further calls fail).
 */
export class SaslExchange {
  readonly mechanism: SaslMechanism;
  #state: 'new' | 'plain' | 'login-user' | 'login-pass' | 'over' = 'new';
  #username = '';

  constructor(mechanism: SaslMechanism) {
    this.mechanism = mechanism;
  }

  /** Start; `initialResponse` is the SASL-IR / AUTH argument if the client sent one. */
  begin(initialResponse?: string): SaslStep {
    if (this.#state !== 'new') return this.#fail('malformed');
    if (this.mechanism === 'PLAIN') {
      this.#state = 'plain';
      return initialResponse === undefined ? { kind: 'challenge', challenge: '' } : this.respond(initialResponse);
    }
    this.#state = 'login-user';
    return initialResponse === undefined ? { kind: 'challenge', challenge: LOGIN_USERNAME_CHALLENGE } : this.respond(initialResponse);
  }

  respond(line: string): SaslStep {
    const text = line.trim();
    if (text === '*') return this.#fail('cancelled');
    switch (this.#state) {
      case 'plain': {
        const creds = decodePlain(text);
        if (!creds) return this.#fail('malformed');
        this.#state = 'over';
        return { kind: 'done', username: creds.authcid, password: creds.password };
      }
      case 'login-user': {
        const name = this.#field(text);
        if (name === null || name === '') return this.#fail('malformed');
        this.#username = name;
        this.#state = 'login-pass';
        return { kind: 'challenge', challenge: LOGIN_PASSWORD_CHALLENGE };
      }
      case 'login-pass': {
        const password = this.#field(text);
        if (password === null || password === '') return this.#fail('malformed');
        this.#state = 'over';
        return { kind: 'done', username: this.#username, password };
      }
      default:
        return this.#fail('malformed');
    }
  }

  #field(text: string): string | null {
    const bytes = decodeBase64Strict(text);
    if (!bytes || bytes.includes(0)) return null;
    return decodeUtf8(bytes);
  }

  #fail(reason: 'cancelled' | 'malformed'): SaslStep {
    this.#state = 'over';
    this.#username = '';
    return { kind: 'fail', reason };
  }
}
