// The SMTP client of the queue: one connection to one host (nodemailer's SMTPConnection), several
// transactions over it, and an outcome per recipient (RFC 5321 §3.3: each RCPT is answered on
// its own; §4.2.5: the reply to the final dot covers every accepted recipient).
//
// TLS: STARTTLS whenever the server offers it (RFC 3207), opportunistic for MX hosts (certificate
// not verified unless configured, plaintext kept if the server refuses STARTTLS); a relay host
// can require STARTTLS, use implicit TLS (RFC 8314) or none, with optional AUTH.
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import type { NodemailerError } from 'nodemailer/lib/errors';
import { errorMessage } from '../shared/errors.js';

export interface SmtpTarget {
  /** IP address (or host name) to connect to. */
  host: string;
  port: number;
  /** Name for SNI and certificate checks (the MX or relay host name). */
  servername: string;
  /** 'opportunistic': STARTTLS when offered; 'starttls': required; 'tls': implicit TLS; 'none'. */
  tls: 'opportunistic' | 'starttls' | 'tls' | 'none';
  verifyCertificate: boolean;
  auth?: { user: string; pass: string };
  /** Our EHLO name. */
  ehloName: string;
  connectTimeoutMs: number;
}

export interface SmtpTransaction {
  /** "" for the null sender. */
  sender: string;
  recipients: Array<{ address: string; notify: string[]; orcpt: string | null }>;
  envid: string | null;
  ret: 'FULL' | 'HDRS' | null;
  raw: Buffer;
}

export interface RecipientResult {
  address: string;
  /** 2: accepted, 4: try again, 5: refused for good. */
  outcome: 2 | 4 | 5;
  /** The server's reply (or our description of a network error). */
  reply: string;
  /** Enhanced status code (RFC 3463). */
  status: string;
}

export interface TransactionResult {
  recipients: RecipientResult[];
  /** The server announced DSN (RFC 3461), so it will report on NOTIFY=SUCCESS itself. */
  serverDsn: boolean;
}

/** An open client connection. */
export interface SmtpSession {
  send(tx: SmtpTransaction): Promise<TransactionResult>;
  /** True while more transactions may go over it. */
  readonly usable: boolean;
  close(): void;
}

export type Connector = (target: SmtpTarget) => Promise<SmtpSession>;

/** Longest reply text kept. */
const maxReply = 500;

