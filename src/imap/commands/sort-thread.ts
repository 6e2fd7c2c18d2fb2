// SORT and THREAD (RFC 5256), UID forms; DISPLAYFROM / DISPLAYTO sort keys (RFC 5957). The search
// program is evaluated like SEARCH's (session/matching.ts); ordering and threading are
// search/sort.ts's. ESORT (RFC 5267) is not offered: RETURN options are refused.
import { BadCommand } from '../../shared/errors.js';
import { renderThreads, sortMessages, threadMessages, type SortMessage } from '../search/sort.js';
import { defineCommand, states } from '../session/command.js';
import { matchingMessages, type Match } from '../session/matching.js';

function sortable(matches: Match[]): SortMessage[] {
  return matches.map((m) => ({ seq: m.seq, uid: m.uid, size: m.record.size, internalDate: m.record.internalDate, index: m.record.index }));
}

export const sort = defineCommand({
  names: ['SORT'],
  states: states.selected,
  async run(session, command) {
    if (command.program.returnOptions !== undefined) throw new BadCommand('SORT RETURN (ESORT) is not supported');
    const sorted = sortMessages(sortable(await matchingMessages(session, command.program)), command.criteria);
    session.data([{ atom: 'SORT' }, ...sorted.map((m) => (command.uid ? m.uid : m.seq))]);
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
