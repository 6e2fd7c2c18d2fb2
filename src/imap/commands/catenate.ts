// CATENATE (RFC 4469 §5): an APPEND message built from TEXT literals and IMAP URLs (RFC 5092)
// naming messages or parts the session's user can read, relative (`/INBOX;UIDVALIDITY=…/;UID=…`)
// or absolute for the same user. A URL that does not parse, names another user, a mailbox whose
// UIDVALIDITY differs, a missing message or an empty section answers NO [BADURL url] (§6); a result
// over limits.max_message_size answers NO [TOOBIG] (§6), checked as parts are added (bounded).
import { Refused } from '../../shared/errors.js';
import type { CatenatePart, ImapValue } from '../wire/types.js';
import type { Session } from '../session/session.js';
import { ImapUrlError, parseImapUrl } from '../imap-url.js';
import { applyPartial, sectionBytes } from '../fetch/section.js';
import { RefusedWithArgs } from '../session/errors.js';

/** NO [BADURL url] (RFC 4469 §6; the URL is echoed when it is printable and holds no "]"). */
export function badUrl(url: string, why: string): Refused {
  const args: ImapValue[] = /^[\x21-\x5c\x5e-\x7e]+$/.test(url) ? [{ atom: url }] : [];
  return args.length ? new RefusedWithArgs(`Bad URL: ${why}`, 'BADURL', args) : new Refused(`Bad URL: ${why}`, 'BADURL');
}

/** Bytes a session's user may read through an IMAP URL (no URLAUTH check: the user owns them). */
export async function readOwnUrl(session: Session, url: string): Promise<Buffer> {
  let parsed;
  try {
    parsed = parseImapUrl(url);
  } catch (err) {
    if (err instanceof ImapUrlError) throw badUrl(url, err.message);
    throw err;
  }
  const account = session.account!;
  if (parsed.user !== undefined && parsed.user.toLowerCase() !== account.email.toLowerCase()) throw badUrl(url, 'another user');
  if (parsed.host !== undefined && parsed.host !== session.config.hostname.toLowerCase()) throw badUrl(url, 'another server');
  const mailbox = await session.store.getMailbox(account.id, parsed.mailbox.toUpperCase() === 'INBOX' ? 'INBOX' : parsed.mailbox);
  if (!mailbox) throw badUrl(url, 'no such mailbox');
  if (parsed.uidValidity !== undefined && parsed.uidValidity !== mailbox.uidValidity) throw badUrl(url, 'UIDVALIDITY changed');
  const [record] = await session.store.getMessages(mailbox.id, [parsed.uid], { index: true });
  if (!record) throw badUrl(url, 'no such message');
  const raw = await session.store.readBlob(record.blobHash);
  const whole = parsed.section.part.length === 0 && parsed.section.text === undefined;
  const bytes = whole ? raw : sectionBytes(raw, record.index, parsed.section);
  if (bytes === null) throw badUrl(url, 'no such section');
  return applyPartial(bytes, parsed.partial);
}

/** Build a CATENATE message; refuses TOOBIG as soon as the parts exceed `limit`. */
export async function catenate(session: Session, parts: readonly CatenatePart[], limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for (const p of parts) {
    const chunk = p.kind === 'text' ? p.data : await readOwnUrl(session, p.url);
    size += chunk.length;
    if (size > limit) throw new Refused(`Message larger than ${limit} bytes`, 'TOOBIG');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
