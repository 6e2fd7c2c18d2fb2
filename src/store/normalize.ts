// Input normalisation shared by the store engines: domain names, addresses, mailbox names, flags,
// CIDRs, app passwords and the queue's signing flag. Every function bounds its input and throws BadCommand with a clear message on garbage,
// so no engine ever stores a value another layer cannot handle. (Engine-independent: every
// engine imports this file as is.)
import { domainToASCII } from 'node:url';
import ipaddr from 'ipaddr.js';
import { BadCommand } from '../shared/errors.js';
import type { NewQueuedMessage, SpecialUse } from './store.js';

export const limits = {
  domainLength: 253,
  addressLength: 254,
  localPartLength: 64,
  mailboxNameBytes: 1000,
  mailboxDepth: 32,
  flagLength: 128,
  flagsPerMessage: 128,
  aliasTargets: 1000,
  queueRecipients: 10_000,
} as const;

const labelRe = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** "Example.COM" → "example.com"; Unicode names become IDNA A-labels. */
export function normalizeDomain(input: string): string {
  if (typeof input !== 'string' || input.length === 0 || input.length > limits.domainLength * 4) {
    throw new BadCommand('domain name missing or too long');
  }
  const trimmed = input.trim().replace(/\.$/, '');
  const ascii = domainToASCII(trimmed.toLowerCase());
  if (!ascii || ascii.length > limits.domainLength) throw new BadCommand(`invalid domain name ${JSON.stringify(input)}`);
  for (const label of ascii.split('.')) {
    if (!labelRe.test(label)) throw new BadCommand(`invalid domain name ${JSON.stringify(input)}`);
  }
  return ascii;
}

export interface NormalizedAddress {
  /** local@domain with the local part as given and the domain lower-cased. */
  address: string;
  /** The whole address lower-cased: addresses are looked up case-insensitively (local part too). */
  key: string;
  local: string;
  domain: string;
}

// Printable, no space, no specials that need quoting (we do not accept quoted local parts).
const localRe = /^[^\s@<>()[\]\\,;:"\u0000-\u001f\u007f]+$/u;

export function normalizeAddress(input: string): NormalizedAddress {
  if (typeof input !== 'string' || input.length === 0 || input.length > limits.addressLength * 4) {
    throw new BadCommand('address missing or too long');
  }
  const text = input.trim();
  const at = text.lastIndexOf('@');
  if (at <= 0 || at === text.length - 1) throw new BadCommand(`invalid address ${JSON.stringify(input)}`);
  const local = text.slice(0, at);
  if (Buffer.byteLength(local) > limits.localPartLength || !localRe.test(local) || local.startsWith('.') || local.endsWith('.') || local.includes('..')) {
    throw new BadCommand(`invalid address ${JSON.stringify(input)}`);
  }
  const domain = normalizeDomain(text.slice(at + 1));
  const address = `${local}@${domain}`;
  if (Buffer.byteLength(address) > limits.addressLength) throw new BadCommand('address too long');
  return { address, key: address.toLowerCase(), local, domain };
}

/** An alias address: "local@domain" or "@domain" (catch-all), lower-cased. */
export function normalizeAliasAddress(input: string): { address: string; domain: string } {
  if (typeof input === 'string' && input.trim().startsWith('@')) {
    const domain = normalizeDomain(input.trim().slice(1));
    return { address: `@${domain}`, domain };
  }
  const n = normalizeAddress(input);
  return { address: n.key, domain: n.domain };
}

/**
 * Mailbox names: UTF-8, "/" delimited, no empty level, no control characters, no LIST wildcards
 * (RFC 9051 §5.1). "INBOX" is case-insensitive, also as the first level ("inbox/x" → "INBOX/x").
 */
export function normalizeMailboxName(input: string): string {
  if (typeof input !== 'string' || input.length === 0) throw new BadCommand('empty mailbox name');
  if (Buffer.byteLength(input) > limits.mailboxNameBytes) throw new BadCommand('mailbox name too long');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f*%]/u.test(input)) throw new BadCommand(`invalid character in mailbox name ${JSON.stringify(input)}`);
  const levels = input.split('/');
  if (levels.length > limits.mailboxDepth) throw new BadCommand('mailbox name too deep');
  if (levels.some((l) => l.length === 0)) throw new BadCommand(`empty hierarchy level in mailbox name ${JSON.stringify(input)}`);
  if (levels[0]!.toUpperCase() === 'INBOX') levels[0] = 'INBOX';
  return levels.join('/');
}

/** All ancestors of a name, outermost first ("a/b/c" → ["a", "a/b"]). */
export function parentNames(name: string): string[] {
  const levels = name.split('/');
  const out: string[] = [];
  for (let i = 1; i < levels.length; i++) out.push(levels.slice(0, i).join('/'));
  return out;
}

const systemFlags = new Map(['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'].map((f) => [f.toLowerCase(), f]));
// RFC 9051 §9 atom-specials: ( ) { SP CTL % * " \ ]  — a keyword is an atom.
const keywordRe = /^[\x21\x23-\x24\x26-\x27\x2b-\x5b\x5e-\x7a\x7c\x7e]+$/;

