// UIDONLY (RFC 9586): once the client has enabled it, message sequence numbers are gone from the
// session's wire. This file is the request half, checked once in dispatch.ts: a command that
// names messages by sequence number is answered `BAD [UIDREQUIRED]` before it runs (RFC 9586 §3).
// The response half (UIDFETCH instead of FETCH, VANISHED instead of EXPUNGE, no [UNSEEN n]) is
// shaped in session.ts.
//
// What counts as a sequence number: the set of FETCH, STORE, SEARCH, COPY, MOVE, SORT and THREAD
// without the UID prefix; a bare sequence-set search key anywhere in a SEARCH / SORT / THREAD
// program (`UID SEARCH 1:5`); the known-sequence-set of QRESYNC's seq-match-data in SELECT /
// EXAMINE. `$` (RFC 5182) stands for saved messages, not numbers, so `UID SEARCH $` stays legal;
// `*` inside a UID set is the highest UID, not a sequence number.
import type { Command, SearchKey } from '../wire/types.js';

const SEQUENCE_COMMANDS = new Set(['FETCH', 'STORE', 'SEARCH', 'COPY', 'MOVE', 'SORT', 'THREAD']);

/** Whether a search key uses message sequence numbers (a bare sequence-set other than `$`). */
function keyUsesSequence(key: SearchKey, depth = 0): boolean {
  if (depth > 256) return false;
  switch (key.key) {
    case 'SEQUENCE':
      return !('saved' in key.set);
    case 'NOT':
      return keyUsesSequence(key.operand, depth + 1);
    case 'OR':
      return keyUsesSequence(key.left, depth + 1) || keyUsesSequence(key.right, depth + 1);
    case 'AND':
      return key.operands.some((k) => keyUsesSequence(k, depth + 1));
    default:
      return false;
  }
}

/**
 * Why this command cannot run once UIDONLY is enabled (the text of the BAD [UIDREQUIRED]
 * response), or null when it uses no message sequence number.
 */
export function sequenceNumberUse(command: Command): string | null {
  if (SEQUENCE_COMMANDS.has(command.name) && 'uid' in command && !command.uid) {
    return `${command.name} uses message sequence numbers; use UID ${command.name}`;
  }
  if ((command.name === 'SEARCH' || command.name === 'SORT' || command.name === 'THREAD') && keyUsesSequence(command.program.key)) {
    return 'Message sequence numbers in search criteria; use UID sets';
  }
  if ((command.name === 'SELECT' || command.name === 'EXAMINE') && command.qresync?.seqMatch) {
    return 'QRESYNC sequence match data uses message sequence numbers';
  }
  return null;
}
