// The relay rules, as pure functions (no store, no sockets): the session gathers the facts, these
// decide. "Never an open relay" (ARCHITECTURE.md): unauthenticated clients outside My Networks
// reach our own domains only; authenticated sessions and My Networks may send anywhere.
//
// Open-relay probes are refused by construction, not by pattern lists:
// - "user%remote@local", "remote!user@local", "\"user@remote\"@local": the domain is ours, so the
//   whole local part is looked up as a mailbox and never reinterpreted: 550 5.1.1 unless it exists.
// - "@local:user@remote": source routes are ignored (RFC 5321 §4.1.2, Appendix C), so the
//   recipient is user@remote: relaying.
// - "user@[192.0.2.1]": an address literal is never one of our domains: relaying.
// - "user@remote.": not RFC 5321 Domain syntax, refused by the parser (501 5.1.3).
// - "User@ExAmPle.COM": domains compare case-insensitively; the mailbox must still exist.
// - Our own domain in MAIL FROM proves nothing: the decision never looks at the sender.
import type { MailPath } from '../wire/path.js';
import { reply, type Reply } from '../wire/reply.js';

export interface RelayFacts {
  /** The session authenticated (AUTH, RFC 4954). */
  authenticated: boolean;
  /** The client address is in My Networks. */
  trustedNetwork: boolean;
  /** The recipient's domain is one of ours (store domains; always false for address literals). */
  localDomain: boolean;
}

export type RelayDecision = { kind: 'local' } | { kind: 'remote' } | { kind: 'refuse'; reply: Reply };

export const relayDenied = (): Reply => reply('554 5.7.1', 'Relaying denied');

/** Where may this recipient go? (Deliberately ignores the source route and the sender.) */
export function relayDecision(recipient: MailPath, facts: RelayFacts): RelayDecision {
  if (facts.localDomain && !recipient.addressLiteral) return { kind: 'local' };
  if (facts.authenticated || facts.trustedNetwork) return { kind: 'remote' };
  return { kind: 'refuse', reply: relayDenied() };
}

/** What delivery/ said about a local address, reduced to what the decision needs. */
export type LocalResolution =
  | { kind: 'unknown' }
  /** `remote`: alias targets outside our domains (forwarded through the queue). */
  | { kind: 'local'; accounts: Array<{ quota: number; usedBytes: number }>; remote: string[] }
  | { kind: 'remote' };

/**
 * A local recipient: exists? room for the message? (RFC 5321 §4.2.2, RFC 3463 §3.2).
 * `declaredSize` is MAIL FROM SIZE= (RFC 1870), or 0 when not given.
 */
export function localRecipientDecision(resolution: LocalResolution, declaredSize: number): { kind: 'accept' } | { kind: 'refuse'; reply: Reply } {
  if (resolution.kind !== 'local' || (resolution.accounts.length === 0 && resolution.remote.length === 0)) {
    return { kind: 'refuse', reply: reply('550 5.1.1', 'Mailbox unavailable: no such user here') };
  }
  // An alias that forwards somewhere always has a taker.
  if (resolution.remote.length > 0) return { kind: 'accept' };
  const limited = resolution.accounts.filter((a) => a.quota > 0);
  // Refuse only when no target account could take it (an alias may fan out to several).
  if (limited.length === resolution.accounts.length) {
    if (limited.every((a) => declaredSize > a.quota)) {
      return { kind: 'refuse', reply: reply('552 5.2.2', 'Message larger than the mailbox quota') };
    }
    if (limited.every((a) => a.usedBytes + declaredSize >= a.quota)) {
      return { kind: 'refuse', reply: reply('452 4.2.2', 'Mailbox full, try again later') };
    }
  }
  return { kind: 'accept' };
}

/** The lookup key of a recipient: canonical address, lower-cased (mailboxes are case-insensitive here). */
export function recipientKey(path: MailPath): string {
  return path.address.toLowerCase();
}
