// Local delivery: THE one function that puts an accepted message into recipients' mailboxes.
// SMTP (inbound and the queue's local hop), `pigeon deliver`, push activation mails and imports
// all call deliverMessage; nothing else appends delivered mail.
//
// Invariants:
// - The message is parsed once (indexMessage) and each distinct account gets exactly one copy per
//   call, even when several recipients (or alias paths) reach it.
// - Recipient resolution, in order: an account with that address; an alias (targets expanded
//   recursively, at most maxAliasDepth levels, loops cut); the domain's catch-all alias "@domain".
//   Addresses are compared case-insensitively (the store's rule). Plus-addressing is not done.
// - Alias targets outside the local domains are not delivered here: they are returned in
//   `remote` so the caller queues them (deliverFromCli enqueues them itself).
// - Each copy is durable when deliverMessage returns (Store.appendMessage is).
import type { Account, Store } from '../store/store.js';
import type { MessageIndex } from '../mail/types.js';
import { indexMessage } from '../mail/parse.js';
import { Refused, errorMessage } from '../shared/errors.js';

/** Alias chains longer than this are refused as misconfiguration. */
export const maxAliasDepth = 10;
/** Addresses one recipient may expand to (accounts + remote). */
export const maxExpansion = 1000;

export interface DeliveryResult {
  recipient: string;
  status: 'delivered' | 'unknown' | 'over-quota' | 'failed';
  /** Where the copies went (a copy shared with another recipient of the same call is listed again). */
  deliveries: Array<{ accountId: number; mailboxId: number; uid: number }>;
  /** Alias targets outside the local domains: the caller must queue these. */
  remote: string[];
  /** Human-readable outcome (for logs and SMTP/CLI replies). */
  message: string;
}

export interface DeliveryInput {
  raw: Buffer;
  recipients: string[];
  /** Folder to deliver into when the account has it; INBOX otherwise. */
  mailbox?: string;
  flags?: string[];
  internalDate?: number;
  /** Pre-computed index (else computed here, once). */
  index?: MessageIndex;
  /** Told the results and the seconds taken (metrics); must not throw. */
  onResults?: (results: readonly DeliveryResult[], seconds: number) => void;
}

export type Resolution = { kind: 'local'; accounts: Account[]; remote: string[] } | { kind: 'unknown' } | { kind: 'remote' };

class AliasError extends Error {}

function splitAddress(address: string): { local: string; domain: string } | undefined {
  if (typeof address !== 'string' || address.length === 0 || address.length > 1024) return undefined;
  const text = address.trim().replace(/^<(.*)>$/, '$1');
  const at = text.lastIndexOf('@');
  if (at <= 0 || at === text.length - 1) return undefined;
  return { local: text.slice(0, at), domain: text.slice(at + 1).toLowerCase() };
}

/**
 * Who receives mail sent to `address`: local accounts (after alias and catch-all expansion, with
 * any remote alias targets in `remote`), unknown (a local domain without such a user), or remote
 * (not one of our domains). Throws Refused('…', 'LIMIT') for an alias chain deeper than maxAliasDepth.
 */
export async function resolveRecipient(store: Store, address: string): Promise<Resolution> {
  const parts = splitAddress(address);
  if (!parts) return { kind: 'unknown' };
  if (!(await store.getDomain(parts.domain))) return { kind: 'remote' };
  const accounts = new Map<number, Account>();
  const remote = new Set<string>();
  const seen = new Set<string>();
  const isLocal = new Map<string, boolean>();
  const localDomain = async (domain: string) => {
    let v = isLocal.get(domain);
    if (v === undefined) isLocal.set(domain, (v = (await store.getDomain(domain)) !== undefined));
    return v;
  };

  const visit = async (addr: string, depth: number): Promise<void> => {
    if (depth > maxAliasDepth) throw new AliasError(`alias chain for ${address} is deeper than ${maxAliasDepth} levels`);
    const key = addr.toLowerCase();
    if (seen.has(key)) return; // a loop, or a second path to the same address
    seen.add(key);
    if (seen.size > maxExpansion) throw new AliasError(`${address} expands to more than ${maxExpansion} addresses`);
    const p = splitAddress(addr);
    if (!p) return;
    if (!(await localDomain(p.domain))) {
      remote.add(addr);
      return;
    }
    const account = await store.getAccountByEmail(addr);
    if (account) {
      accounts.set(account.id, account);
      return;
    }
    const alias = (await store.getAlias(addr)) ?? (seen.has(`@${p.domain}`) ? undefined : await store.getAlias(`@${p.domain}`));
    if (!alias) return;
    if (alias.address.startsWith('@')) seen.add(alias.address);
    for (const target of alias.targets) await visit(target, depth + 1);
  };

  try {
    await visit(`${parts.local}@${parts.domain}`, 0);
  } catch (err) {
    if (err instanceof AliasError) throw new Refused(err.message, 'LIMIT');
    throw err;
  }
  if (accounts.size === 0 && remote.size === 0) return { kind: 'unknown' };
  return { kind: 'local', accounts: [...accounts.values()], remote: [...remote] };
}

