// SORT and THREAD (RFC 5256), UID forms; DISPLAYFROM / DISPLAYTO sort keys (RFC 5957). The search
// program is evaluated like SEARCH's (session/matching.ts); ordering and threading are
// search/sort.ts's.
// ESORT (RFC 5267 §3): SORT RETURN (…) answers in an ESEARCH response, MIN and MAX being the first
// and last message in sort order and ALL listing the messages in sort order (only ascending runs
// become ranges, §3.2); PARTIAL (RFC 9394) takes its window of the sorted list; SAVE keeps the
// selected messages for `$` (RFC 5182 §1: SORT is a command based on SEARCH). A MODSEQ criterion
// adds MODSEQ as in SEARCH (RFC 7162 §3.1.5). CONTEXT=SORT (RFC 5267 §4) is not offered.
import { BadCommand } from '../../shared/errors.js';
import type { ImapValue } from '../wire/types.js';
import { esearchResult, savedResult } from '../search/esearch.js';
import { usesModseq } from '../search/search.js';
import { renderThreads, sortMessages, threadMessages, type SortMessage } from '../search/sort.js';
import { defineCommand, states } from '../session/command.js';
import { enableCondstore } from '../session/condstore.js';
import { matchingMessages, type Match } from '../session/matching.js';
import { highestModseq, matchesForSave } from './search.js';

function sortable(matches: Match[]): SortMessage[] {
  return matches.map((m) => ({ seq: m.seq, uid: m.uid, size: m.record.size, internalDate: m.record.internalDate, index: m.record.index }));
}

export const sort = defineCommand({
  names: ['SORT'],
  states: states.selected,
  async run(session, command) {
    const options = command.program.returnOptions;
    const withModseq = options !== undefined && usesModseq(command.program.key);
    if (withModseq) enableCondstore(session);
    const matches = await matchesForSave(session, command.program);
    const sorted = sortMessages(sortable(matches), command.criteria);
    const numbers = sorted.map((m) => (command.uid ? m.uid : m.seq));
    if (options === undefined) {
      session.data([{ atom: 'SORT' }, ...numbers]);
      return;
    }
    const keep = savedResult(sorted.map((m) => m.uid), options, { sorted: true });
    if (keep) session.savedSearch = keep;
    if (options.length === 1 && options[0] === 'SAVE') return;
    const byUid = new Map(matches.map((m) => [m.uid, m]));
    const inOrder = sorted.map((m) => byUid.get(m.uid)!);
    const modseq: ImapValue[] = withModseq && matches.length > 0 ? [{ atom: 'MODSEQ' }, highestModseq(inOrder, options, { sorted: true })] : [];
    session.data([{ atom: 'ESEARCH' }, [{ atom: 'TAG' }, command.tag], ...(command.uid ? [{ atom: 'UID' }] : []), ...esearchResult(numbers, options, { sorted: true }), ...modseq]);
  },
});

export const thread = defineCommand({
  names: ['THREAD'],
  states: states.selected,
  async run(session, command) {
    const algorithm = command.algorithm.toUpperCase();
    if (algorithm !== 'ORDEREDSUBJECT' && algorithm !== 'REFERENCES') throw new BadCommand(`Unsupported threading algorithm ${command.algorithm}`);
    const threads = threadMessages(sortable(await matchingMessages(session, command.program)), algorithm);
    session.data([{ atom: 'THREAD' }, ...renderThreads(threads, { uid: command.uid })]);
  },
});
