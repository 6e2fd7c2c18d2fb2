// Hand-off of a complete message: stamp the trace fields, check SPF/DKIM/DMARC, then deliver to
// local mailboxes (delivery/) and queue for remote recipients (store.enqueueMessage). Both are
// durable when their promises resolve, so the reply (250, or LMTP's per-recipient replies) is
// only given after the message is safe (ARCHITECTURE.md "Durability").
//
// Trace fields (RFC 5321 §4.4): Received on every message; Return-Path only at final delivery.
// Authentication-Results (RFC 8601): SPF (RFC 7208), DKIM (RFC 6376) and DMARC (RFC 7489) by
// mailauth for mail from outside; "auth=pass" for authenticated submission. Fields claiming our
// own authserv-id that arrive from outside are removed first (RFC 8601 §5).
import { randomText } from '../shared/random.js';
import { authenticate as mailauthAuthenticate, type DNSResolver } from 'mailauth';
import type { Store } from '../store/store.js';
import { deliverMessage, type DeliveryResult } from '../delivery/deliver.js';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { Envelope } from './session.js';
import { reply, type Reply } from './wire/reply.js';
import { CommitPacer } from './commit-pacer.js';
import { lmtpReplies } from './lmtp.js';
import { fileSentCopy } from '../queue/sent-copy.js';

export type { DNSResolver };

export interface InboundOptions {
  store: Store;
  hostname: string;
  logger: Logger;
  /** DNS resolver for mailauth (tests pass an offline one). */
  resolver?: DNSResolver;
  now?: () => number;
  /** Batches the durable hand-offs of concurrent sessions (default: a new CommitPacer; null: none). */
  pacer?: CommitPacer | null;
  /** Called after mail was put on the outbound queue (wakes the queue worker). */
  onQueued?: () => void;
}

/** A short id for logs and the Received header. */
export function messageId(): string {
  return randomText(8, 'hex').toUpperCase();
}

