// Delivery status notifications (RFC 3464) as multipart/report (RFC 6522): a human-readable
// part, the machine-readable message/delivery-status part (per-message fields §2.2, one block of
// per-recipient fields §2.3 each) and the returned message (RFC 3461 §4.3 RET: FULL → the whole
// message as message/rfc822, HDRS → text/rfc822-headers).
import { randomBytes } from 'node:crypto';
import type { DsnAction, QueuedMessageInfo } from '../store/queue-store.js';
import { decodeXtext } from './client.js';

export interface DsnRecipient {
  address: string;
  /** ORCPT as given ("rfc822;user+2Bx@example.com", xtext). */
  orcpt: string | null;
  action: DsnAction;
  /** RFC 3463 status, e.g. "5.1.1". */
  status: string;
  /** The remote server's reply, or our own diagnosis. */
  diagnostic: string | null;
  remoteMta: string | null;
  lastAttempt: number | null;
  /** For 'delayed': when the queue gives up. */
  willRetryUntil: number | null;
}

export interface DsnInput {
  /** Our host name (Reporting-MTA, From: MAILER-DAEMON@…). */
  hostname: string;
  message: QueuedMessageInfo;
  raw: Buffer;
  recipients: DsnRecipient[];
  now: number;
}

/** Largest returned message with RET unset; beyond it only the header is returned. */
export const maxReturnedMessage = 1024 * 1024;

const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** RFC 5322 §3.3 date-time in UTC. */
export function mailDate(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]}, ${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`;
}

/** Header-safe, bounded text (no CR/LF, printable). */
function clean(text: string, max = 900): string {
  return text.replace(/[\r\n\t]+/g, ' ').replace(/[^\x20-\x7e]/g, '?').slice(0, max);
}

/** The header block of a message (up to and including the blank line). */
function headerOf(raw: Buffer): Buffer {
  const end = raw.indexOf('\r\n\r\n');
  return end < 0 ? Buffer.concat([raw, Buffer.from('\r\n')]) : raw.subarray(0, end + 4);
}

function subjectFor(recipients: DsnRecipient[]): string {
  if (recipients.some((r) => r.action === 'failed')) return 'Undelivered Mail Returned to Sender';
  if (recipients.some((r) => r.action === 'delayed')) return 'Delayed Mail (still being retried)';
  return 'Successful Mail Delivery Report';
}

function explain(r: DsnRecipient): string {
  const why = r.diagnostic ? `\r\n    ${clean(r.diagnostic, 500)}` : '';
  switch (r.action) {
    case 'failed':
      return `<${r.address}>: could not be delivered.${why}`;
    case 'delayed':
      return `<${r.address}>: not delivered yet; still trying until ${r.willRetryUntil ? mailDate(r.willRetryUntil) : 'the queue gives up'}.${why}`;
    case 'relayed':
      return `<${r.address}>: relayed to a server that does not send delivery notifications.`;
    default:
      return `<${r.address}>: delivered.`;
  }
}

/** Per-recipient fields (RFC 3464 §2.3). */
function recipientFields(r: DsnRecipient): string[] {
  const lines: string[] = [];
  if (r.orcpt) {
    const semi = r.orcpt.indexOf(';');
    if (semi > 0) lines.push(`Original-Recipient: ${clean(r.orcpt.slice(0, semi))};${clean(decodeXtext(r.orcpt.slice(semi + 1)), 500)}`);
  }
  lines.push(`Final-Recipient: rfc822;${clean(r.address, 500)}`, `Action: ${r.action}`, `Status: ${r.status}`);
  if (r.remoteMta) lines.push(`Remote-MTA: dns;${clean(r.remoteMta, 255)}`);
  // §2.3.6: "smtp" for a server's reply, our own type for a diagnosis of ours (DNS, network).
  if (r.diagnostic) lines.push(`Diagnostic-Code: ${/^\d{3}[ -]/.test(r.diagnostic) ? 'smtp' : 'X-Pigeon'};${clean(r.diagnostic, 500)}`);
  if (r.lastAttempt) lines.push(`Last-Attempt-Date: ${mailDate(r.lastAttempt)}`);
  if (r.action === 'delayed' && r.willRetryUntil) lines.push(`Will-Retry-Until: ${mailDate(r.willRetryUntil)}`);
  return lines;
}

/** The DSN message to send to `message.sender` (which must not be the null sender). */
export function buildDsn(input: DsnInput): Buffer {
  const { hostname, message, recipients, now } = input;
  const boundary = `=_pigeon_dsn_${randomBytes(12).toString('hex')}`;
  const failed = recipients.some((r) => r.action === 'failed');
  // RET=HDRS → headers; RET=FULL → the message; unset → the message for a failure (if not huge).
  const full = message.dsnRet === 'FULL' || (message.dsnRet === null && failed && input.raw.length <= maxReturnedMessage);
  const human = [
    `This is the mail system at ${clean(hostname, 255)}.`,
    '',
    failed ? 'Your message could not be delivered to one or more recipients.' : recipients.some((r) => r.action === 'delayed')
      ? 'Delivery of your message has been delayed. No action is needed; the mail system will keep trying.'
      : 'This is a delivery report for your message.',
    '',
    ...recipients.map(explain),
    '',
  ].join('\r\n');
  const perMessage = [`Reporting-MTA: dns;${clean(hostname, 255)}`];
  if (message.dsnEnvid) perMessage.push(`Original-Envelope-Id: ${clean(decodeXtext(message.dsnEnvid), 100)}`);
  perMessage.push(`Arrival-Date: ${mailDate(message.createdAt)}`);
  const status = [perMessage.join('\r\n'), ...recipients.map((r) => recipientFields(r).join('\r\n'))].join('\r\n\r\n') + '\r\n';
  const head = [
    `From: Mail Delivery System <MAILER-DAEMON@${clean(hostname, 255)}>`,
    `To: <${clean(message.sender, 500)}>`,
    `Subject: ${subjectFor(recipients)}`,
    `Date: ${mailDate(now)}`,
    `Message-ID: <${randomBytes(12).toString('hex')}@${clean(hostname, 255)}>`,
    // RFC 3834 §5: automatic replies must not be answered automatically.
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="${boundary}"`,
    '',
    'This is a MIME-encapsulated message.',
    '',
  ].join('\r\n');
  const returned = full ? input.raw : headerOf(input.raw);
  return Buffer.concat([
    Buffer.from(
      `${head}\r\n--${boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Description: Notification\r\n\r\n${human}\r\n` +
        `--${boundary}\r\nContent-Type: message/delivery-status\r\nContent-Description: Delivery report\r\n\r\n${status}\r\n` +
        `--${boundary}\r\nContent-Type: ${full ? 'message/rfc822' : 'text/rfc822-headers'}\r\nContent-Description: ${full ? 'Undelivered message' : 'Message headers'}\r\n` +
        `${returned.some((b) => b > 0x7f) ? 'Content-Transfer-Encoding: 8bit\r\n' : ''}\r\n`,
      'latin1',
    ),
    returned,
    Buffer.from(`${returned.subarray(-2).toString('latin1') === '\r\n' ? '' : '\r\n'}--${boundary}--\r\n`, 'latin1'),
  ]);
}
