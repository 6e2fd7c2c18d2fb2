// CONDSTORE and QRESYNC session state (RFC 7162): which one the client has enabled, explicitly
// with ENABLE or implicitly by a CONDSTORE-enabling command (§3.1: SELECT/EXAMINE (CONDSTORE),
// FETCH MODSEQ or CHANGEDSINCE, STORE UNCHANGEDSINCE, SEARCH MODSEQ, STATUS HIGHESTMODSEQ), and
// the VANISHED response (§3.2.10). Pigeon keeps mod-sequences for every mailbox, so NOMODSEQ
// (§3.1.2.2) is never sent.
import type { ImapValue, SequenceSet } from '../wire/types.js';
import { compactUidSet } from './helpers.js';
import type { Session } from './session.js';

export function condstoreOn(session: Session): boolean {
  return session.enabled.has('CONDSTORE');
}

export function qresyncOn(session: Session): boolean {
  return session.enabled.has('QRESYNC');
}

/** A CONDSTORE-enabling command ran (RFC 7162 §3.1). */
export function enableCondstore(session: Session): void {
  session.enabled.add('CONDSTORE');
}

/** `VANISHED [(EARLIER)] uid-set` (RFC 7162 §3.2.10); null when there is nothing to report. */
export function vanishedResponse(uids: readonly number[], options: { earlier: boolean }): ImapValue[] | null {
  if (uids.length === 0) return null;
  const set = compactUidSet([...uids].sort((a, b) => a - b));
  return options.earlier ? [{ atom: 'VANISHED' }, [{ atom: 'EARLIER' }], { atom: set }] : [{ atom: 'VANISHED' }, { atom: set }];
}

/** A predicate "this UID is in the set" for UIDs that may no longer exist (VANISHED filters);
 *  `*` stands for any UID above the other end (RFC 9051 §9: `*` is the largest UID in use). */
export function uidSetMatcher(set: SequenceSet, saved: readonly number[]): (uid: number) => boolean {
  if ('saved' in set) {
    const keep = new Set(saved);
    return (uid) => keep.has(uid);
  }
  const ranges = set.ranges.map((r) => {
    const a = r.start === '*' ? Infinity : r.start;
    const b = r.end === '*' ? Infinity : r.end;
    return a <= b ? [a, b] : [b, a];
  });
  return (uid) => ranges.some(([a, b]) => uid >= a! && uid <= b!);
}
