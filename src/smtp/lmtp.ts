// LMTP (RFC 2033), the parts that differ from SMTP: one reply per accepted recipient after the
// final dot (§4.2), in RCPT order, each saying what happened to that recipient's copy. The rest
// of LMTP lives with SMTP: LHLO instead of EHLO (session.ts), no AUTH, no STARTTLS, no relaying
// (only local recipients; the MTA in front decided), listener reachable only from loopback and
// My Networks (server.ts), no SPF/DKIM/DMARC (the MTA in front checked; inbound.ts).
import type { DeliveryResult } from '../delivery/deliver.js';
import type { AcceptedRecipient } from './session.js';
import { reply, type Reply } from './wire/reply.js';

/** The reply for one recipient's delivery outcome (RFC 3463 codes). */
export function deliveryReply(result: DeliveryResult): Reply {
  switch (result.status) {
    case 'delivered':
      return reply('250 2.0.0', `<${result.recipient}> delivered`);
    case 'over-quota':
      return reply('452 4.2.2', `<${result.recipient}> mailbox full`);
    case 'unknown':
      return reply('550 5.1.1', `<${result.recipient}> no such user here`);
    default:
      return reply('451 4.3.0', `<${result.recipient}> temporary failure, try again later`);
  }
}

/** RFC 2033 §4.2: one reply per accepted recipient, in RCPT order. */
export function lmtpReplies(recipients: AcceptedRecipient[], results: DeliveryResult[]): Reply[] {
  const byAddress = new Map(results.map((r) => [r.recipient.toLowerCase(), r]));
  return recipients.map((r) => {
    const res = byAddress.get(r.address.toLowerCase());
    return res ? deliveryReply(res) : reply('451 4.3.0', `<${r.address}> temporary failure, try again later`);
  });
}
