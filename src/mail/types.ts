// What a message is parsed into, once, at delivery or APPEND (ARCHITECTURE: "FETCH of those items
// never re-parses"). The store keeps a MessageIndex beside each message as JSON; IMAP serves
// ENVELOPE, BODYSTRUCTURE and BODY[section] from it and the raw bytes.

/** An address as IMAP's ENVELOPE carries it (RFC 9051 §7.5.2). Group syntax: a start marker
 * { mailbox: groupName, host: null } and an end marker { mailbox: null, host: null }. */
export interface EnvelopeAddress {
  /** Display name, raw header text (RFC 2047 words left encoded, as IMAP wants). */
  name: string | null;
  adl: string | null;
  mailbox: string | null;
  host: string | null;
}

/** RFC 9051 §7.5.2 ENVELOPE; strings are the raw (unfolded, not decoded) header values. */
export interface Envelope {
  date: string | null;
  subject: string | null;
  from: EnvelopeAddress[] | null;
  sender: EnvelopeAddress[] | null;
  replyTo: EnvelopeAddress[] | null;
  to: EnvelopeAddress[] | null;
  cc: EnvelopeAddress[] | null;
  bcc: EnvelopeAddress[] | null;
  inReplyTo: string | null;
  messageId: string | null;
}

export type ParamList = Array<[string, string]>;

/** One MIME part, with its byte ranges in the raw message (offsets are into the whole message). */
export interface BodyPart {
  /** Lower-case media type and subtype ("text", "plain"); defaults per RFC 2045 when absent. */
  type: string;
  subtype: string;
  /** Content-Type parameters, names lower-cased, values decoded from RFC 2231 continuations. */
  params: ParamList;
  id: string | null;
  description: string | null;
  /** Content-Transfer-Encoding as given (upper-cased), "7BIT" when absent. */
  encoding: string;
  md5: string | null;
  disposition: { type: string; params: ParamList } | null;
  language: string[] | null;
  location: string | null;
  /** Byte offsets: [headerStart, bodyStart) is the MIME header (incl. the blank line), [bodyStart, bodyEnd) the body. */
  headerStart: number;
  bodyStart: number;
  bodyEnd: number;
  /** Lines of the body (text/* and message/rfc822 parts). */
  lines: number;
  /** multipart/*: the children (at least one; a broken multipart is served as text/plain). */
  parts?: BodyPart[];
  /** message/rfc822 (and message/global): the encapsulated message's envelope and root part. */
  message?: { envelope: Envelope; body: BodyPart };
}

/** Header fields SEARCH and SORT use, decoded to Unicode (RFC 2047, legacy charsets). */
export interface SearchFields {
  from: string;
  to: string;
  cc: string;
  bcc: string;
  subject: string;
  messageId: string;
  inReplyTo: string;
  references: string;
  /** The Date: header, ms since epoch, or null when missing or unparseable. */
  date: number | null;
}

export interface MessageIndex {
  /** Format version of this record; bump when the parser changes what it stores. */
  version: 1;
  size: number;
  envelope: Envelope;
  body: BodyPart;
  search: SearchFields;
}