/** Delivers to every recipient; one result per recipient, in order. Never throws for a recipient's failure. */
export async function deliverMessage(store: Store, input: DeliveryInput): Promise<DeliveryResult[]> {
  const started = process.hrtime.bigint();
  const results = await deliverAll(store, input);
  try {
    input.onResults?.(results, Number(process.hrtime.bigint() - started) / 1e9);
  } catch {
    // An observer's failure never fails a delivery.
  }
  return results;
}

async function deliverAll(store: Store, input: DeliveryInput): Promise<DeliveryResult[]> {
  const index = input.index ?? indexMessage(input.raw);
  const copies = new Map<number, { accountId: number; mailboxId: number; uid: number }>();
  const results: DeliveryResult[] = [];
  for (const recipient of input.recipients) {
    const result: DeliveryResult = { recipient, status: 'failed', deliveries: [], remote: [], message: '' };
    results.push(result);
    let resolution: Resolution;
    try {
      resolution = await resolveRecipient(store, recipient);
    } catch (err) {
      result.message = errorMessage(err);
      continue;
    }
    if (resolution.kind === 'unknown') {
      result.status = 'unknown';
      result.message = `no such user here: ${recipient}`;
      continue;
    }
    if (resolution.kind === 'remote') {
      result.message = `${recipient} is not in a local domain`;
      continue;
    }
    result.remote = resolution.remote;
    let delivered = 0;
    const problems: string[] = [];
    let overQuota = 0;
    for (const account of resolution.accounts) {
      const done = copies.get(account.id);
      if (done) {
        result.deliveries.push(done);
        delivered += 1;
        continue;
      }
      try {
        const mailbox = (input.mailbox !== undefined ? await store.getMailbox(account.id, input.mailbox) : undefined) ?? (await store.getMailbox(account.id, 'INBOX'));
        if (!mailbox) throw new Error(`account ${account.email} has no INBOX`);
        const appended = await store.appendMessage(mailbox.id, {
          raw: input.raw,
          index,
          ...(input.flags ? { flags: input.flags } : {}),
          ...(input.internalDate !== undefined ? { internalDate: input.internalDate } : {}),
        });
        const copy = { accountId: account.id, mailboxId: mailbox.id, uid: appended.uid };
        copies.set(account.id, copy);
        result.deliveries.push(copy);
        delivered += 1;
      } catch (err) {
        if (err instanceof Refused && err.code === 'OVERQUOTA') overQuota += 1;
        problems.push(`${account.email}: ${errorMessage(err)}`);
      }
    }
    const forwarded = result.remote.length > 0 ? `; to queue for ${result.remote.join(', ')}` : '';
    if (problems.length === 0) {
      result.status = 'delivered';
      result.message = `delivered to ${resolution.accounts.map((a) => a.email).join(', ') || 'no local mailbox'}${forwarded}`;
    } else if (delivered > 0 || result.remote.length > 0) {
      // Some copies are stored: retrying the recipient would duplicate them, so it counts as delivered.
      result.status = 'delivered';
      result.message = `delivered in part; not to ${problems.join('; ')}${forwarded}`;
    } else {
      result.status = overQuota === problems.length ? 'over-quota' : 'failed';
      result.message = problems.join('; ');
    }
  }
  return results;
}

/** sysexits.h codes, as dovecot-lda and other MDAs use them. */
export const exitCodes = { ok: 0, noUser: 67, tempFail: 75 } as const;

export interface CliDeliveryInput {
  recipients: string[];
  mailbox?: string;
  raw: Buffer;
  /** Envelope sender for remote alias targets queued by this command ("" = null sender). */
  sender?: string;
  /** Where per-recipient outcomes go (default: standard error). */
  report?: (line: string) => void;
}

/**
 * `pigeon deliver`: delivers and returns the exit code: 0 all delivered, 75 (EX_TEMPFAIL) when a
 * recipient is over quota or failed (the MTA retries later), else 67 (EX_NOUSER) when a recipient
 * is unknown. Remote alias targets are put on the outbound queue.
 */
export async function deliverFromCli(store: Store, input: CliDeliveryInput): Promise<number> {
  const report = input.report ?? ((line: string) => process.stderr.write(`${line}\n`));
  let results: DeliveryResult[];
  try {
    results = await deliverMessage(store, { raw: input.raw, recipients: input.recipients, ...(input.mailbox !== undefined ? { mailbox: input.mailbox } : {}) });
  } catch (err) {
    report(`delivery failed: ${errorMessage(err)}`);
    return exitCodes.tempFail;
  }
  const remote = [...new Set(results.flatMap((r) => r.remote))];
  let queueFailed = false;
  if (remote.length > 0) {
    try {
      await store.enqueueMessage({
        sender: input.sender ?? '',
        recipients: remote.map((address) => ({ address, notify: [], orcpt: null })),
        raw: input.raw,
        dsnRet: null,
        dsnEnvid: null,
        accountId: null,
        // Mail handed over by the MTA in front comes from outside: forwarded as it is, not signed by us.
        dkimSign: false,
      });
    } catch (err) {
      queueFailed = true;
      report(`queueing for ${remote.join(', ')} failed: ${errorMessage(err)}`);
    }
  }
  for (const r of results) report(`${r.recipient}: ${r.status}: ${r.message}`);
  if (queueFailed || results.some((r) => r.status === 'over-quota' || r.status === 'failed')) return exitCodes.tempFail;
  if (results.some((r) => r.status === 'unknown')) return exitCodes.noUser;
  return exitCodes.ok;
}
