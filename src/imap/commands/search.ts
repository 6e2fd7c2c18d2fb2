// SEARCH and UID SEARCH (RFC 9051 §6.4.4, RFC 3501 §6.4.4) with ESEARCH return options (RFC 4731)
// and SAVE / `$` (RFC 5182). IMAP4rev2 sessions always get ESEARCH (RFC 9051 §7.3.4).
// Charsets: UTF-8 and US-ASCII; others → NO [BADCHARSET (UTF-8 US-ASCII)].
// MODSEQ criterion (RFC 7162 §3.1.5): enables CONDSTORE; a non-empty result carries the highest
// modseq of the messages returned, `(MODSEQ n)` in SEARCH and `MODSEQ n` in ESEARCH (with only
// MIN/MAX asked for, of those two messages).
import type { ImapValue, SearchReturnOption } from '../wire/types.js';
import { esearchResult, savedResult } from '../search/esearch.js';
import { usesModseq } from '../search/search.js';
import { defineCommand, states } from '../session/command.js';
import { matchingMessages, type Match } from '../session/matching.js';
import { enableCondstore } from '../session/condstore.js';

function highestModseq(matches: readonly Match[], options: readonly SearchReturnOption[] | undefined): number {
  let pool: readonly Match[] = matches;
  const only = options && options.length > 0 && options.every((o) => o === 'MIN' || o === 'MAX' || o === 'SAVE');
  if (only && matches.length > 0) {
    const picked: Match[] = [];
    if (options.includes('MIN')) picked.push(matches[0]!);
    if (options.includes('MAX')) picked.push(matches[matches.length - 1]!);
    pool = picked;
  }
  let max = 0;
  for (const m of pool) if (m.record.modseq > max) max = m.record.modseq;
  return max;
}

export const search = defineCommand({
  names: ['SEARCH'],
  states: states.selected,
  async run(session, command) {
    const withModseq = usesModseq(command.program.key);
    if (withModseq) enableCondstore(session);
    const matches = await matchingMessages(session, command.program);
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
