// URLAUTH (RFC 4467): authorised IMAP URLs that let another party (the submission server for BURL,
// RFC 4468) read one message or part without the owner's password. No protocol state: the IMAP
// commands (commands/urlauth.ts) and the SMTP BURL handler both call this module, with the store.
//
// Invariants:
// - The token is HMAC-SHA256 over the URL rump (up to and including `;URLAUTH=access`, RFC 4467
//   §3) with the mailbox's access key (Store.mailboxAccessKey), written as 64 hex digits; the
//   mechanism is INTERNAL (§7). Tokens are compared in constant time.
// - RESETKEY replaces the key, so every URL signed before stops working; so does a new UIDVALIDITY.
// - Access (§3): "submit+user" only for the submission server acting for that user; "user+name"
//   only for that IMAP user; "authuser" for any authenticated user; "anonymous" for anyone.
// - An expired URL (`;EXPIRE=`) or a URL naming another server is refused.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Store } from '../store/store.js';
import { ImapUrlError, parseImapUrl, type ImapUrl } from './imap-url.js';
import { applyPartial, sectionBytes } from './fetch/section.js';

/** Why an authorised URL was refused (the caller answers NIL, BADURL or a 554). */
export class UrlauthError extends Error {}

export const URLAUTH_MECHANISM = 'INTERNAL';

/** RFC 4467 §3 access identifiers. */
const ACCESS = /^(?:(submit|user)\+(.+)|authuser|anonymous)$/i;

/** The INTERNAL token of a rump. */
export function urlauthToken(key: Buffer, rump: string): string {
  return createHmac('sha256', key).update(rump, 'utf8').digest('hex');
}

function parse(url: string): ImapUrl {
  try {
    return parseImapUrl(url);
  } catch (err) {
    if (err instanceof ImapUrlError) throw new UrlauthError(err.message);
    throw err;
  }
}

/**
 * GENURLAUTH (RFC 4467 §7.1): sign `rumpUrl` (an absolute URL for `owner.email` ending in
 * `;URLAUTH=access`) and return the full authorised URL.
 */
export async function generateUrlauth(store: Store, rumpUrl: string, options: { owner: { id: number; email: string }; hostname: string }): Promise<string> {
  const u = parse(rumpUrl);
  if (u.user === undefined || u.host === undefined) throw new UrlauthError('an absolute imap://user@host URL is required');
  if (u.user.toLowerCase() !== options.owner.email.toLowerCase()) throw new UrlauthError('the URL names another user');
  if (u.host !== options.hostname.toLowerCase()) throw new UrlauthError('the URL names another server');
  if (u.access === undefined || u.rump === undefined) throw new UrlauthError('no ;URLAUTH=access');
  if (u.token !== undefined) throw new UrlauthError('the URL is already authorised');
  if (!ACCESS.test(u.access)) throw new UrlauthError('unknown access identifier');
  const mailbox = await store.getMailbox(options.owner.id, mailboxName(u.mailbox));
  if (!mailbox) throw new UrlauthError('no such mailbox');
  if (u.uidValidity !== undefined && u.uidValidity !== mailbox.uidValidity) throw new UrlauthError('UIDVALIDITY changed');
  const key = await store.mailboxAccessKey(mailbox.id);
  return `${u.rump}:internal:${urlauthToken(key, u.rump)}`;
}

/** Who is asking to read an authorised URL. */
export type UrlauthReader = { submitUser: string } | { imapUser: string };

function accessAllowed(access: string, reader: UrlauthReader): boolean {
  const m = ACCESS.exec(access);
  if (!m) return false;
  if (!m[1]) return true; // authuser (every reader here is authenticated) or anonymous
  const who = m[2]!.toLowerCase();
  if (m[1].toLowerCase() === 'submit') return 'submitUser' in reader && reader.submitUser.toLowerCase() === who;
  return 'imapUser' in reader && reader.imapUser.toLowerCase() === who;
}

function mailboxName(name: string): string {
  return name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
}

/** Verify an authorised URL and return the bytes it names; throws UrlauthError when refused. */
export async function readUrlauth(store: Store, url: string, options: { reader: UrlauthReader; hostname?: string; now?: number }): Promise<Buffer> {
  const u = parse(url);
  if (u.user === undefined || u.host === undefined || u.access === undefined || u.rump === undefined) throw new UrlauthError('not an authorised URL');
  if (u.mechanism !== URLAUTH_MECHANISM || u.token === undefined) throw new UrlauthError('unknown URLAUTH mechanism');
  if (options.hostname !== undefined && u.host !== options.hostname.toLowerCase()) throw new UrlauthError('the URL names another server');
  if (u.expire !== undefined && u.expire <= (options.now ?? Date.now())) throw new UrlauthError('the URL has expired');
  if (!accessAllowed(u.access, options.reader)) throw new UrlauthError('access not granted to this reader');
  const owner = await store.getAccountByEmail(u.user.toLowerCase());
  if (!owner) throw new UrlauthError('no such user');
  const mailbox = await store.getMailbox(owner.id, mailboxName(u.mailbox));
  if (!mailbox) throw new UrlauthError('no such mailbox');
  if (u.uidValidity !== undefined && u.uidValidity !== mailbox.uidValidity) throw new UrlauthError('UIDVALIDITY changed');
  const expected = Buffer.from(urlauthToken(await store.mailboxAccessKey(mailbox.id), u.rump), 'hex');
  const given = Buffer.from(u.token, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new UrlauthError('bad token');
  const [record] = await store.getMessages(mailbox.id, [u.uid], { index: true });
  if (!record) throw new UrlauthError('no such message');
  const raw = await store.readBlob(record.blobHash);
  const whole = u.section.part.length === 0 && u.section.text === undefined;
  const bytes = whole ? raw : sectionBytes(raw, record.index, u.section);
  if (bytes === null) throw new UrlauthError('no such section');
  return applyPartial(bytes, u.partial);
}

/**
 * For the SMTP BURL handler (RFC 4468 §3): the bytes an authorised URL names, read on behalf of
 * the authenticated submission user `submitUser`. Throws UrlauthError when the URL is refused.
 */
export function resolveUrlauth(store: Store, url: string, options: { submitUser: string; hostname?: string; now?: number }): Promise<Buffer> {
  return readUrlauth(store, url, {
    reader: { submitUser: options.submitUser },
    ...(options.hostname !== undefined ? { hostname: options.hostname } : {}),
    ...(options.now !== undefined ? { now: options.now } : {}),
  });
}