/** RFC 3461 §4: xtext-decode ("+2B" → "+"). */
export function decodeXtext(text: string): string {
  return text.replace(/\+([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** Enhanced status code from a reply ("550 5.1.1 …"), else derived from the basic code. */
export function enhancedStatus(reply: string, fallbackClass: 4 | 5): string {
  const m = /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply);
  if (m) return m[1]!;
  const code = /^([245])\d\d/.exec(reply);
  return `${code ? code[1] : fallbackClass}.0.0`;
}

function replyClass(code: number | undefined, reply: string): 4 | 5 {
  // 503 is a sequence error (our side or pipelining trouble): worth another try.
  const c = code ?? Number(reply.slice(0, 3));
  return c >= 500 && c !== 503 ? 5 : 4;
}

function replyText(err: NodemailerError): string {
  return (err.response ?? `${err.code ?? 'ERROR'} ${err.message}`).replace(/[\r\n]+/g, ' ').slice(0, maxReply);
}

/** Network and protocol errors that end the connection (as opposed to an SMTP reply). */
function isConnectionError(err: NodemailerError): boolean {
  return err.responseCode === undefined && err.code !== 'EENVELOPE' && err.code !== 'EMESSAGE';
}

class NodemailerSession implements SmtpSession {
  #conn: SMTPConnection;
  #broken = false;
  /** Ends the transaction in flight when the connection goes away without answering it. */
  #abort: ((reason: string) => void) | undefined;

  constructor(conn: SMTPConnection) {
    this.#conn = conn;
    conn.on('error', (err) => this.#lost(`connection error: ${errorMessage(err)}`));
    conn.on('end', () => this.#lost('connection closed by the server'));
  }

  #lost(reason: string): void {
    this.#broken = true;
    // nodemailer reports a reply that came with the close (421) itself: give it the first word.
    setImmediate(() => this.#abort?.(reason));
  }

  get usable(): boolean {
    return !this.#broken;
  }

  send(tx: SmtpTransaction): Promise<TransactionResult> {
    // nodemailer sends one NOTIFY/ORCPT for the whole envelope: the caller groups recipients with
    // equal DSN parameters (see groupByDsn).
    const first = tx.recipients[0]!;
    const notify = first.notify.filter((n): n is 'NEVER' | 'SUCCESS' | 'FAILURE' | 'DELAY' => ['NEVER', 'SUCCESS', 'FAILURE', 'DELAY'].includes(n));
    const dsn = {
      ...(tx.ret ? { ret: tx.ret } : {}),
      ...(tx.envid ? { envid: decodeXtext(tx.envid) } : {}),
      ...(notify.length > 0 ? { notify } : {}),
      ...(first.orcpt && tx.recipients.length === 1 ? { orcpt: decodeXtext(first.orcpt) } : {}),
    };
    const envelope = {
      from: tx.sender,
      to: tx.recipients.map((r) => r.address),
      size: tx.raw.length,
      use8BitMime: tx.raw.some((b) => b > 0x7f),
      ...(Object.keys(dsn).length > 0 ? { dsn } : {}),
    };
    return new Promise<TransactionResult>((done) => {
      let settled = false;
      const resolve = (r: TransactionResult) => {
        if (settled) return;
        settled = true;
        this.#abort = undefined;
        done(r);
      };
      this.#abort = (reason) => resolve(all(4, reason));
      const all = (outcome: 4 | 5, reply: string): TransactionResult => ({
        recipients: tx.recipients.map((r) => ({ address: r.address, outcome, reply, status: enhancedStatus(reply, outcome) })),
        serverDsn: false,
      });
      this.#conn.send(envelope, tx.raw, (err, info) => {
        if (err) {
          const e = err as NodemailerError;
          if (isConnectionError(e)) {
            this.#broken = true;
            return resolve(all(4, replyText(e)));
          }
          // MAIL FROM refused, all RCPTs refused, or the message refused after DATA.
          if (e.rejectedErrors && e.rejectedErrors.length > 0 && e.command === 'RCPT TO') {
            const byAddress = new Map(e.rejectedErrors.map((r) => [r.recipient ?? '', r]));
            return resolve({
              serverDsn: false,
              recipients: tx.recipients.map((r) => {
                const re = byAddress.get(r.address);
                const reply = re ? replyText(re) : replyText(e);
                const outcome = replyClass(re?.responseCode ?? e.responseCode, reply);
                return { address: r.address, outcome, reply, status: enhancedStatus(reply, outcome) };
              }),
            });
          }
          const reply = replyText(e);
          return resolve(all(replyClass(e.responseCode, reply), reply));
        }
        const rejected = new Map((info.rejectedErrors ?? []).map((r) => [r.recipient ?? '', r]));
        const finalReply = (info.response ?? '250 OK').replace(/[\r\n]+/g, ' ').slice(0, maxReply);
        resolve({
          serverDsn: (info.ehlo ?? []).some((l) => /^DSN\b/i.test(l)),
          recipients: tx.recipients.map((r) => {
            const re = rejected.get(r.address);
            if (!re) return { address: r.address, outcome: 2, reply: finalReply, status: enhancedStatus(finalReply, 4).replace(/^[45]/, '2') };
            const reply = replyText(re);
            const outcome = replyClass(re.responseCode, reply);
            return { address: r.address, outcome, reply, status: enhancedStatus(reply, outcome) };
          }),
        });
      });
    });
  }

  close(): void {
    this.#lost('connection closed by us (shutting down)');
    try {
      this.#conn.quit();
    } catch {
      this.#conn.close();
    }
    // QUIT is polite; do not wait long for its answer.
    setTimeout(() => this.#conn.close(), 1000).unref();
  }
}

/** The default connector: nodemailer's SMTPConnection. Rejects with the error text when the host cannot be reached or refuses us. */
export const connectSmtp: Connector = (target) => {
  const conn = new SMTPConnection({
    host: target.host,
    port: target.port,
    name: target.ehloName,
    servername: target.servername,
    secure: target.tls === 'tls',
    requireTLS: target.tls === 'starttls',
    ignoreTLS: target.tls === 'none',
    opportunisticTLS: target.tls === 'opportunistic',
    connectionTimeout: target.connectTimeoutMs,
    greetingTimeout: target.connectTimeoutMs,
    // RFC 5321 §4.5.3.2: the longest server wait is 10 minutes (after the final dot).
    socketTimeout: 10 * 60_000,
    allowInternalNetworkInterfaces: true,
    logger: false,
    tls: { rejectUnauthorized: target.verifyCertificate, servername: target.servername },
  });
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      conn.close();
      const e = err as NodemailerError;
      reject(new SmtpConnectError(e.response ? replyText(e) : `${target.servername}[${target.host}]:${target.port}: ${errorMessage(err)}`, e.responseCode));
    };
    conn.once('error', fail);
    conn.connect((err) => {
      if (err) return fail(err);
      const done = () => {
        if (settled) return;
        settled = true;
        conn.removeListener('error', fail);
        resolve(new NodemailerSession(conn));
      };
      if (!target.auth) return done();
      conn.login({ user: target.auth.user, pass: target.auth.pass }, (loginErr) => (loginErr ? fail(loginErr) : done()));
    });
  });
};

/** A connection that failed before any transaction: a refusal (with its reply code) or a network error. */
export class SmtpConnectError extends Error {
  override name = 'SmtpConnectError';
  readonly responseCode: number | undefined;
  constructor(message: string, responseCode?: number) {
    super(message);
    this.responseCode = responseCode;
  }
}

/** Recipients with equal NOTIFY/ORCPT travel in one transaction (nodemailer takes one set per envelope). */
export function groupByDsn<R extends { notify: string[]; orcpt: string | null }>(recipients: R[]): R[][] {
  const groups = new Map<string, R[]>();
  for (const r of recipients) {
    const key = r.orcpt ? `\0${groups.size}` : r.notify.join(',');
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(r);
  }
  return [...groups.values()];
}