/**
 * System flags get their canonical spelling; `\Recent` is dropped (never stored); keywords are kept
 * as given and deduplicated case-insensitively (first spelling wins).
 */
export function normalizeFlags(flags: readonly string[] | undefined): string[] {
  if (flags === undefined) return [];
  if (!Array.isArray(flags)) throw new BadCommand('flags must be a list');
  if (flags.length > limits.flagsPerMessage) throw new BadCommand('too many flags');
  const out: string[] = [];
  const seen = new Set<string>();
  for (const f of flags) {
    if (typeof f !== 'string' || f.length === 0 || f.length > limits.flagLength) throw new BadCommand('invalid flag');
    let flag: string;
    if (f.startsWith('\\')) {
      const lower = f.toLowerCase();
      if (lower === '\\recent') continue;
      const sys = systemFlags.get(lower);
      if (!sys) throw new BadCommand(`unknown system flag ${f}`);
      flag = sys;
    } else {
      if (!keywordRe.test(f)) throw new BadCommand(`invalid keyword ${JSON.stringify(f)}`);
      flag = f;
    }
    const key = flag.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(flag);
  }
  return out;
}

export function isKeyword(flag: string): boolean {
  return !flag.startsWith('\\');
}

/** Flags as stored: one space-separated text column. */
export function parseFlagText(text: string): string[] {
  return text === '' ? [] : text.split(' ');
}

export function flagText(flags: readonly string[]): string {
  return flags.join(' ');
}

export function hasSeen(flags: readonly string[]): boolean {
  return flags.includes('\\Seen');
}

const specialUses = new Set<string>(['\\Sent', '\\Drafts', '\\Trash', '\\Junk', '\\Archive', '\\All', '\\Flagged', '\\Important']);

export function normalizeSpecialUse(value: string | null | undefined): SpecialUse | null {
  if (value === null || value === undefined) return null;
  for (const s of specialUses) if (s.toLowerCase() === String(value).toLowerCase()) return s as SpecialUse;
  throw new BadCommand(`unknown special-use attribute ${JSON.stringify(value)}`);
}

/** "192.0.2.7/24" → "192.0.2.0/24"; a bare address gets /32 or /128; IPv4-mapped IPv6 becomes IPv4. */
export function normalizeCidr(input: string): string {
  if (typeof input !== 'string' || input.length === 0 || input.length > 100) throw new BadCommand('CIDR missing or too long');
  const text = input.trim();
  const [host = '', prefix] = text.split('/', 2);
  // ipaddr.js also takes "1.2.3" or "0x7f.1": only dotted quads and RFC 4291 text here.
  if (host.includes('%') || !(host.includes(':') ? ipaddr.IPv6.isValid(host) : ipaddr.IPv4.isValidFourPartDecimal(host)) || (prefix !== undefined && !/^\d{1,3}$/.test(prefix))) {
    throw new BadCommand(`invalid CIDR ${JSON.stringify(input)}`);
  }
  try {
    let [addr, bits] = text.includes('/') ? ipaddr.parseCIDR(text) : (() => {
      const a = ipaddr.parse(text);
      return [a, a.kind() === 'ipv4' ? 32 : 128] as [ipaddr.IPv4 | ipaddr.IPv6, number];
    })();
    if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() && bits >= 96) {
      addr = (addr as ipaddr.IPv6).toIPv4Address();
      bits -= 96;
    }
    const cidr = `${addr.toString()}/${bits}`;
    const network = addr.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr);
    return `${network.toString()}/${bits}`;
  } catch {
    throw new BadCommand(`invalid CIDR ${JSON.stringify(input)}`);
  }
}

/** A new app password's label, lookup key and hash, checked before any engine stores them. */
export function checkAppPasswordInput(input: { name: string; lookup: string; passwordHash: string }): void {
  if (typeof input.name !== 'string' || input.name.length < 1 || input.name.length > 100 || /[\u0000-\u001f\u007f]/.test(input.name)) throw new BadCommand('an app password name is 1 to 100 printable characters');
  if (typeof input.lookup !== 'string' || !/^[0-9a-f]{1,64}$/.test(input.lookup)) throw new BadCommand('invalid app password lookup key');
  if (typeof input.passwordHash !== 'string' || input.passwordHash.length === 0 || input.passwordHash.length > 1024) throw new BadCommand('invalid password hash');
}

/**
 * Whether a message being queued is DKIM-signed when sent. Omitted: the rule of rows queued
 * before the flag existed (migration 'queue dkim sign'): signed when submitted by an account or a DSN.
 */
export function queuedDkimSign(message: Pick<NewQueuedMessage, 'dkimSign' | 'accountId' | 'sender'>): boolean {
  if (message.dkimSign !== undefined && typeof message.dkimSign !== 'boolean') throw new BadCommand('invalid DKIM signing flag');
  return message.dkimSign ?? (message.accountId !== null || message.sender === '');
}
