// ENVELOPE rendering (RFC 9051 §7.5.2 "ENVELOPE", §9 envelope ABNF) from the stored MessageIndex.
// NIL for an absent header, "" for a present but empty one (the parser records which). Address
// lists are written as the ABNF has them, "((…)(…))" with no space between addresses (wire-text.ts).
import type { Envelope, EnvelopeAddress } from '../../mail/types.js';
import type { ImapValue } from '../wire/types.js';
import { finish, run, type Wire } from './wire-text.js';

function address(a: EnvelopeAddress): Wire {
  // RFC 9051 §9 address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"; group
  // start is (NIL NIL "group" NIL), group end (NIL NIL NIL NIL) — the parser stores exactly that.
  return [a.name, a.adl, a.mailbox, a.host];
}

function addressList(list: EnvelopeAddress[] | null): Wire {
  // env-from etc. = "(" 1*address ")" / nil: an empty list is NIL.
  return list && list.length > 0 ? [run(list.map(address))] : null;
}

/** The envelope as a Wire structure (also nested in BODYSTRUCTURE of message/rfc822 parts). */
export function envelopeWire(env: Envelope): Wire {
  const from = addressList(env.from);
  // "If the Sender or Reply-To header lines are absent in the [RFC5322] header, or are present but
  // empty, the server sets the corresponding member of the envelope to be the same value as the
  // from member" (RFC 9051 §7.5.2).
  const sender = addressList(env.sender) ?? from;
  const replyTo = addressList(env.replyTo) ?? from;
  return [
    env.date,
    env.subject,
    from,
    sender,
    replyTo,
    addressList(env.to),
    addressList(env.cc),
    addressList(env.bcc),
    env.inReplyTo,
    env.messageId,
  ];
}

/** RFC 9051 §7.5.2: (date subject from sender reply-to to cc bcc in-reply-to message-id). */
export function renderEnvelope(env: Envelope): ImapValue {
  return finish(envelopeWire(env));
}
