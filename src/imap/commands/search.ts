// SEARCH and UID SEARCH (RFC 9051 §6.4.4, RFC 3501 §6.4.4) with ESEARCH return options (RFC 4731),
// SAVE and `$` (RFC 5182) and PARTIAL (RFC 9394 §3.1). IMAP4rev2 sessions always get ESEARCH
// (RFC 9051 §7.3.4). Charsets: UTF-8 and US-ASCII; others → NO [BADCHARSET (UTF-8 US-ASCII)].
// MODSEQ criterion (RFC 7162 §3.1.5): enables CONDSTORE; a non-empty result carries the highest
// modseq of the messages returned, `(MODSEQ n)` in SEARCH and `MODSEQ n` in ESEARCH (with only
// MIN/MAX/PARTIAL asked for, of those messages: esearch.ts selectedResults).
// SAVE: a SEARCH that fails with NO empties the saved result (RFC 5182 §2.1, RFC 9051 §6.4.4.1).
import { Refused } from '../../shared/errors.js';
import type { ImapValue, SearchProgram, SearchReturnOption } from '../wire/types.js';
import { esearchResult, savedResult, selectedResults } from '../search/esearch.js';
import { usesModseq } from '../search/search.js';
import { defineCommand, states } from '../session/command.js';
import { matchingMessages, type Match } from '../session/matching.js';
import { enableCondstore } from '../session/condstore.js';
import type { Session } from '../session/session.js';

/** The highest modseq of the messages the return options select (`sorted`: matches are in sort order). */
export function highestModseq(matches: readonly Match[], returnOptions: readonly SearchReturnOption[] | undefined, options: { sorted?: boolean } = {}): number {
  const returned = new Set(selectedResults(matches.map((m) => m.uid), returnOptions ?? [], options));
  let max = 0;
  for (const m of matches) if (returned.has(m.uid) && m.record.modseq > max) max = m.record.modseq;
  return max;
}

/** Matches for a program; a refusal (NO) of a SAVE search empties `$` first (RFC 5182 §2.1). */
export async function matchesForSave(session: Session, program: SearchProgram): Promise<Match[]> {
  try {
    return await matchingMessages(session, program);
  } catch (err) {
    if (err instanceof Refused && program.returnOptions?.includes('SAVE')) session.savedSearch = [];
    throw err;
  }
}

export const search = defineCommand({
  names: ['SEARCH'],
  states: states.selected,
  async run(session, command) {
    const withModseq = usesModseq(command.program.key);
    if (withModseq) enableCondstore(session);
    const matches = await matchesForSave(session, command.program);
    const numbers = matches.map((m) => (command.uid ? m.uid : m.seq));
    const options: SearchReturnOption[] | undefined = command.program.returnOptions ?? (session.rev2 ? ['ALL'] : undefined);
    const modseq: ImapValue[] = withModseq && matches.length > 0 ? [{ atom: 'MODSEQ' }, highestModseq(matches, options)] : [];
    if (options === undefined) {
      session.data([{ atom: 'SEARCH' }, ...numbers, ...(modseq.length ? [modseq] : [])]);
      return;
    }
    const keep = savedResult(matches.map((m) => m.uid), options);
    if (keep) session.savedSearch = keep;
    // RFC 5182 §2.1: SAVE alone produces no ESEARCH response.
    if (options.length === 1 && options[0] === 'SAVE') return;
    session.data([{ atom: 'ESEARCH' }, [{ atom: 'TAG' }, command.tag], ...(command.uid ? [{ atom: 'UID' }] : []), ...esearchResult(numbers, options), ...modseq]);
  },
});
