// COPY / UID COPY (RFC 9051 §6.4.7) and MOVE / UID MOVE (RFC 6851), with UIDPLUS COPYUID
// (RFC 4315 §3). MOVE is one store transaction; its COPYUID goes in an untagged OK before the
// EXPUNGEs (RFC 6851 §4.3), which are sent at once (they are this session's own).
import { Refused } from '../../shared/errors.js';
import { defineCommand, states } from '../session/command.js';
import { compactUidSet, requireMailbox, resolveSet } from '../session/helpers.js';

export const copyMove = defineCommand({
  names: ['COPY', 'MOVE'],
  states: states.selected,
  async run(session, command) {
    const view = session.selected;
    const target = await requireMailbox(session, command.mailbox, 'TRYCREATE');
    if (command.name === 'MOVE' && view.readOnly) throw new Refused('The mailbox is read-only', 'CANNOT');
    const messages = resolveSet(session, command.set, command.uid).filter((m) => !view.isExpunged(m.uid));
    if (messages.length === 0) return { text: `${command.name} completed (no messages)` };
    const uids = messages.map((m) => m.uid);
    const result =
      command.name === 'COPY'
        ? await session.store.copyMessages(view.mailboxId, uids, target.id)
        : await session.store.moveMessages(view.mailboxId, uids, target.id);
    if (result.mapping.length === 0) return { text: `${command.name} completed (no messages)` };
    const code = {
      code: 'COPYUID',
      args: [result.uidValidity, { atom: compactUidSet(result.mapping.map((p) => p.from)) }, { atom: compactUidSet(result.mapping.map((p) => p.to)) }],
    };
    if (command.name === 'COPY') return { code };
    session.status('OK', 'Moved', code);
    session.writeViewEvents(view.removeNow(result.mapping.map((p) => p.from)));
    return {};
  },
});
