// EXPUNGE (RFC 9051 §6.4.3) and UID EXPUNGE (RFC 4315 §2.1): remove \Deleted messages (in the UID
// set for UID EXPUNGE), announcing each with `* n EXPUNGE`. Pending changes from other sessions
// are announced first, so the numbers the client gets are consistent.
import { Refused } from '../../shared/errors.js';
import { defineCommand, states } from '../session/command.js';
import { resolveSet } from '../session/helpers.js';

export const expunge = defineCommand({
  names: ['EXPUNGE'],
  states: states.selected,
  async run(session, command) {
    const view = session.selected;
    if (view.readOnly) throw new Refused('The mailbox is read-only', 'CANNOT');
    await session.sendUpdates({ allowExpunge: true, force: true });
    const wanted = command.uid ? new Set(resolveSet(session, command.set, true).map((m) => m.uid)) : null;
    const states = await session.store.listMessageStates(view.mailboxId);
    const uids = states.filter((s) => s.flags.includes('\\Deleted') && view.seqOf(s.uid) !== 0 && (!wanted || wanted.has(s.uid))).map((s) => s.uid);
    if (uids.length === 0) return;
    const gone = await session.store.expunge(view.mailboxId, uids);
    session.writeViewEvents(view.removeNow(gone));
  },
});
