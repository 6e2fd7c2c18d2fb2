// Helpers shared by command handlers: resolving sequence sets against the view, looking up
// mailboxes by name, checking mailbox names, and formatting UID sets (RFC 4315 §3 uid-set).
import { BadCommand, Refused } from '../../shared/errors.js';
import type { Mailbox, Store } from '../../store/store.js';
import type { SequenceSet } from '../wire/types.js';
import type { Session } from './session.js';
import type { ViewMessage } from './view.js';

/** Hierarchy delimiter of every Pigeon mailbox name (store.ts Mailbox.name). */
export const DELIMITER = '/';
/** Longest mailbox name accepted, in bytes. */
export const MAX_MAILBOX_NAME_BYTES = 1024;
/** Deepest hierarchy accepted. */
export const MAX_MAILBOX_DEPTH = 32;

/** Resolve a sequence set (or `$`, RFC 5182) against the selected view. */
export function resolveSet(session: Session, set: SequenceSet, byUid: boolean): ViewMessage[] {
  const view = session.selected;
  if ('saved' in set) {
    const out: ViewMessage[] = [];
    for (const uid of session.savedSearch) {
      const seq = view.seqOf(uid);
      if (seq) out.push({ seq, uid });
    }
    return out.sort((a, b) => a.seq - b.seq);
  }
  try {
    return view.resolve(set.ranges, byUid);
  } catch (err) {
    if (err instanceof RangeError) throw new BadCommand(err.message);
    throw err;
  }
}

/** "INBOX" in any case is INBOX (RFC 9051 §5.1); a trailing delimiter is dropped. */
export function normaliseName(name: string): string {
  let n = name;
  while (n.length > 1 && n.endsWith(DELIMITER)) n = n.slice(0, -1);
  if (n.toUpperCase() === 'INBOX') return 'INBOX';
  if (n.toUpperCase().startsWith('INBOX' + DELIMITER)) return 'INBOX' + n.slice(5);
  return n;
}

/** Refuse names Pigeon does not create: empty levels, wildcards, control characters, too long. */
export function checkNewName(name: string): void {
  if (name === '' || Buffer.byteLength(name) > MAX_MAILBOX_NAME_BYTES) throw new Refused('Mailbox name is empty or too long', 'CANNOT');
  const levels = name.split(DELIMITER);
  if (levels.length > MAX_MAILBOX_DEPTH) throw new Refused('Mailbox hierarchy too deep', 'LIMIT');
  if (levels.some((l) => l === '')) throw new Refused('Mailbox name has an empty level', 'CANNOT');
  if (/[*%\u0000-\u001f\u007f]/.test(name)) throw new Refused('Mailbox name has a wildcard or control character', 'CANNOT');
}

export async function findMailbox(session: Session, name: string): Promise<Mailbox | undefined> {
  return session.store.getMailbox(session.account!.id, normaliseName(name));
}

/** The mailbox or NO [NONEXISTENT] (or the given code: TRYCREATE for APPEND/COPY/MOVE). */
export async function requireMailbox(session: Session, name: string, code: 'NONEXISTENT' | 'TRYCREATE' = 'NONEXISTENT'): Promise<Mailbox> {
  const mailbox = await findMailbox(session, name);
  if (!mailbox) throw new Refused('No such mailbox', code);
  return mailbox;
}

/** Create the missing parents of a name (RFC 9051 §6.3.4: superior names are created as needed). */
export async function createParents(store: Store, accountId: number, name: string): Promise<void> {
  const levels = name.split(DELIMITER);
  for (let i = 1; i < levels.length; i++) {
    const parent = levels.slice(0, i).join(DELIMITER);
    if (!(await store.getMailbox(accountId, parent))) {
      try {
        await store.createMailbox(accountId, parent);
      } catch (err) {
        if (!(err instanceof Refused && err.code === 'ALREADYEXISTS')) throw err;
      }
    }
  }
}

/** Compact a list of numbers into an IMAP set "1:3,5" (input in any order). */
export function compactUidSet(numbers: readonly number[]): string {
  if (numbers.length === 0) return '';
  const parts: string[] = [];
  let start = numbers[0]!;
  let prev = start;
  const flush = (): void => {
    parts.push(start === prev ? String(start) : `${start}:${prev}`);
  };
  for (let i = 1; i < numbers.length; i++) {
    const n = numbers[i]!;
    if (n === prev + 1) prev = n;
    else {
      flush();
      start = prev = n;
    }
  }
  flush();
  return parts.join(',');
}

/** Most flags (system flags and keywords) one STORE or APPEND may name. */
export const MAX_FLAGS = 128;
/** Longest keyword accepted, in characters. */
export const MAX_KEYWORD_LENGTH = 128;

/** Flags a client may set: \Recent cannot be set (RFC 9051 §2.3.2); bounded in number and size. */
export function settableFlags(flags: readonly string[]): string[] {
  if (flags.length > MAX_FLAGS) throw new Refused(`At most ${MAX_FLAGS} flags at once`, 'LIMIT');
  if (flags.some((f) => f.length > MAX_KEYWORD_LENGTH)) throw new Refused(`Keywords are limited to ${MAX_KEYWORD_LENGTH} characters`, 'LIMIT');
  return flags.filter((f) => f.toLowerCase() !== '\\recent');
}

export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];