/** RFC 5322 §3.3 date-time in UTC: "Mon, 23 Nov 2026 15:50:00 +0000". */
export function rfc5322Date(ms: number): string {
  const d = new Date(ms);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** RFC 3848 / RFC 6531 §3.7.3 "with" protocol name. */
export function withProtocol(envelope: Envelope): string {
  const base = envelope.kind === 'lmtp' ? 'LMTP' : envelope.params.smtputf8 ? 'UTF8SMTP' : envelope.esmtp ? 'ESMTP' : 'SMTP';
  const suffix = `${envelope.tls ? 'S' : ''}${envelope.account ? 'A' : ''}`;
  return base === 'SMTP' && suffix === '' ? 'SMTP' : base === 'SMTP' ? `ESMTP${suffix}` : `${base}${suffix}`;
}

/** Keep header text safe: printable, bounded. */
function safe(text: string, max = 255): string {
  return text.replace(/[^\x21-\x7e\u0080-\u{10FFFF}]/gu, '?').slice(0, max);
}

/** The Received field (RFC 5321 §4.4, RFC 5322 §3.6.7), folded. */
export function receivedField(envelope: Envelope, options: { hostname: string; id: string; date: number }): string {
  const ip = envelope.remoteAddress.includes(':') ? `IPv6:${envelope.remoteAddress}` : envelope.remoteAddress;
  let f = `Received: from ${safe(envelope.helo) || 'unknown'} ([${ip}])\r\n\tby ${options.hostname} (Pigeon) with ${withProtocol(envelope)} id ${options.id}`;
  if (envelope.tls) f += `\r\n\t(using ${safe(envelope.tls.protocol, 20)} with cipher ${safe(envelope.tls.cipher, 80)})`;
  // The "for" clause only for a single recipient, so Bcc recipients stay private.
  if (envelope.recipients.length === 1) f += `\r\n\tfor <${safe(envelope.recipients[0]!.original, 320)}>`;
  return `${f};\r\n\t${rfc5322Date(options.date)}\r\n`;
}

const NAME_RE = /^authentication-results[ \t]*:/i;

/**
 * Remove Authentication-Results fields whose authserv-id is ours (RFC 8601 §5): a sender must not
 * be able to forge our verdicts. Only the header section is scanned; the body is untouched.
 */
export function stripOwnAuthResults(message: Buffer, hostname: string): Buffer {
  let end = message.indexOf('\r\n\r\n');
  end = end < 0 ? message.length : end + 2;
  const header = message.subarray(0, end).toString('latin1');
  if (!/^authentication-results[ \t]*:/im.test(header)) return message;
  const lines = header.split(/(?<=\r\n)/);
  const kept: string[] = [];
  let dropping = false;
  const id = hostname.toLowerCase();
  for (const l of lines) {
    if (/^[ \t]/.test(l)) {
      if (!dropping) kept.push(l);
      continue;
    }
    dropping = false;
    if (NAME_RE.test(l)) {
      const value = l.slice(l.indexOf(':') + 1).trim().toLowerCase();
      const authserv = value.split(/[;\s(]/)[0] ?? '';
      if (authserv === id) {
        dropping = true;
        continue;
      }
    }
    kept.push(l);
  }
  return Buffer.concat([Buffer.from(kept.join(''), 'latin1'), message.subarray(end)]);
}

/** SPF, DKIM and DMARC for a message from outside; the fields to prepend (Received-SPF, Authentication-Results). */
async function checkAuthentication(envelope: Envelope, message: Buffer, options: InboundOptions): Promise<string> {
  if (envelope.account) return `Authentication-Results: ${options.hostname};\r\n\tauth=pass smtp.auth=${safe(envelope.account.email, 320)}\r\n`;
  try {
    const result = await mailauthAuthenticate(message, {
      ip: envelope.remoteAddress,
      helo: envelope.helo,
      sender: envelope.sender,
      mta: options.hostname,
      disableArc: true,
      disableBimi: true,
      ...(options.resolver ? { resolver: options.resolver } : {}),
    });
    return result.headers;
  } catch (err) {
    options.logger.warn({ err: errorMessage(err) }, 'smtp: SPF/DKIM/DMARC check failed');
    return `Authentication-Results: ${options.hostname};\r\n\tspf=temperror;\r\n\tdkim=temperror\r\n`;
  }
}

/** Build the `accept` function of SessionServices. */
export function createAcceptor(options: InboundOptions): (envelope: Envelope, message: Buffer) => Promise<Reply[]> {
  const { store, logger } = options;
  const now = options.now ?? Date.now;
  const pacer = options.pacer === undefined ? new CommitPacer() : options.pacer;
  const paced = <T>(fn: () => Promise<T>): Promise<T> => (pacer ? pacer.run(fn) : fn());
  return async (envelope, message) => {
    const id = messageId();
    const date = now();
    const received = receivedField(envelope, { hostname: options.hostname, id, date });
    const local = envelope.recipients.filter((r) => r.kind === 'local');
    const remote = envelope.recipients.filter((r) => r.kind === 'remote');
    const lmtp = envelope.kind === 'lmtp';
    try {
      const body = envelope.account ? message : stripOwnAuthResults(message, options.hostname);
      let results: DeliveryResult[] = [];
      if (local.length > 0) {
        // LMTP: the MTA in front checked authentication already.
        const authResults = lmtp ? '' : await checkAuthentication(envelope, body, options);
        const returnPath = `Return-Path: <${safe(envelope.sender, 320)}>\r\n`;
        const raw = Buffer.concat([Buffer.from(returnPath + received + authResults, 'utf8'), body]);
        results = await paced(() => deliverMessage(store, { raw, recipients: local.map((r) => r.address), internalDate: date }));
      }
      // Remote recipients, and alias targets outside our domains (forwarding).
      const queued = remote.map((r) => ({ address: r.address, notify: r.params.notify, orcpt: r.params.orcpt }));
      for (const res of results) {
        const params = local.find((l) => l.address === res.recipient)?.params;
        for (const target of res.remote) {
          if (!queued.some((q) => q.address.toLowerCase() === target.toLowerCase())) queued.push({ address: target, notify: params?.notify ?? [], orcpt: null });
        }
      }
      if (queued.length > 0) {
        await paced(() => store.enqueueMessage({
          sender: envelope.sender,
          recipients: queued,
          raw: Buffer.concat([Buffer.from(received, 'utf8'), body]),
          dsnRet: envelope.params.ret,
          dsnEnvid: envelope.params.envid,
          accountId: envelope.account?.id ?? null,
          // Ours to DKIM-sign: authenticated submission and My Networks clients (printers, web
          // apps); not mail from outside that an alias forwards.
          dkimSign: envelope.account !== null || envelope.trustedNetwork,
        }));
        options.onQueued?.();
      }
      const failed = results.filter((r) => r.status !== 'delivered');
      logger.info(
        { id, from: envelope.sender, local: local.length, remote: queued.length, failed: failed.map((f) => `${f.recipient}:${f.status}`), size: message.length, client: envelope.remoteAddress },
        'smtp: message accepted',
      );
      if (lmtp) return lmtpReplies(local, results);
      if (queued.length === 0 && failed.length === results.length && results.length > 0) {
        // Nothing was delivered: say why with the first failure (retryable unless all unknown).
        const overQuota = failed.every((f) => f.status === 'over-quota');
        return [overQuota ? reply('452 4.2.2', 'Mailbox full, try again later') : reply('451 4.3.0', 'Temporary failure, try again later')];
      }
      if (envelope.account) {
        // Server-side Sent copy (queue/sent-copy.ts), when the account asked for it; never fails the submission.
        await fileSentCopy(store, { accountId: envelope.account.id, raw: body }).catch((err: unknown) => logger.warn({ id, err: errorMessage(err) }, 'smtp: Sent copy failed'));
      }
      // TODO(issue 5): bounce partial failures through the outbound queue.
      return [reply('250 2.0.0', `OK: queued as ${id}`)];
    } catch (err) {
      logger.error({ id, err: errorMessage(err), stack: err instanceof Error ? err.stack : undefined }, 'smtp: delivery failed');
      const r = reply('451 4.3.0', 'Temporary failure, try again later');
      return lmtp ? local.map(() => r) : [r];
    }
  };
}
